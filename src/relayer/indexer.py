"""The indexer: follows the union's events into `chain_events` (read back by `relayer.replay`).

**Writing.** `Indexer.run_once` reads logs from the block after the cursor up to
`head - confirmations`, in chunks of at most `CHUNK_BLOCKS` blocks, and stores each chunk's events
and the advanced `IndexerCursor` in one database transaction: a crash before the commit stores
neither (the chunk is read again), a crash after it stores both, so no event is lost or doubled.
The unique (block_number, log_index) constraint backs this up if two indexers race: the loser's
transaction rolls back and it resumes from the winner's cursor. Reorganisations deeper than the
confirmation depth are out of scope: blocks are stored only once buried under `confirmations`
blocks and are never revisited, so choose the depth by the chain's finality.

**Columns.** One row per event, `name` the contract's event name, `block_time` the block's
timestamp (UTC), addresses checksummed, bytes32 values `0x`-hex, uint256 values decimal text,
each value in the column of its name:

- RevenueDeposited: `account` (the payer), `amount` (what arrived, fee included), `fee`,
  `license_id`;
- SharesSet: `account` (the member), `epoch`, `shares` (the member's new shares);
- AttributionPosted: `epoch`, `report_hash`, `members` (how many the batch set), `total_shares`
  (the union's, after the batch);
- AttributionFinished: `epoch`, `report_hash`, `total_shares`;
- RootPosted (root-mode unions): `epoch`, `report_hash`, `members` (the tree's leaves),
  `total_shares` (the root's);
- Claimed: `account` (the member), `amount` (paid), `recipient` (`to`);
- MemberLeft: `account` (the member).

Every other column of the row is NULL.

`AttributionFinished` tells the replay (`relayer.replay`) when revenue held during an epoch's
posting was split; it is stored as long as `relayer.chain.INDEXED_EVENTS` follows it.
"""

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from requests.exceptions import RequestException
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from web3.exceptions import Web3Exception

from relayer.chain import UnionChain
from relayer.db import CURSOR_ID, ChainEvent, Database, IndexerCursor
from relayer.errors import RelayerError

log = logging.getLogger(__name__)

#: Most blocks one `eth_getLogs` call asks for (many providers refuse wider ranges).
CHUNK_BLOCKS = 2_000


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
        row.amount, row.fee = str(args["amount"]), str(args["fee"])
        row.license_id = _hex(args["licenseId"])
    elif name == "SharesSet":
        row.account = to_checksum_address(args["member"])
        row.epoch, row.shares = int(args["epoch"]), str(args["shares"])
    elif name in ("AttributionPosted", "AttributionFinished"):
        row.epoch, row.total_shares = int(args["epoch"]), str(args["totalShares"])
        row.report_hash = _hex(args["reportHash"])
        if name == "AttributionPosted":
            row.members = int(args["members"])
    elif name == "RootPosted":
        row.epoch, row.total_shares = int(args["epoch"]), str(args["totalShares"])
        row.report_hash, row.members = _hex(args["reportHash"]), int(args["members"])
    elif name == "Claimed":
        row.account = to_checksum_address(args["member"])
        row.amount, row.recipient = str(args["amount"]), to_checksum_address(args["to"])
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
