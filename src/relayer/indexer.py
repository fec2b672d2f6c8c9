"""The indexer: follows the union's events into `chain_events`, and replays them in chain order.

**Writing.** `Indexer.run_once` reads logs from the block after the cursor up to
`head - confirmations`, in chunks of at most `CHUNK_BLOCKS` blocks, and stores each chunk's events
and the advanced `IndexerCursor` in one database transaction: a crash before the commit stores
neither (the chunk is read again), a crash after it stores both, so no event is lost or doubled.
The unique (block_number, log_index) constraint backs this up if two indexers race: the loser's
transaction rolls back and it resumes from the winner's cursor. Reorganisations deeper than the
confirmation depth are out of scope: blocks are stored only once buried under `confirmations`
blocks and are never revisited, so choose the depth by the chain's finality.

**Columns.** One row per event, `name` the contract's event name, `block_time` the block's
timestamp (UTC), addresses checksummed, bytes32 values `0x`-hex, uint256 values decimal text:

| event               | account | epoch | amount                      | extra       | license_id |
|---------------------|---------|-------|-----------------------------|-------------|------------|
| RevenueDeposited    | payer   |       | amount received, fee incl.  | fee         | licenseId  |
| SharesSet           | member  | epoch | the member's new shares     |             |            |
| AttributionPosted   |         | epoch | union's total shares after  | reportHash  |            |
| AttributionFinished |         | epoch | union's total shares        | reportHash  |            |
| Claimed             | member  |       | amount paid                 | recipient   |            |
| MemberLeft          | member  |       |                             |             |            |

`AttributionFinished` tells the replay below when revenue held during an epoch's posting was
split; it is stored as long as `relayer.chain.INDEXED_EVENTS` follows it.

**Reading.** `replay` walks the stored events in chain order and re-enacts how the contract
splits revenue: the net of each deposit (amount - fee) goes to the members pro rata to the shares
in force, except that revenue arriving while no member holds shares, or while an epoch's
attribution is being posted, is held and split when the epoch is finished. It yields the
distributions (with the epoch whose shares split them and the deposits they contain) and the
share changes of the members asked about. It is an attribution estimate: the contract accounts in
fractions of a unit and rounds per claim, so per-member figures can differ from it by a few base
units.
"""

import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from requests.exceptions import RequestException
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception

from relayer.chain import INDEXED_EVENTS, UnionChain
from relayer.db import ChainEvent, Database, IndexerCursor
from relayer.errors import RelayerError

log = logging.getLogger(__name__)

#: Most blocks one `eth_getLogs` call asks for (many providers refuse wider ranges).
CHUNK_BLOCKS = 2_000
#: The single cursor row's id.
CURSOR_ID = 1
#: Whether the index holds `AttributionFinished`: without it the replay cannot tell when an
#: epoch's posting ended, and splits revenue by the shares in force when it arrived.
FOLLOWS_FINISH = "AttributionFinished" in INDEXED_EVENTS


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _row(event: Any, block_time: datetime) -> ChainEvent | None:
    """The `chain_events` row for a decoded web3 event (see the module docstring)."""
    name, args = event["event"], event["args"]
    row = ChainEvent(
        name=name,
        block_number=int(event["blockNumber"]),
        log_index=int(event["logIndex"]),
        tx_hash=_hex(HexBytes(event["transactionHash"])),
        block_time=block_time,
    )
    if name == "RevenueDeposited":
        row.account = to_checksum_address(args["payer"])
        row.amount, row.extra = str(args["amount"]), str(args["fee"])
        row.license_id = _hex(args["licenseId"])
    elif name == "SharesSet":
        row.account = to_checksum_address(args["member"])
        row.epoch, row.amount = int(args["epoch"]), str(args["shares"])
    elif name in ("AttributionPosted", "AttributionFinished"):
        row.epoch, row.amount = int(args["epoch"]), str(args["totalShares"])
        row.extra = _hex(args["reportHash"])
    elif name == "Claimed":
        row.account = to_checksum_address(args["member"])
        row.amount, row.extra = str(args["amount"]), to_checksum_address(args["to"])
    elif name == "MemberLeft":
        row.account = to_checksum_address(args["member"])
    else:
        return None
    return row


class Indexer:
    """Follows the union's events into the database, `confirmations` blocks behind the head."""

    def __init__(
        self,
        db: Database,
        chain: UnionChain,
        *,
        confirmations: int,
        first_block: int,
        poll_interval: float = 0.5,
        chunk_blocks: int = CHUNK_BLOCKS,
    ) -> None:
        if confirmations < 0 or first_block < 0 or not 1 <= chunk_blocks <= CHUNK_BLOCKS:
            raise ValueError("confirmations and first_block must be >= 0, chunks 1..2000 blocks")
        self.db = db
        self.chain = chain
        self.confirmations = confirmations
        self.first_block = first_block
        self.poll_interval = poll_interval
        self.chunk_blocks = chunk_blocks

    def cursor(self) -> int | None:
        """The last block fully stored, or None before the first chunk."""
        with self.db.session() as session:
            row = session.get(IndexerCursor, CURSOR_ID)
            return None if row is None else row.block_number

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Store every confirmed event not stored yet; returns how many were stored."""
        head = int(self.chain.w3.eth.block_number)
        safe_head = head - self.confirmations
        stored = 0
        cursor = self.cursor()
        if cursor is not None and cursor > head:
            log.warning("indexed to block %d but the chain is at %d: was it reset?", cursor, head)
        while not (stop is not None and stop.is_set()):
            start = self.first_block if cursor is None else max(cursor + 1, self.first_block)
            if start > safe_head:
                break
            end = min(start + self.chunk_blocks - 1, safe_head)
            try:
                count = self._store_chunk(cursor, start, end)
            except IntegrityError:
                if self.cursor() == cursor:  # no race: the rows and the cursor disagree
                    raise
                count = None
            if count is None:
                log.warning("blocks from %d were stored by another indexer; resuming", start)
                cursor = self.cursor()
                continue
            log.debug("indexed blocks %d..%d: %d events", start, end, count)
            stored += count
            cursor = end
        if stored:
            log.info("indexed %d events up to block %d", stored, cursor)
        return stored

    def _store_chunk(self, expected_cursor: int | None, start: int, end: int) -> int | None:
        """Store blocks [start, end] and move the cursor to `end`, in one transaction. Returns
        None (storing nothing) if the cursor is no longer `expected_cursor`."""
        events = self.chain.events(start, end)
        times = {
            number: datetime.fromtimestamp(
                int(self.chain.w3.eth.get_block(number)["timestamp"]), UTC
            )
            for number in sorted({int(e["blockNumber"]) for e in events})
        }
        with self.db.session() as session:
            row = session.get(IndexerCursor, CURSOR_ID, with_for_update=True)
            if (None if row is None else row.block_number) != expected_cursor:
                return None
            rows = [r for e in events if (r := _row(e, times[int(e["blockNumber"])])) is not None]
            session.add_all(rows)
            if row is None:
                session.add(IndexerCursor(id=CURSOR_ID, block_number=end))
            else:
                row.block_number = end
            return len(rows)

    def run(self, stop: threading.Event) -> None:
        """Index until `stop` is set, polling the chain every `poll_interval` seconds. Errors of
        the node or the database are logged and retried after a pause, never fatal."""
        log.info("indexer following %s from block %d", self.chain.address, self.first_block)
        while not stop.is_set():
            try:
                self.run_once(stop)
            except (Web3Exception, RequestException, SQLAlchemyError, RelayerError) as exc:
                log.warning("indexer: %s: %s; retrying", type(exc).__name__, exc)
                stop.wait(max(self.poll_interval, 5.0))
                continue
            stop.wait(self.poll_interval)
        log.info("indexer stopped at block %s", self.cursor())


# -------------------------------------------------------------------------------------------------
# Replay
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Member revenue split by the shares in force at `event` (a deposit, or the finish of an
    epoch that releases revenue held while it was posted)."""

    event: ChainEvent
    amount: int
    total_shares: int
    #: The epoch whose shares split it (shares exist only once an epoch was posted).
    epoch: int
    deposits: tuple[ChainEvent, ...]


@dataclass(frozen=True)
class SharesChanged:
    """A followed member's shares changed (attestation, or 0 by `leave` with `left` set)."""

    event: ChainEvent
    account: str
    shares: int
    epoch: int
    left: bool


@dataclass
class _Union:
    total: int = 0
    epoch: int | None = None
    posting: bool = False
    held: int = 0
    held_deposits: list[ChainEvent] = field(default_factory=list)
    shares: dict[str, int] = field(default_factory=dict)


REPLAYED = ("RevenueDeposited", "AttributionPosted", "AttributionFinished", "MemberLeft")


def load_events(session: Session, accounts: Collection[str] = ()) -> list[ChainEvent]:
    """The events `replay` needs, in chain order: the union-wide ones, and the share changes of
    `accounts` and of every member who left (their shares leave the total)."""
    leavers = set(
        session.scalars(select(ChainEvent.account).where(ChainEvent.name == "MemberLeft"))
    )
    followed = {a for a in (*accounts, *leavers) if a}
    query = (
        select(ChainEvent)
        .where(
            or_(
                ChainEvent.name.in_(REPLAYED),
                (ChainEvent.name == "SharesSet") & ChainEvent.account.in_(followed),
            )
        )
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )
    return list(session.scalars(query))


def replay(
    events: Sequence[ChainEvent], accounts: Collection[str] = ()
) -> Iterator[Distribution | SharesChanged]:
    """Re-enact the contract's revenue split over `events` (from `load_events`), yielding each
    distribution and each share change of `accounts`. Pure: no I/O."""
    union = _Union()
    wanted = set(accounts)
    for index, event in enumerate(events):
        if event.name == "RevenueDeposited":
            union.held += int(event.amount or 0) - int(event.extra or 0)
            union.held_deposits.append(event)
            if union.total and not union.posting:
                yield _release(union, event)
        elif event.name == "AttributionPosted":
            if FOLLOWS_FINISH and (union.epoch is None or (event.epoch or 0) > union.epoch):
                union.posting = True
            union.epoch, union.total = event.epoch, int(event.amount or 0)
        elif event.name == "AttributionFinished":
            union.posting = False
            union.total = int(event.amount or 0)
            if union.total and union.held_deposits:
                yield _release(union, event)
        elif event.name == "SharesSet" and event.account is not None:
            new = int(event.amount or 0)
            old = union.shares.get(event.account, 0)
            union.shares[event.account] = new
            following = events[index + 1] if index + 1 < len(events) else None
            left = (
                following is not None
                and following.name == "MemberLeft"
                and following.tx_hash == event.tx_hash
                and following.account == event.account
            )
            if left:  # leave() changes the total without an AttributionPosted
                union.total -= old
            if event.account in wanted:
                yield SharesChanged(event, event.account, new, int(event.epoch or 0), left)


def _release(union: _Union, event: ChainEvent) -> Distribution:
    distribution = Distribution(
        event, union.held, union.total, union.epoch or 0, tuple(union.held_deposits)
    )
    union.held, union.held_deposits = 0, []
    return distribution
