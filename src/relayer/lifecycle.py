"""An epoch after its batches are in: pending until its due time, then finished — by the relayer,
by hand (`relayer epoch finish N`) or by anyone else, since `finishAttribution` is open to all —
or vetoed by the guardian. The chain decides; the relayer's record follows it (`refresh`).

    closed ──▶ posting ──▶ pending (due_at) ──▶ finished
                  │               └──────────▶ vetoed
                  └──▶ failed (post again)

`Finisher.run_once`, on each round of the sender replica's loop in `relayer serve`, finishes
each pending epoch once the chain's clock passes its due time. A finish that someone else
already sent is a success.
"""

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from relayer.chain import AttributionState, UnionChain
from relayer.db import Database, Epoch, OutboxTx, utcnow
from relayer.errors import Conflict, NotFound, Reverted
from relayer.states import UNFINISHED_TX, EpochStatus, TxPurpose, TxStatus

if TYPE_CHECKING:
    from relayer.outbox import Outbox

log = logging.getLogger(__name__)


class NotDue(Conflict):
    """A pending epoch asked to finish before its due time."""

    code = "not_due"


def _first_block(epoch: Epoch) -> int:
    blocks = [tx.block_number for tx in epoch.transactions if tx.block_number is not None]
    return min(blocks, default=0)


def _outcome(
    chain: UnionChain, epoch: Epoch, state: AttributionState, head: int
) -> EpochStatus | None:
    """What the chain says became of `epoch`: pending, finished, vetoed, or None (not posted)."""
    if epoch.number > state.epoch:
        return None
    if epoch.number == state.epoch:
        if state.pending:
            return EpochStatus.PENDING
        return EpochStatus.VETOED if state.vetoed else EpochStatus.FINISHED
    # A later epoch exists, so this one ended; its AttributionVetoed log tells which way.
    vetoed = chain.epoch_logs("AttributionVetoed", [epoch.number], _first_block(epoch), head)
    return EpochStatus.VETOED if vetoed else EpochStatus.FINISHED


def refresh(
    session: Session, chain: UnionChain, epoch: Epoch, *, all_posted: bool = False
) -> Epoch:
    """Bring an epoch's record in line with the chain: a pending one may have been finished (by
    anyone) or vetoed; one still being posted (or failed half-way) may have been vetoed, and
    becomes pending only once `post` has every batch in (`all_posted`)."""
    if epoch.status not in (EpochStatus.POSTING, EpochStatus.PENDING, EpochStatus.FAILED):
        return epoch
    head = chain.head()
    state = chain.attribution_state(head)
    outcome = _outcome(chain, epoch, state, head)
    if outcome == EpochStatus.PENDING:
        if epoch.status == EpochStatus.PENDING or all_posted:
            if epoch.status != EpochStatus.PENDING:
                epoch.posted_at = utcnow()
            epoch.status, epoch.due_at = EpochStatus.PENDING, state.due_at
    elif outcome is not None:
        if outcome != epoch.status:
            log.info("epoch %d is %s on-chain", epoch.number, outcome)
        epoch.status, epoch.finished_at = outcome, utcnow()
        epoch.posted_at = epoch.posted_at or epoch.finished_at
        if outcome == EpochStatus.VETOED:
            epoch.error = "vetoed by the guardian"
            log.warning("epoch %d was vetoed by the guardian", epoch.number)
    session.flush()
    return epoch


def refresh_pending(db: Database, chain: UnionChain) -> None:
    """Refresh every pending epoch's record (the API does before it answers)."""
    with db.session() as session:
        for epoch in session.scalars(select(Epoch).where(Epoch.status == EpochStatus.PENDING)):
            refresh(session, chain, epoch)


def finish(db: Database, chain: UnionChain, outbox: "Outbox", number: int) -> EpochStatus:
    """Finish pending epoch `number` once due; NotDue before, Conflict if it cannot be (vetoed,
    not posted yet). An epoch someone else finished is simply recorded as finished."""
    with db.session() as session:
        epoch = session.get(Epoch, number)
        if epoch is None:
            raise NotFound(f"no epoch {number}")
        refresh(session, chain, epoch)
        if epoch.status == EpochStatus.FINISHED:
            return EpochStatus.FINISHED
        if epoch.status != EpochStatus.PENDING:
            raise Conflict(f"epoch {number} is {epoch.status}; only a pending epoch finishes")
        now = chain.block_time()
        assert epoch.due_at is not None
        if now < epoch.due_at:
            raise NotDue(
                f"epoch {number} is due at {epoch.due_at} (chain time), in {epoch.due_at - now} s"
            )
        data = chain.calldata("finishAttribution", number)
        try:  # refused (paused, vetoed meanwhile): nothing is recorded
            chain.estimate_gas(outbox.signer.address, data)
        except Reverted as exc:
            # Finished by someone else since the refresh above: that is what was asked for.
            if refresh(session, chain, epoch).status == EpochStatus.FINISHED:
                return EpochStatus.FINISHED
            raise Conflict(f"epoch {number} cannot be finished now: {exc}") from None
        if _finish_in_flight(session, number) is None:
            # An earlier finish that failed (say, the union was paused before it was mined) is
            # replaced, not left to hold back the new one as a failed row of the epoch would.
            for tx in epoch.transactions:
                if tx.purpose == TxPurpose.FINISH and tx.status == TxStatus.FAILED:
                    tx.status = TxStatus.SUPERSEDED
            outbox.enqueue(session, TxPurpose.FINISH, data, epoch=number)
    outbox.process()
    with db.session() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        refresh(session, chain, epoch)
        failed = [
            tx
            for tx in epoch.transactions
            if tx.purpose == TxPurpose.FINISH and tx.status == TxStatus.FAILED
        ]
        if epoch.status == EpochStatus.FINISHED:
            for tx in failed:  # another account's finish landed first: ours was not needed
                tx.status = TxStatus.SUPERSEDED
            epoch.error = None
        elif failed:
            epoch.error = failed[-1].error
        log.info("epoch %d %s", number, epoch.status)
        return EpochStatus(epoch.status)


def _due(db: Database, chain: UnionChain) -> list[int]:
    now = chain.block_time()
    with db.session() as session:
        pending = list(session.scalars(select(Epoch).where(Epoch.status == EpochStatus.PENDING)))
        for epoch in pending:
            refresh(session, chain, epoch)
        return [
            e.number
            for e in pending
            if e.status == EpochStatus.PENDING and e.due_at is not None and now >= e.due_at
        ]


class Finisher:
    """Finishes pending epochs once due; the sender replica runs it on each round of its loop
    (relayer.replica.SenderWorker)."""

    def __init__(self, db: Database, chain: UnionChain, outbox: "Outbox") -> None:
        self.db = db
        self.chain = chain
        self.outbox = outbox

    def run_once(self) -> list[int]:
        """Finish every due epoch; returns the numbers finished."""
        done = []
        for number in _due(self.db, self.chain):
            try:
                if finish(self.db, self.chain, self.outbox, number) == EpochStatus.FINISHED:
                    done.append(number)
            except Conflict as exc:
                log.warning("epoch %d not finished: %s", number, exc)
        return done


def _finish_in_flight(session: Session, number: int) -> OutboxTx | None:
    """The epoch's unconfirmed finish transaction, if one is in flight."""
    return session.scalars(
        select(OutboxTx).where(
            OutboxTx.epoch == number,
            OutboxTx.purpose == TxPurpose.FINISH,
            OutboxTx.status.in_(UNFINISHED_TX),
        )
    ).first()
