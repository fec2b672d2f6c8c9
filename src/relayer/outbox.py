"""The relayer's one transaction sender. Every transaction the attester key signs goes through
here, so its nonces stay gapless and a crash at any point can be resumed.

A transaction is an `OutboxTx` row, written before anything is signed:

    pending ──sign──▶ signed ──broadcast──▶ sent ──receipt──▶ confirmed | failed

- *pending*: recorded, no nonce yet. Gas is estimated first; a revert fails the row without
  spending a nonce and holds back the later rows of the same epoch (batches build on each other;
  rows of other epochs and purposes go on).
- *signed*: the nonce is assigned and the signed transaction stored (`TxAttempt`) in one commit,
  before it is broadcast. From here on the row owns its nonce for good.
- *sent*: broadcast. With no receipt within `tx_timeout` the same nonce is re-signed with higher
  fees; every attempt is stored before it is broadcast, and a receipt of any of them settles the
  row. Attempts share their nonce, so at most one of them is ever mined.
- *superseded*: set by `relayer.epochs` when a retry re-plans a failed or pending transaction of
  an epoch under a new row; the outbox never picks such a row up again.

The states are `relayer.states.TxStatus`.

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
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import TxReceipt

from relayer.chain import UnionChain
from relayer.db import Database, OutboxTx, TxAttempt
from relayer.errors import ChainError, RelayerError, Reverted
from relayer.sender import Fees, Sender, SignedTx
from relayer.settings import Settings
from relayer.states import IN_FLIGHT, UNFINISHED_TX, TxPurpose, TxStatus

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Tries at storing a nonce when another process keeps taking the one computed.
NONCE_RETRIES = 3

#: `on_stage(stage, row)` hook: "signed" (stored, not broadcast yet), "sent" (broadcast, also
#: after a resumed re-broadcast) and "repriced" (a higher-fee attempt broadcast).
StageHook = Callable[[str, OutboxTx], None]
ProgressHook = Callable[[OutboxTx], None]


@dataclass(frozen=True)
class _Drive:
    on_stage: StageHook | None = None
    #: Set by `run`'s caller to stop waiting; the row in flight is left for the next call.
    stop: threading.Event | None = None

    def stage(self, stage: str, row: OutboxTx) -> None:
        if self.on_stage is not None:
            self.on_stage(stage, row)


class _Stopped(Exception):
    pass


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
        self, db: Database, chain: UnionChain, signer: LocalAccount, settings: Settings
    ) -> None:
        self.db = db
        self.chain = chain
        self.settings = settings
        self.signer = signer
        self.sender = Sender(chain, signer, settings)
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
        self, progress: ProgressHook | None = None, on_stage: StageHook | None = None
    ) -> list[OutboxTx]:
        """Drive every unfinished row, in id order, to confirmed or failed; return those rows.

        Pending rows behind a failed row of the same epoch are held back (left pending, not
        returned). A node that refuses a broadcast outright raises ChainError; the row keeps its
        nonce and the next call resumes it.
        """
        return self._drive(UNFINISHED_TX, progress, _Drive(on_stage))

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

    def submit(self, purpose: TxPurpose, data: HexStr) -> str:
        """Sign and broadcast a transaction now (a gasless claim) and return its hash without
        waiting; `confirm_pending`, `run` or `process` finishes it. A call that would revert
        raises ChainError and records nothing."""
        gas = self.sender.gas(data)

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
            return row, signed

        with self._send_lock:
            row, signed = self._with_fresh_nonce(store)
            self.sender.broadcast(signed.raw)
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
            while (row := self._next_row(statuses, after)) is not None:
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
        with self._send_lock:
            signed = self._with_fresh_nonce(lambda nonce: self._claim(row, nonce, gas))
            if signed is not None:
                drive.stage("signed", row)
                self.sender.broadcast(signed.raw)
                self._set(row, status=TxStatus.SENT)
        if signed is None:
            log.info("%s was signed by another sender; following it", describe(row))
            return self._resume(self._load(row.id), drive)
        log.info("%s: sent nonce %d as %s", describe(row), row.nonce, signed.tx_hash)
        drive.stage("sent", row)
        return self._await(row, drive)

    def _resume(self, row: OutboxTx, drive: _Drive) -> OutboxTx:
        attempts = self._attempts(row.id)
        if not attempts:
            raise ChainError(f"{describe(row)} holds nonce {row.nonce} but no signed transaction")
        if self.sender.receipt(a.tx_hash for a in attempts) is None:
            log.info("%s: re-broadcasting nonce %d", describe(row), row.nonce)
            try:
                self.sender.broadcast(attempts[-1].raw)
            except ChainError as exc:
                # A stored transaction can go stale (base fee above its cap): re-price it once.
                log.warning("%s: %s; re-pricing", describe(row), exc)
                self._reprice(row, attempts[-1], strict=True)
            if row.status != TxStatus.SENT:
                self._set(row, status=TxStatus.SENT)
            drive.stage("sent", row)
        return self._await(row, drive)

    def _await(self, row: OutboxTx, drive: _Drive) -> OutboxTx:
        """Poll until an attempt of `row` is mined and buried, re-pricing when it takes too long."""
        assert row.nonce is not None
        last_broadcast = time.monotonic()
        nonce_moved_at: float | None = None
        while True:
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
                if self._reprice(row, attempts[-1], strict=False):
                    drive.stage("repriced", row)
                last_broadcast = time.monotonic()
            if drive.stop is None:
                time.sleep(self.settings.poll_interval)
            elif drive.stop.wait(self.settings.poll_interval):
                raise _Stopped

    def _reprice(self, row: OutboxTx, latest: TxAttempt, *, strict: bool) -> bool:
        """Re-sign the row's nonce with higher fees, store the attempt, broadcast it. A refusal
        raises if `strict`, else it is logged: the earlier attempts may still be mined."""
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
                self.sender.broadcast(signed.raw)
            except ChainError as exc:
                if strict:
                    raise
                log.warning("%s: re-priced attempt refused: %s", describe(row), exc)
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

    def _next_row(self, statuses: Sequence[TxStatus], after: int) -> OutboxTx | None:
        with self.db.session() as session:
            query = (
                select(OutboxTx)
                .where(OutboxTx.status.in_(statuses), OutboxTx.id > after)
                .order_by(OutboxTx.id)
                .limit(1)
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
