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
    from relayer.alarms import Alarms
    from relayer.indexer import Indexer
    from relayer.outbox import Outbox
    from relayer.reads import MemberReads
    from relayer.replica import SenderWorker
    from relayer.roles import Roles
    from relayer.root_tree import Trees


@dataclass
class Context:
    settings: Settings
    db: Database
    chain: UnionChain
    signer: LocalAccount = field(repr=False)
    #: The key that pays for gasless claims when it is not the attester's.
    claim_signer: LocalAccount | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Context":
        redact.protect(settings)  # before anything can log or raise with a secret in it
        signer = settings.signer()
        redact.protect_key(bytes(signer.key))
        claim_signer = settings.claim_signer()
        if claim_signer is not None:
            redact.protect_key(bytes(claim_signer.key))
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
        return cls(settings=settings, db=db, chain=chain, signer=signer, claim_signer=claim_signer)

    @property
    def separate_claim_key(self) -> bool:
        return self.claim_signer is not None and self.claim_signer.address != self.signer.address

    @cached_property
    def outbox(self) -> "Outbox":
        """The attester key's outbox: epoch batches, and gasless claims unless a claim key is
        set."""
        from relayer.outbox import Outbox

        role = "attester" if self.separate_claim_key else "attester+claims"
        return Outbox(self.db, self.chain, self.signer, self.settings, role=role)

    @cached_property
    def claim_outbox(self) -> "Outbox":
        """The outbox that relays gasless claims: the claim key's own, or the attester's."""
        if not self.separate_claim_key:
            return self.outbox
        from relayer.outbox import Outbox

        assert self.claim_signer is not None
        return Outbox(
            self.db,
            self.chain,
            self.claim_signer,
            self.settings,
            role="claims",
            drives_unsigned=False,
        )

    def outboxes(self) -> list["Outbox"]:
        """Every outbox, one per key."""
        return [self.outbox, self.claim_outbox] if self.separate_claim_key else [self.outbox]

    @cached_property
    def alarms(self) -> "Alarms":
        from relayer.alarms import Alarms

        return Alarms(
            {
                "attester": self.settings.attester_alarm_balance,
                "claims": self.settings.claim_alarm_balance,
            }
        )

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

        return MemberReads(self.db, self.chain, self.settings.read_cache_seconds, self.trees)

    @cached_property
    def trees(self) -> "Trees":
        """Root mode: the trees members prove against, built from the stored reports."""
        from relayer.root_tree import Trees

        return Trees(self.db, self.settings.read_cache_seconds)

    @cached_property
    def roles(self) -> "Roles":
        """The sender and indexer roles among replicas (relayer.roles)."""
        from relayer.roles import roles_for

        claim_signer = self.claim_signer if self.separate_claim_key else None
        claims = None if claim_signer is None else claim_signer.address
        return roles_for(
            self.db, self.settings.chain_id, self.signer.address, self.chain.address, claims
        )

    @cached_property
    def sender(self) -> "SenderWorker":
        from relayer.replica import SenderWorker

        return SenderWorker(self)

    def close(self) -> None:
        if "roles" in self.__dict__:
            self.roles.close()
        self.db.dispose()
