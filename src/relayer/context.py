"""Everything a request or a CLI command needs, built once from the settings."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount

from relayer import redact
from relayer.chain import UnionChain, connect
from relayer.db import Database
from relayer.migrate import require_current
from relayer.settings import Settings

if TYPE_CHECKING:
    from relayer.indexer import Indexer
    from relayer.outbox import Outbox
    from relayer.reads import MemberReads


@dataclass
class Context:
    settings: Settings
    db: Database
    chain: UnionChain
    signer: LocalAccount = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Context":
        redact.protect(settings)  # before anything can log or raise with a secret in it
        signer = settings.signer()
        redact.protect_key(bytes(signer.key))
        w3 = connect(settings.rpc_url, settings.chain_id)
        chain = UnionChain(w3, settings.union_address)
        db = Database(settings.database_url)
        try:
            # Before anything reads or writes a row: never run on a schema this code was not
            # written for (relayer.migrate says which command fixes it).
            require_current(db.engine)
        except BaseException:
            db.dispose()
            raise
        return cls(settings=settings, db=db, chain=chain, signer=signer)

    @cached_property
    def outbox(self) -> "Outbox":
        from relayer.outbox import Outbox

        return Outbox(self.db, self.chain, self.signer, self.settings)

    @cached_property
    def indexer(self) -> "Indexer":
        """The indexer as the settings configure it (confirmations, first block, polling)."""
        from relayer.indexer import Indexer

        settings = self.settings
        return Indexer(
            self.db,
            self.chain,
            confirmations=settings.confirmations,
            first_block=settings.first_block,
            poll_interval=settings.poll_interval,
        )

    @cached_property
    def member_reads(self) -> "MemberReads":
        from relayer.reads import MemberReads

        return MemberReads(self.db, self.chain, self.settings.read_cache_seconds)

    def close(self) -> None:
        self.db.dispose()
