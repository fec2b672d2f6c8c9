"""The relayer's one transaction sender. Every transaction the attester key signs goes through
here, so its nonces stay gapless and a crash at any point can be resumed.

A transaction is an `OutboxTx` row, written before anything is signed:

    pending ──sign──▶ signed ──broadcast──▶ sent ──receipt──▶ confirmed | failed

- *pending*: recorded, no nonce yet. Gas is estimated first; a revert fails the row without
  spending a nonce and holds back the later rows of the same epoch (batches build on each other;
  rows of other epochs and purposes go on).
- *signed*: the nonce is assigned and the signed transaction stored (`TxAttempt`) in one commit,
  before it is broadcast. From here on the row owns its nonce for good.
- *sent*: broadcast. With no receipt within `tx_timeout`, while the chain goes on making blocks,
  the same nonce is re-signed with higher fees; every attempt is stored before it is broadcast,
  and a receipt of any of them settles the row. Attempts share their nonce, so at most one of
  them is ever mined.
- *superseded*: set by `relayer.epochs` when a retry re-plans a failed or pending transaction of
  an epoch under a new row; the outbox never picks such a row up again.

The states are `relayer.states.TxStatus`.

A node that refuses a broadcast (an underfunded key, a full pool) is a fault of the sender, not a
price problem: the row keeps its nonce and its fee, an alarm is raised (`alarm`, an error-level
log line), and the same attempt is re-broadcast with a doubling pause until the node takes it.
Only a refusal that says the fee is below the chain's base fee is answered with a new price, and
a re-priced attempt the node refuses is dropped, so refusals never ratchet the fee up. Every
wait has a deadline (`confirm_timeout`): past it the row is left in flight for the next call.

Resuming after a crash needs no special call: `process()` in a new process meets the signed and
sent rows first (they are older than any pending row), looks for a receipt of each of their
attempts, re-broadcasts the latest one if none is mined, and fails a row only when the signer's
nonce has moved past it and none of its attempts has a receipt for a whole `tx_timeout` (another
transaction used the nonce).
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import TxReceipt

from relayer.chain import UnionChain
from relayer.db import Database, Epoch, OutboxTx, TxAttempt
from relayer.errors import ChainError, RelayerError, Reverted
from relayer.sender import Fees, Refused, Sender, SignedTx
from relayer.settings import Settings
from relayer.states import IN_FLIGHT, UNFINISHED_TX, EpochStatus, TxPurpose, TxStatus

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Tries at storing a nonce when another process keeps taking the one computed.
NONCE_RETRIES = 3
#: Least time between two alarm lines about the same refused transaction.
ALARM_REPEAT_SECONDS = 60.0

#: `on_stage(stage, row)` hook: "signed" (stored, not broadcast yet), "sent" (broadcast, also
#: after a resumed re-broadcast) and "repriced" (a higher-fee attempt broadcast).
StageHook = Callable[[str, OutboxTx], None]
ProgressHook = Callable[[OutboxTx], None]


#: `fence()`: whether this process may still send (it holds the sender role, checked with the
#: database); once it answers False nothing more is signed or broadcast.
Fence = Callable[[], bool]


@dataclass(frozen=True)
class _Drive:
    on_stage: StageHook | None = None
    #: Set by `run`'s caller to stop waiting; the row in flight is left for the next call.
    stop: threading.Event | None = None
    fence: Fence | None = None
    #: Start pending rows only of epochs being posted (status "posting") or of no epoch.
    posting_only: bool = False

    def stage(self, stage: str, row: OutboxTx) -> None:
        if self.on_stage is not None:
            self.on_stage(stage, row)

    def check(self) -> None:
        """Raise _Stopped if asked to stop or no longer allowed to send: the row in hand is left
        as it is (pending, or signed and stored), for whichever process sends next."""
        if self.stop is not None and self.stop.is_set():
            raise _Stopped
        if self.fence is not None and not self.fence():
            raise _Stopped


class _Stopped(Exception):
    pass


class NotConfirmed(ChainError):
    """A transaction was not mined and buried (or not accepted by the node) within the deadline;
    it keeps its nonce and the next `process` resumes it."""

    code = "not_confirmed"
    status = 504


#: `on_stored(session, row)`: called in the database transaction that stores a submitted row, so
#: whatever the caller links to it is committed with it or not at all.
StoredHook = Callable[[Session, OutboxTx], None]


@dataclass
class SendAlarm:
    """Why the outbox cannot get a transaction accepted right now."""

    row: int
    nonce: int | None
    message: str
    since: float


def describe(row: OutboxTx) -> str:
    epoch = f" epoch {row.epoch}" if row.epoch is not None else ""
    batch = f" batch {row.batch}" if row.batch is not None else ""
    return f"outbox #{row.id} ({row.purpose}{epoch}{batch})"


class Outbox:
    """Signs, sends and follows the relayer's transactions to the union.

    Thread-safe: nonce assignment, signing, storing and broadcasting happen under one lock, so
    the API (`submit`) and a poster (`process`, `run`) can share an instance; one driver at a time
    waits for receipts. Across processes, a compare-and-set on the row status and the unique nonce
    column keep two senders from giving one row two nonces or one nonce two rows.
    """

    def __init__(
        self,
        db: Database,
        chain: UnionChain,
        signer: LocalAccount,
        settings: Settings,
        *,
        role: str = "attester",
        drives_unsigned: bool = True,
    ) -> None:
        self.db = db
        self.chain = chain
        self.settings = settings
        self.signer = signer
        self.sender = Sender(chain, signer, settings)
        #: What the key is for ("attester", "claims"), for logs and the status route.
        self.role = role
        #: Whether this outbox signs the pending rows (epoch batches, which have no sender yet).
        #: A separate claim key's outbox only follows the rows it signed itself.
        self.drives_unsigned = drives_unsigned
        #: Set while the node refuses this key's transactions; cleared when it takes one.
        self.alarm: SendAlarm | None = None
        self._alarm_logged = 0.0
        self._send_lock = threading.Lock()
        self._drive_lock = threading.Lock()

    def enqueue(
        self,
        session: Session,
        purpose: TxPurpose,
        data: HexStr,
        *,
        epoch: int | None = None,
        batch: int | None = None,
    ) -> OutboxTx:
        """Record a transaction to the union in the caller's session (committed with it)."""
        row = OutboxTx(
            purpose=purpose,
            epoch=epoch,
            batch=batch,
            to=self.chain.address,
            data=data,
            status=TxStatus.PENDING,
        )
        session.add(row)
        session.flush()
        return row

    def process(
        self,
        progress: ProgressHook | None = None,
        on_stage: StageHook | None = None,
        *,
        stop: threading.Event | None = None,
        fence: Fence | None = None,
        posting_only: bool = False,
    ) -> list[OutboxTx]:
        """Drive every unfinished row, in id order, to confirmed or failed; return those rows.

        Pending rows behind a failed row of the same epoch are held back (left pending, not
        returned). A node that refuses a broadcast outright raises ChainError; the row keeps its
        nonce and the next call resumes it. With `stop` set or `fence` answering False it
        returns early, before the next signature or broadcast. With `posting_only`, pending
        rows of an epoch not being posted (closed with `--no-post`, or failed) are not started.
        """
        return self._drive(
            UNFINISHED_TX, progress, _Drive(on_stage, stop, fence, posting_only=posting_only)
        )

    def confirm_pending(self, progress: ProgressHook | None = None) -> list[OutboxTx]:
        """Finish the rows that already hold a nonce (signed or sent, e.g. by `submit`), never
        starting a pending one."""
        return self._drive(IN_FLIGHT, progress, _Drive())

    def run(self, stop: threading.Event) -> None:
        """The background loop beside the API: `confirm_pending` until `stop` is set. Pending rows
        (epoch batches) are left to `process`, which an operator command runs."""
        while not stop.is_set():
            try:
                self._drive(IN_FLIGHT, None, _Drive(stop=stop))
            except (RelayerError, Web3Exception, SQLAlchemyError, OSError) as exc:
                log.warning("outbox: %s: %s", type(exc).__name__, exc)
            stop.wait(self.settings.poll_interval)

    def submit(
        self,
        purpose: TxPurpose,
        data: HexStr,
        *,
        gas: int | None = None,
        on_stored: StoredHook | None = None,
    ) -> str:
        """Sign and broadcast a transaction now (a gasless claim) and return its hash without
        waiting; `confirm_pending`, `run` or `process` finishes it. A call that would revert
        raises ChainError and records nothing. Once stored, the transaction is the relayer's to
        deliver: a node that refuses or loses the broadcast raises an alarm and the background
        loop re-broadcasts it, so the hash is returned all the same."""
        gas = self.sender.gas(data) if gas is None else gas

        def store(nonce: int) -> tuple[OutboxTx, SignedTx]:
            signed = self.sender.sign(
                self.chain.address, data, nonce, gas, self.sender.initial_fees()
            )
            row = OutboxTx(
                purpose=purpose,
                to=self.chain.address,
                data=data,
                status=TxStatus.SIGNED,
                sender=self.signer.address,
                nonce=nonce,
                gas=gas,
                tx_hash=signed.tx_hash,
                attempts=[_attempt(signed)],
            )
            with self.db.session() as session:
                session.add(row)
                session.flush()
                if on_stored is not None:
                    on_stored(session, row)
            return row, signed

        with self._send_lock:
            row, signed = self._with_fresh_nonce(store)
            try:
                self._broadcast(row, signed.raw)
            except (Refused, Web3Exception, OSError) as exc:
                log.error(
                    "%s: broadcast of nonce %d failed (%s); it stays signed and is re-sent",
                    describe(row),
                    row.nonce,
                    type(exc).__name__,
                )
                return signed.tx_hash
            self._set(row, status=TxStatus.SENT)
        log.info("%s: sent nonce %d as %s", describe(row), row.nonce, signed.tx_hash)
        return signed.tx_hash

    # ---------------------------------------------------------------------------------------------
    # Driving rows through their states
    # ---------------------------------------------------------------------------------------------

    def _drive(
        self, statuses: Sequence[TxStatus], progress: ProgressHook | None, drive: _Drive
    ) -> list[OutboxTx]:
        finished: list[OutboxTx] = []
        with self._drive_lock:
            after = 0
            while (row := self._next_row(statuses, after, drive.posting_only)) is not None:
                after = row.id
                try:
                    if row.status != TxStatus.PENDING:
                        done = self._resume(row, drive)
                    elif (blocker := self._failed_before(row)) is not None:
                        log.warning("%s held back: #%d of its epoch failed", describe(row), blocker)
                        continue
                    else:
                        done = self._start(row, drive)
                except _Stopped:
                    break
                finished.append(done)
                if progress is not None:
                    progress(done)
        return finished

    def _start(self, row: OutboxTx, drive: _Drive) -> OutboxTx:
        try:
            gas = self.sender.gas(HexStr(row.data))
        except Reverted as exc:  # the contract refused; a node failure propagates, row pending
            return self._fail(row, str(exc))
        refused = False
        drive.check()
        with self._send_lock:
            signed = self._with_fresh_nonce(lambda nonce: self._claim(row, nonce, gas))
            if signed is not None:
                drive.stage("signed", row)
                drive.check()
                try:
                    self._broadcast(row, signed.raw)
                except Refused:
                    refused = True  # waited out below, outside the lock
                else:
                    self._set(row, status=TxStatus.SENT)
        if signed is None:
            log.info("%s was signed by another sender; following it", describe(row))
            return self._resume(self._load(row.id), drive)
        if refused:
            return self._resume(row, drive)
        log.info("%s: sent nonce %d as %s", describe(row), row.nonce, signed.tx_hash)
        drive.stage("sent", row)
        return self._await(row, drive)

    def _resume(self, row: OutboxTx, drive: _Drive) -> OutboxTx:
        attempts = self._attempts(row.id)
        if not attempts:
            raise ChainError(f"{describe(row)} holds nonce {row.nonce} but no signed transaction")
        if self.sender.receipt(a.tx_hash for a in attempts) is None:
            log.info("%s: re-broadcasting nonce %d", describe(row), row.nonce)
            self._deliver(row, drive)
            if row.status != TxStatus.SENT:
                self._set(row, status=TxStatus.SENT)
            drive.stage("sent", row)
        return self._await(row, drive)

    def _deliver(self, row: OutboxTx, drive: _Drive) -> None:
        """Re-broadcast the row's latest attempt until the node takes it (or one is mined).

        A refusal is waited out at the same fee, with a doubling pause and an alarm, never
        answered with a higher fee, except a refusal that says the fee is below the base fee,
        which gets one new price at the market. Raises NotConfirmed at the deadline."""
        deadline = time.monotonic() + self.settings.confirm_timeout
        pause = self.settings.poll_interval
        while True:
            attempts = self._attempts(row.id)
            if self.sender.receipt(a.tx_hash for a in reversed(attempts)) is not None:
                return
            drive.check()
            try:
                self._broadcast(row, attempts[-1].raw)
                return
            except Refused as exc:
                if exc.stale_fee:
                    log.warning("%s: %s; re-pricing at the market", describe(row), exc)
                    if self._reprice(row, attempts[-1]):
                        return
            if time.monotonic() + pause > deadline:
                assert self.alarm is not None
                raise NotConfirmed(
                    f"{describe(row)}: the node refused nonce {row.nonce} for "
                    f"{self.settings.confirm_timeout:g} s ({self.alarm.message}); it stays "
                    "signed and is re-sent on the next run"
                )
            self._pause(drive, pause)
            pause = min(2 * pause, self.settings.send_backoff_max)

    def _broadcast(self, row: OutboxTx, raw: str) -> None:
        """Broadcast, keeping `alarm` in step: raised on a refusal, cleared when taken. The alarm
        line is logged when it is raised and then at most once a minute while it lasts."""
        try:
            self.sender.broadcast(raw)
        except Refused as exc:
            now = time.time()
            if self.alarm is None or self.alarm.row != row.id:
                self.alarm = SendAlarm(row.id, row.nonce, str(exc), now)
                logged = None
            else:
                self.alarm.message = str(exc)
                logged = self._alarm_logged
            if logged is None or now - logged >= ALARM_REPEAT_SECONDS:
                self._alarm_logged = now
                log.error(
                    "ALARM %s key %s: %s refused: %s; re-sent at the same fee until it is taken",
                    self.role,
                    self.signer.address,
                    describe(row),
                    exc,
                )
            raise
        if self.alarm is not None:
            log.warning(
                "%s key %s: the node takes transactions again", self.role, self.signer.address
            )
            self.alarm = None

    def _pause(self, drive: _Drive, seconds: float) -> None:
        if drive.stop is None:
            time.sleep(seconds)
        elif drive.stop.wait(seconds):
            raise _Stopped

    def _await(self, row: OutboxTx, drive: _Drive) -> OutboxTx:
        """Poll until an attempt of `row` is mined and buried, re-pricing when it takes too long."""
        assert row.nonce is not None
        last_broadcast = time.monotonic()
        deadline = last_broadcast + self.settings.confirm_timeout
        head_at_broadcast = self.chain.head()
        nonce_moved_at: float | None = None
        while True:
            if time.monotonic() > deadline:
                raise NotConfirmed(
                    f"{describe(row)}: nonce {row.nonce} not mined and buried under "
                    f"{self.settings.confirmations} block(s) within "
                    f"{self.settings.confirm_timeout:g} s (chain head {self.chain.head()}); it "
                    "stays in flight and the next run follows it"
                )
            used = self.sender.nonce("latest")
            attempts = self._attempts(row.id)
            receipt = self.sender.receipt(a.tx_hash for a in reversed(attempts))
            if receipt is not None:
                if self.sender.buried(receipt):
                    return self._settle(row, receipt)
            elif used > row.nonce:
                # A node may count a mined transaction before it serves its receipt, so the
                # nonce having moved is only proof that another transaction took it once no
                # receipt shows up for a whole `tx_timeout`.
                now = time.monotonic()
                nonce_moved_at = nonce_moved_at or now
                if now - nonce_moved_at >= self.settings.tx_timeout:
                    return self._fail(
                        row,
                        f"nonce {row.nonce} was used by another transaction from "
                        f"{self.sender.address}; none of the {len(attempts)} signed attempt(s) "
                        "of this row was mined",
                    )
            elif time.monotonic() - last_broadcast >= self.settings.tx_timeout:
                # A chain that makes no blocks (one that mines only on transactions, or a stalled
                # one) would not mine a dearer attempt either: re-price only while it moves.
                head = self.chain.head()
                drive.check()
                if head > head_at_broadcast and self._reprice(row, attempts[-1]):
                    drive.stage("repriced", row)
                last_broadcast, head_at_broadcast = time.monotonic(), head
            self._pause(drive, self.settings.poll_interval)
            drive.check()

    def _reprice(self, row: OutboxTx, latest: TxAttempt) -> bool:
        """Re-sign the row's nonce with higher fees, store the attempt, broadcast it. An attempt
        the node refuses is deleted again (it exists nowhere else), so the next re-price starts
        from what the node last took, not from a refused price: refusals never ratchet the fee."""
        assert row.nonce is not None
        assert row.gas is not None
        fees = self.sender.replacement_fees(
            Fees(latest.max_fee_per_gas, latest.max_priority_fee_per_gas)
        )
        if fees is None:
            log.warning("%s: nonce %d unmined at the fee cap; waiting", describe(row), row.nonce)
            return False
        with self._send_lock:
            signed = self.sender.sign(row.to, HexStr(row.data), row.nonce, row.gas, fees)
            attempt = _attempt(signed, row.id)
            try:
                with self.db.session() as session:
                    session.add(attempt)
                    session.execute(
                        update(OutboxTx).where(OutboxTx.id == row.id).values(tx_hash=signed.tx_hash)
                    )
            except IntegrityError:
                return False  # another sender stored (and sends) this very attempt
            row.tx_hash = signed.tx_hash
            try:
                self._broadcast(row, signed.raw)
            except Refused:
                with self.db.session() as session:
                    session.execute(delete(TxAttempt).where(TxAttempt.tx_hash == signed.tx_hash))
                    session.execute(
                        update(OutboxTx).where(OutboxTx.id == row.id).values(tx_hash=latest.tx_hash)
                    )
                row.tx_hash = latest.tx_hash
                return False
        log.info(
            "%s: re-sent nonce %d with max fee %d wei as %s",
            describe(row),
            row.nonce,
            fees.max_fee,
            signed.tx_hash,
        )
        return True

    def _settle(self, row: OutboxTx, receipt: TxReceipt) -> OutboxTx:
        values: dict[str, Any] = {
            "tx_hash": Web3.to_hex(receipt["transactionHash"]),
            "block_number": receipt["blockNumber"],
            "gas_used": receipt["gasUsed"],
        }
        if receipt["status"] == 1:
            values["status"] = TxStatus.CONFIRMED
            log.info("%s confirmed in block %d", describe(row), receipt["blockNumber"])
        else:
            values["status"] = TxStatus.FAILED
            values["error"] = self.sender.revert_reason(row.to, row.data, row.gas, receipt)
            log.warning("%s reverted on-chain: %s", describe(row), values["error"])
        self._set(row, **values)
        return self._load(row.id)

    def _fail(self, row: OutboxTx, error: str) -> OutboxTx:
        log.warning("%s failed: %s", describe(row), error)
        self._set(row, status=TxStatus.FAILED, error=error)
        return self._load(row.id)

    # ---------------------------------------------------------------------------------------------
    # Database
    # ---------------------------------------------------------------------------------------------

    def _next_nonce(self) -> int:
        """The larger of the next nonce on record and the chain's pending count: a nonce stored
        but not broadcast yet (a crash) is never handed out twice."""
        with self.db.session() as session:
            highest = session.scalar(
                select(func.max(OutboxTx.nonce)).where(OutboxTx.sender == self.signer.address)
            )
        return max(self.sender.nonce("pending"), 0 if highest is None else highest + 1)

    def _with_fresh_nonce(self, store: Callable[[int], T]) -> T:
        for _ in range(NONCE_RETRIES):
            nonce = self._next_nonce()
            try:
                return store(nonce)
            except IntegrityError:
                log.warning("nonce %d was taken by another process; taking the next", nonce)
        raise ChainError("could not reserve a nonce: another process keeps taking them")

    def _claim(self, row: OutboxTx, nonce: int, gas: int) -> SignedTx | None:
        """Sign `row` with `nonce` and store both if the row is still pending (compare-and-set
        against another sender); None if another sender took it."""
        signed = self.sender.sign(row.to, HexStr(row.data), nonce, gas, self.sender.initial_fees())
        values = {
            "status": TxStatus.SIGNED,
            "sender": self.signer.address,
            "nonce": nonce,
            "gas": gas,
            "tx_hash": signed.tx_hash,
        }
        with self.db.session() as session:
            result = session.execute(
                update(OutboxTx)
                .where(OutboxTx.id == row.id, OutboxTx.status == TxStatus.PENDING)
                .values(**values)
            )
            if cast(CursorResult[Any], result).rowcount != 1:
                return None
            session.add(_attempt(signed, row.id))
        for name, value in values.items():
            setattr(row, name, value)
        return signed

    def _set(self, row: OutboxTx, **values: Any) -> None:
        with self.db.session() as session:
            session.execute(update(OutboxTx).where(OutboxTx.id == row.id).values(**values))
        for name, value in values.items():
            setattr(row, name, value)

    def _load(self, row_id: int) -> OutboxTx:
        with self.db.session() as session:
            row = session.get(OutboxTx, row_id, options=[selectinload(OutboxTx.attempts)])
            assert row is not None
            return row

    def _attempts(self, row_id: int) -> list[TxAttempt]:
        with self.db.session() as session:
            query = select(TxAttempt).where(TxAttempt.outbox_id == row_id).order_by(TxAttempt.id)
            return list(session.scalars(query))

    def _next_row(
        self, statuses: Sequence[TxStatus], after: int, posting_only: bool = False
    ) -> OutboxTx | None:
        with self.db.session() as session:
            mine = OutboxTx.sender == self.signer.address
            if self.drives_unsigned:
                mine = mine | OutboxTx.sender.is_(None)
            query = (
                select(OutboxTx)
                .where(OutboxTx.status.in_(statuses), OutboxTx.id > after, mine)
                .order_by(OutboxTx.id)
                .limit(1)
            )
            if posting_only:
                # Rows holding a nonce are always followed (nonces stay gapless); a pending row
                # only once its epoch is to be posted.
                query = query.where(
                    or_(
                        OutboxTx.status != TxStatus.PENDING,
                        OutboxTx.epoch.is_(None),
                        OutboxTx.epoch.in_(
                            select(Epoch.number).where(Epoch.status == EpochStatus.POSTING)
                        ),
                    )
                )
            return session.scalars(query).first()

    def _failed_before(self, row: OutboxTx) -> int | None:
        """The id of a failed row of the same epoch before `row`, if any."""
        if row.epoch is None:
            return None
        with self.db.session() as session:
            query = select(OutboxTx.id).where(
                OutboxTx.epoch == row.epoch,
                OutboxTx.status == TxStatus.FAILED,
                OutboxTx.id < row.id,
            )
            return session.scalars(query.limit(1)).first()


def _attempt(signed: SignedTx, outbox_id: int | None = None) -> TxAttempt:
    attempt = TxAttempt(
        tx_hash=signed.tx_hash,
        raw=signed.raw,
        max_fee_per_gas=signed.fees.max_fee,
        max_priority_fee_per_gas=signed.fees.priority_fee,
    )
    if outbox_id is not None:
        attempt.outbox_id = outbox_id
    return attempt
