"""Epochs: close (freeze the report, plan the batches) → posting → posted (or failed).

Closing is one database transaction: the report, its hash and every planned transaction (the
`postAttribution` batches and the final `finishAttribution`) are stored together, so a crash
leaves either nothing or a complete plan. Posting is asked for (`request_post`, or `close` with
`post`) by any replica and done by the one holding the sender role (`send`, see
relayer.replica): it hands the plan to the outbox, which records each transaction before it is
sent, and settles the epoch once its transactions are done; sending again resumes where it
stopped.

Every step that reads an epoch's state to decide what to write takes the epochs lock first
(relayer.locks.serialize), in the database: two closes, or two retries, racing on any replicas
are applied one after the other, so the second sees what the first did.

Only members whose shares differ from what the chain holds are sent (shares are absolute, so
the others already hold the right figure); the report itself lists everyone.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from eth_typing import HexStr
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from web3.exceptions import Web3Exception

from relayer.attribution import ContributionInput, build_report, canonical, report_hash
from relayer.chain import UnionChain
from relayer.db import (
    CURSOR_ID,
    ChainEvent,
    Contribution,
    Database,
    Epoch,
    IndexerCursor,
    OutboxTx,
    utcnow,
)
from relayer.errors import ChainError, Conflict, NotFound, RelayerError
from relayer.locks import serialize
from relayer.outbox import Fence, Outbox
from relayer.schemas import EpochOut, TxOut
from relayer.settings import Settings
from relayer.states import SETTLED_TX, UNFINISHED_EPOCH, EpochStatus, TxPurpose, TxStatus

if TYPE_CHECKING:
    from relayer.alarms import Alarms

log = logging.getLogger(__name__)

#: The transaction lock every change of an epoch's status or plan takes.
EPOCHS_LOCK = "epochs"
#: The first pause of a background posting after a node failure; it doubles up to the last.
RETRY_FIRST_PAUSE = 0.5
RETRY_MAX_PAUSE = 30.0


def _departures(session: Session, chain: UnionChain, head: int) -> dict[str, int]:
    """The block of each member's last `leave()`: indexed ones, and those in the blocks the
    indexer has not reached yet (within the confirmation depth), read from the chain. Leaving is
    honoured at once: a reorg that undid a leave would cost that member one epoch, a missed
    leave would give their shares back."""
    rows = session.execute(
        select(ChainEvent.account, func.max(ChainEvent.block_number))
        .where(ChainEvent.name == "MemberLeft")
        .group_by(ChainEvent.account)
    )
    departed = {str(account).lower(): int(block) for account, block in rows if account}
    cursor = session.get(IndexerCursor, CURSOR_ID)
    departed.update(chain.departures(0 if cursor is None else cursor.block_number + 1, head))
    return departed


def _live_contributions(session: Session, departed: dict[str, int]) -> list[ContributionInput]:
    """Every stored contribution, less those recorded before the member's last `leave()`:
    leaving is sticky until the member contributes again. Ordered by block, not by time: the
    database's clock and the chain's (whole-second block timestamps) disagree by seconds."""
    inputs = []
    for c in session.scalars(select(Contribution).order_by(Contribution.id)):
        left = departed.get(c.member.lower())
        if left is not None and (c.recorded_block is None or c.recorded_block < left):
            continue
        inputs.append(
            ContributionInput(c.member, c.data_type, c.records, c.quality_ppm, c.uniqueness_ppm)
        )
    return inputs


def _posted_shares(session: Session) -> dict[str, int]:
    posted = select(Epoch).where(Epoch.status == EpochStatus.POSTED)
    last = session.scalars(posted.order_by(Epoch.number.desc()).limit(1)).first()
    if last is None:
        return {}
    return {m["address"]: int(m["shares"]) for m in json.loads(last.report)["members"]}


def close(
    session: Session,
    chain: UnionChain,
    outbox: Outbox,
    settings: Settings,
    *,
    post: bool = False,
) -> Epoch:
    """Freeze the next epoch's report and plan its transactions in `session` (committed by the
    caller, all together); with `post`, mark it to be posted in the same commit. Conflict while
    an earlier epoch is still being posted or has failed (resume or fix it first), and so for
    every close but one of several racing."""
    head = chain.head()
    chain_epoch = int(chain.view("currentEpoch", block=head))
    serialize(session, EPOCHS_LOCK)
    unfinished = session.scalars(select(Epoch).where(Epoch.status.in_(UNFINISHED_EPOCH))).first()
    if unfinished is not None:
        raise Conflict(f"epoch {unfinished.number} is {unfinished.status}; post it first")
    last = session.scalar(select(func.max(Epoch.number))) or 0
    number = max(chain_epoch, last) + 1
    previous = _posted_shares(session)
    report = build_report(
        chain_id=settings.chain_id,
        union=chain.address,
        epoch=number,
        contributions=_live_contributions(session, _departures(session, chain, head)),
        params=settings.parameters,
        zeroed=[member for member, shares in previous.items() if shares > 0],
    )
    if not report["members"]:
        raise Conflict("there is nothing to attribute yet: no contributions")
    raw = canonical(report)
    digest = report_hash(raw)
    # Compared with the chain itself, not the last report: what is sent is what differs.
    wanted = {m["address"]: int(m["shares"]) for m in report["members"]}
    onchain = chain.shares_of(list(wanted), head)
    changed = [(m, s) for m, s in wanted.items() if onchain[m] != s] or [next(iter(wanted.items()))]
    epoch = Epoch(
        number=number,
        status=EpochStatus.POSTING if post else EpochStatus.CLOSED,
        report=raw.decode(),
        report_hash=digest,
        members=len(report["members"]),
        total_shares=int(report["totals"]["shares"]),
    )
    session.add(epoch)
    try:
        session.flush()
    except IntegrityError:  # only a relayer that does not take the epochs lock gets here
        raise Conflict(f"epoch {number} was closed concurrently") from None
    size = settings.batch_size
    for batch, start in enumerate(range(0, len(changed), size)):
        chunk = changed[start : start + size]
        data = chain.calldata(
            "postAttribution",
            number,
            bytes.fromhex(digest[2:]),
            [member for member, _ in chunk],
            [shares for _, shares in chunk],
        )
        outbox.enqueue(session, TxPurpose.ATTRIBUTION, data, epoch=number, batch=batch)
    outbox.enqueue(
        session, TxPurpose.FINISH, chain.calldata("finishAttribution", number), epoch=number
    )
    log.info(
        "epoch %d closed: %d members, %d changed, report %s",
        number,
        len(report["members"]),
        len(changed),
        digest,
    )
    return epoch


def request_post(session: Session, outbox: Outbox, number: int) -> EpochOut:
    """Mark epoch `number` in `session` to be posted (or resumed, or retried after a failure) by
    the sender, and return it. Idempotent: an epoch already posting or posted is left as it is,
    so requests racing on any replicas plan its transactions once.

    A retry re-plans every unconfirmed transaction, in the original order, under new outbox
    rows: a failed one may have spent its nonce, and `finish` must stay last."""
    serialize(session, EPOCHS_LOCK)
    epoch = session.get(Epoch, number)
    if epoch is None:
        raise NotFound(f"no epoch {number}")
    if epoch.status == EpochStatus.POSTED:
        return describe(session, number)
    if any(tx.status == TxStatus.FAILED for tx in epoch.transactions):
        replanned = (TxStatus.FAILED, TxStatus.PENDING)
        for tx in [tx for tx in epoch.transactions if tx.status in replanned]:
            # Compare-and-set: a row a sender has just signed keeps its nonce and its place.
            superseded = session.execute(
                update(OutboxTx)
                .where(OutboxTx.id == tx.id, OutboxTx.status == tx.status)
                .values(status=TxStatus.SUPERSEDED)
            )
            if cast(CursorResult[Any], superseded).rowcount != 1:
                raise Conflict(f"epoch {number} changed while it was re-planned; retry")
            outbox.enqueue(session, tx.purpose, HexStr(tx.data), epoch=number, batch=tx.batch)
        session.expire_all()
        epoch = session.get(Epoch, number)
        assert epoch is not None
    epoch.status, epoch.error = EpochStatus.POSTING, None
    return describe(session, number)


def send(
    db: Database,
    outbox: Outbox,
    *,
    progress: Callable[[OutboxTx], None] | None = None,
    fence: Fence | None = None,
    stop: threading.Event | None = None,
) -> None:
    """The sender's work: drive the outbox (the rows of epochs being posted, and every row
    holding a nonce), then settle the epochs whose transactions are all done. Only the process
    holding the sender role calls it; `fence` says when it no longer does."""
    outbox.process(progress=progress, fence=fence, stop=stop, posting_only=True)
    settle(db)


def settle(db: Database) -> list[int]:
    """Mark each epoch being posted as posted (every transaction confirmed) or failed (one
    failed, with its error); returns the numbers of the epochs that changed."""
    with db.session() as session:
        posting = select(Epoch.number).where(Epoch.status == EpochStatus.POSTING)
        if session.scalars(posting).first() is None:
            return []
    changed = []
    with db.session() as session:
        serialize(session, EPOCHS_LOCK)  # against a re-plan (request_post) racing with it
        query = (
            select(Epoch)
            .where(Epoch.status == EpochStatus.POSTING)
            .options(selectinload(Epoch.transactions))
            .order_by(Epoch.number)
        )
        for epoch in session.scalars(query):
            failed = [tx for tx in epoch.transactions if tx.status == TxStatus.FAILED]
            if failed:
                epoch.status, epoch.error = EpochStatus.FAILED, failed[0].error
            elif all(tx.status in SETTLED_TX for tx in epoch.transactions):
                epoch.status, epoch.posted_at = EpochStatus.POSTED, utcnow()
            else:
                continue
            changed.append(epoch.number)
            log.info("epoch %d %s", epoch.number, epoch.status)
    return changed


def post(
    db: Database,
    outbox: Outbox,
    number: int,
    progress: Callable[[OutboxTx], None] | None = None,
    fence: Fence | None = None,
) -> EpochOut:
    """Send (or resume sending) the epoch's planned transactions from this process and settle
    its status; for a process that holds the sender role (`fence` checks that it still does).
    Takes the database rather than a session: the outbox commits each transaction's progress
    on its own, between the re-plan before and the settling after."""
    with db.session() as session:
        requested = request_post(session, outbox, number)
    if requested.status != EpochStatus.POSTED:
        send(db, outbox, progress=progress, fence=fence)
    with db.session() as session:
        return describe(session, number)


def post_in_background(
    db: Database,
    outbox: Outbox,
    number: int,
    *,
    retry_seconds: float,
    alarms: "Alarms | None" = None,
    fence: Fence | None = None,
) -> None:
    """`post` for the API's background task, which no one waits on: node failures (an HTTP
    error, a lost connection, a node restarted from its state, a transaction not confirmed in
    time) are retried with a doubling pause for `retry_seconds`, each one shown on the epoch while
    it lasts; then the posting stops with the error on the epoch, and posting it again resumes
    where it stopped. Each retry resumes through the outbox, so nothing is sent twice. `alarms`,
    if given, checks the key's balance first."""
    if alarms is not None:
        alarms.check_outbox(outbox)
    started = time.monotonic()
    deadline = started + retry_seconds
    pause = RETRY_FIRST_PAUSE
    tries = 0
    while True:
        tries += 1
        try:
            post(db, outbox, number, fence=fence)
            return
        except (ChainError, Web3Exception, OSError, SQLAlchemyError) as exc:
            reason = _reason(exc)
            if time.monotonic() + pause > deadline:
                _note(
                    db,
                    number,
                    f"posting stopped after {tries} tries in {time.monotonic() - started:.0f} s: "
                    f"{reason}; post the epoch again to resume",
                )
                log.error("epoch %d: posting stopped after %d tries: %s", number, tries, reason)
                return
            _note(db, number, f"retrying (try {tries + 1} in {pause:g} s) after: {reason}")
            log.warning(
                "epoch %d: posting interrupted (%s); retrying in %g s", number, reason, pause
            )
        except RelayerError as exc:  # not a node failure (the epoch is gone): nothing to retry
            log.error("epoch %d: posting stopped: %s", number, exc)
            return
        time.sleep(pause)
        pause = min(2 * pause, RETRY_MAX_PAUSE)


def _reason(exc: Exception) -> str:
    """What failed, without what a library puts in its message (a requests error carries the
    node's URL, which may hold a provider's API key)."""
    if isinstance(exc, RelayerError):
        return str(exc)
    return f"the node or database failed ({type(exc).__name__})"


def _note(db: Database, number: int, error: str) -> None:
    try:
        with db.session() as session:
            session.execute(
                update(Epoch)
                .where(Epoch.number == number, Epoch.status != EpochStatus.POSTED)
                .values(error=error)
            )
    except SQLAlchemyError:
        log.warning("epoch %d: could not record the posting error", number)


def describe(session: Session, number: int) -> EpochOut:
    epoch = session.get(Epoch, number)
    if epoch is None:
        raise NotFound(f"no epoch {number}")
    txs = [tx for tx in epoch.transactions if tx.status != TxStatus.SUPERSEDED]
    batches = [tx for tx in txs if tx.purpose == TxPurpose.ATTRIBUTION]
    return EpochOut(
        number=epoch.number,
        status=epoch.status,
        report_hash=epoch.report_hash,
        members=epoch.members,
        total_shares=str(epoch.total_shares),
        closed_at=epoch.closed_at,
        posted_at=epoch.posted_at,
        batches=len(batches),
        batches_confirmed=sum(tx.status == TxStatus.CONFIRMED for tx in batches),
        error=epoch.error,
        transactions=[
            TxOut(
                purpose=tx.purpose,
                status=tx.status,
                epoch=tx.epoch,
                batch=tx.batch,
                nonce=tx.nonce,
                tx_hash=tx.tx_hash,
                block_number=tx.block_number,
                gas_used=tx.gas_used,
                error=tx.error,
            )
            for tx in txs
        ],
    )


def report_bytes(session: Session, number: int) -> bytes:
    epoch = session.get(Epoch, number)
    if epoch is None:
        raise NotFound(f"no epoch {number}")
    return epoch.report.encode()


def numbers(session: Session) -> list[int]:
    return list(session.scalars(select(Epoch.number).order_by(Epoch.number.desc())))
