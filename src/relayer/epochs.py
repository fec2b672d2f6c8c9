"""Epochs: close (freeze the report, plan the batches) → posting → pending → finished or vetoed
(`relayer.lifecycle`), or failed; and an operator's way out of an epoch that cannot be posted:
abandon it (→ abandoned), fix what made it fail (for example delete the offending member's data),
and close the next one.

Closing is one database transaction: the report, its hash and every planned `postAttribution`
batch are stored together, so a crash leaves either nothing or a complete plan. Posting is asked
for (`request_post`, or `close` with `post`) by any replica and done by the one holding the
sender role (`send`, see relayer.replica): it hands the plan to the outbox, which records each
transaction before it is sent; sending again resumes where it stopped. Once every batch is in,
the epoch is pending on-chain until its due time; `finishAttribution` is sent only then
(`lifecycle.finish`).

Every step that reads an epoch's state to decide what to write takes the epochs lock first
(relayer.locks.serialize), in the database: two closes, or two retries, racing on any replicas
are applied one after the other, so the second sees what the first did.

Only members whose shares differ from what the chain holds are sent (shares are absolute, so
the others already hold the right figure); the report itself lists everyone. Shares that go down
are sent before shares that go up, so the union's total never passes the contract's cap between
two batches of a re-scaled epoch. After a veto, every address a vetoed epoch's `SharesSet` events
named and the new report does not is set to 0: the vetoed table stays on-chain (earning nothing)
until it is overwritten.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from eth_typing import HexStr
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from web3.exceptions import Web3Exception

from relayer.attribution import (
    ContributionInput,
    build_report,
    canonical,
    checksummed,
    report_hash,
)
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
from relayer.lifecycle import refresh
from relayer.locks import serialize
from relayer.outbox import Fence, Outbox
from relayer.root_tree import attach_tree
from relayer.schemas import EpochOut, TxOut
from relayer.settings import Settings
from relayer.states import (
    IN_FLIGHT,
    SETTLED_TX,
    UNFINISHED_EPOCH,
    EpochStatus,
    TxPurpose,
    TxStatus,
)

if TYPE_CHECKING:
    from relayer.alarms import Alarms

log = logging.getLogger(__name__)

#: The transaction lock every change of an epoch's status or plan takes.
EPOCHS_LOCK = "epochs"
ZERO_ADDRESS = "0x" + "00" * 20
#: The largest epoch number the database can hold (a signed 64-bit integer).
MAX_EPOCH = 2**63 - 1
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


def _live_contributions(
    session: Session, departed: dict[str, int], refused: Iterable[str], *, final: bool = False
) -> list[ContributionInput]:
    """Every stored contribution, less those recorded before the member's last `leave()`:
    leaving is sticky until the member contributes again (on a root-mode union, `final`, leaving
    is for good: none of a departed member's contributions count). Ordered by block, not by
    time: the database's clock and the chain's (whole-second block timestamps) disagree by
    seconds.

    Members the union refuses to credit (`refused`, lower-case: the zero address, the union) are
    refused when contributions come in; a row stored before that check is skipped here too, so
    it can never make an epoch the contract refuses."""
    refused = set(refused)
    inputs = []
    for c in session.scalars(select(Contribution).order_by(Contribution.id)):
        if c.member.lower() in refused:
            log.warning(
                "contribution #%d credits %s, which cannot hold shares: skipped", c.id, c.member
            )
            continue
        left = departed.get(c.member.lower())
        if left is not None and (final or c.recorded_block is None or c.recorded_block < left):
            continue
        inputs.append(
            ContributionInput(c.member, c.data_type, c.records, c.quality_ppm, c.uniqueness_ppm)
        )
    return inputs


def _vetoed_addresses(session: Session, chain: UnionChain, chain_epoch: int, head: int) -> set[str]:
    """Every address (lower-cased) a `SharesSet` of an epoch after the last finished one named:
    with nothing pending, those epochs were all vetoed, and their shares are still on-chain.
    Indexed events, and the blocks the indexer has not reached yet read from the chain."""
    finished = session.scalar(
        select(func.max(ChainEvent.epoch)).where(ChainEvent.name == "AttributionFinished")
    )
    cursor = session.get(IndexerCursor, CURSOR_ID)
    tail_from = 0 if cursor is None else cursor.block_number + 1
    tail = chain.epoch_logs("AttributionFinished", list(range(1, chain_epoch + 1)), tail_from, head)
    last_finished = max([int(finished or 0), *(int(e["args"]["epoch"]) for e in tail)])
    vetoed = list(range(last_finished + 1, chain_epoch + 1))
    if not vetoed:
        return set()
    rows = session.scalars(
        select(ChainEvent.account).where(
            ChainEvent.name == "SharesSet", ChainEvent.epoch.in_(vetoed)
        )
    )
    named = {str(a).lower() for a in rows if a}
    named.update(
        str(e["args"]["member"]).lower()
        for e in chain.epoch_logs("SharesSet", vetoed, tail_from, head)
    )
    return named


def _holders(session: Session) -> set[str]:
    """Members who may hold shares on the chain: those of the last finished report, and those of
    any epoch abandoned since, whose batches may have been posted in part."""
    last_finished = session.scalar(
        select(func.max(Epoch.number)).where(Epoch.status == EpochStatus.FINISHED)
    )
    query = select(Epoch).where(Epoch.status.in_((EpochStatus.FINISHED, EpochStatus.ABANDONED)))
    if last_finished is not None:
        query = query.where(Epoch.number >= last_finished)
    holders: set[str] = set()
    for epoch in session.scalars(query):
        holders.update(
            m["address"] for m in json.loads(epoch.report)["members"] if int(m["shares"]) > 0
        )
    return holders


def _unposted_abandoned(session: Session, chain_epoch: int) -> Epoch | None:
    """The epoch to close again under the number the chain takes next, if this relayer abandoned
    it before any of its batches reached the chain (the chain advances epochs by one, so that
    number is still the next); its transactions stay on record, superseded. Conflict for any
    other epoch of this relayer's ahead of the chain."""
    ahead = list(session.scalars(select(Epoch).where(Epoch.number > chain_epoch)))
    if not ahead:
        return None
    if len(ahead) > 1 or ahead[0].status != EpochStatus.ABANDONED:
        newest = max(epoch.number for epoch in ahead)
        raise Conflict(f"the chain is at epoch {chain_epoch}, behind this relayer's {newest}")
    unused = ahead[0]
    for tx in unused.transactions:  # abandon left none in flight
        tx.status = TxStatus.SUPERSEDED
    log.warning(
        "epoch %d was abandoned before it reached the chain (report %s): closing it again",
        unused.number,
        unused.report_hash,
    )
    return unused


def _batch_order(changed: dict[str, int], onchain: dict[str, int]) -> list[tuple[str, int]]:
    """The members to send, shares going down first (then by address, as in the report)."""
    return sorted(changed.items(), key=lambda item: item[1] >= onchain[item[0]])


def refused_members(chain: UnionChain) -> tuple[str, ...]:
    """Addresses the union never credits, lower-case: the contract refuses the zero address
    (`DataUnionZeroAddress`), and shares held by the union itself could never be claimed."""
    return (ZERO_ADDRESS, chain.address.lower())


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
    an earlier epoch is still being posted or has failed (resume it, or abandon it), is pending
    on-chain (whoever posted it: the chain takes a new epoch only once the current one is
    finished or vetoed), and so for every close but one of several racing."""
    head = chain.head()
    serialize(session, EPOCHS_LOCK)
    state = chain.attribution_state(head)
    for earlier in session.scalars(select(Epoch).where(Epoch.status.in_(UNFINISHED_EPOCH))):
        refresh(session, chain, earlier)
        if earlier.status == EpochStatus.PENDING:
            raise Conflict(f"epoch {earlier.number} is pending; wait for it to finish")
        if earlier.status in UNFINISHED_EPOCH:
            raise Conflict(
                f"epoch {earlier.number} is {earlier.status}; post it (`relayer epoch post "
                f"{earlier.number}`) or abandon it (`relayer epoch abandon {earlier.number}`)"
            )
    if state.pending:
        raise Conflict(
            f"epoch {state.epoch} is pending on-chain until {state.due_at} (chain time): "
            "finish it (or have the guardian veto it) before the next one"
        )
    number = state.epoch + 1
    unused = _unposted_abandoned(session, state.epoch)
    departed = _departures(session, chain, head)
    report = build_report(
        chain_id=settings.chain_id,
        union=chain.address,
        epoch=number,
        contributions=_live_contributions(
            session, departed, refused_members(chain), final=chain.roots
        ),
        params=settings.parameters,
        # A root lists everyone with earnings anyway (relayer.roots).
        zeroed=() if chain.roots else sorted(_holders(session)),
    )
    if not report["members"]:
        raise Conflict("there is nothing to attribute yet: no contributions")
    tree = attach_tree(session, chain, report, set(departed), head) if chain.roots else None
    raw = canonical(report)
    digest = report_hash(raw)
    if unused is None:
        epoch = Epoch(number=number)
        session.add(epoch)
    else:
        epoch = unused
        epoch.closed_at, epoch.posted_at, epoch.due_at, epoch.finished_at = (
            utcnow(),
            None,
            None,
            None,
        )
    epoch.status = EpochStatus.POSTING if post else EpochStatus.CLOSED
    epoch.report, epoch.report_hash, epoch.error = raw.decode(), digest, None
    epoch.members, epoch.total_shares = len(report["members"]), int(report["totals"]["shares"])
    try:
        session.flush()
    except IntegrityError:  # only a relayer that does not take the epochs lock gets here
        raise Conflict(f"epoch {number} was closed concurrently") from None
    if tree is None:
        changed = _plan_batches(session, chain, outbox, settings, report, number, digest, head)
    else:
        data = chain.calldata(
            "postRoot",
            number,
            tree.root,
            bytes.fromhex(digest[2:]),
            int(report["tree"]["totalShares"]),
            len(tree.leaves),
        )
        outbox.enqueue(session, TxPurpose.ATTRIBUTION, data, epoch=number, batch=0)
        changed = len(tree.leaves)
    log.info(
        "epoch %d closed: %d members, %d %s, report %s",
        number,
        len(report["members"]),
        changed,
        "leaves" if tree else "changed",
        digest,
    )
    return epoch


def _plan_batches(
    session: Session,
    chain: UnionChain,
    outbox: Outbox,
    settings: Settings,
    report: dict[str, Any],
    number: int,
    digest: str,
    head: int,
) -> int:
    """Plan the push union's `postAttribution` batches; returns how many members they set.
    Compared with the chain itself, not the last report: what is sent is what differs."""
    wanted = {m["address"]: int(m["shares"]) for m in report["members"]}
    listed = {m.lower() for m in wanted}
    for address in sorted(_vetoed_addresses(session, chain, number - 1, head) - listed):
        wanted[checksummed(address)] = 0  # a vetoed epoch's leftover: nobody keeps them
    onchain = chain.shares_of(list(wanted), head)
    changed = _batch_order({m: s for m, s in wanted.items() if onchain[m] != s}, onchain) or [
        next(iter(wanted.items()))
    ]
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
    return len(changed)


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
    if epoch.status in (EpochStatus.PENDING, EpochStatus.FINISHED, EpochStatus.VETOED):
        return describe(session, number)
    if epoch.status == EpochStatus.ABANDONED:
        raise Conflict(f"epoch {number} was abandoned; close the next epoch instead")
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
    settle(db, outbox.chain)


def settle(db: Database, chain: UnionChain) -> list[int]:
    """Mark each epoch being posted as pending (every batch confirmed; the chain gives its due
    time) or failed (one failed, with its error); returns the numbers of the epochs that
    changed."""
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
                refresh(session, chain, epoch, all_posted=True)
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
    """Send (or resume sending) the epoch's planned batches from this process (once all are in
    it is pending); for a process that holds the sender role (`fence` checks that it still
    does). Takes the database rather than a session: the outbox commits each transaction's
    progress on its own, between the re-plan before and the settling after."""
    with db.session() as session:
        requested = request_post(session, outbox, number)
    if requested.status == EpochStatus.POSTING:
        send(db, outbox, progress=progress, fence=fence)
    with db.session() as session:
        return describe(session, number)


def abandon(db: Database, number: int) -> EpochOut:
    """Give up an epoch that cannot be posted, so the next one can be closed.

    Its unsent transactions are dropped (status `abandoned`, their calldata kept for the
    record); what was confirmed stays on the chain, and the next epoch's report re-sets every
    member it touched. Conflict while one of its transactions holds a nonce (signed or sent: it
    may still be mined; let `post` settle it first) and for an epoch whose batches are all in
    (pending: the guardian can veto it; finished; vetoed). An epoch abandoned before any batch
    reached the chain is closed again under its number by the next `close`.
    """
    with db.session() as session:
        serialize(session, EPOCHS_LOCK)
        epoch = session.get(Epoch, number)
        if epoch is None:
            raise NotFound(f"no epoch {number}")
        if epoch.status == EpochStatus.PENDING:
            raise Conflict(
                f"epoch {number} is pending on-chain: every batch is in, so it cannot be "
                "abandoned; the guardian can veto it (scripts/guardian.py veto)"
            )
        if epoch.status not in UNFINISHED_EPOCH:
            raise Conflict(f"epoch {number} is {epoch.status}: there is nothing to abandon")
        session.execute(
            update(OutboxTx)
            .where(OutboxTx.epoch == number, OutboxTx.status == TxStatus.PENDING)
            .values(status=TxStatus.ABANDONED)
        )
        in_flight = session.scalar(
            select(func.count())
            .select_from(OutboxTx)
            .where(OutboxTx.epoch == number, OutboxTx.status.in_(IN_FLIGHT))
        )
        if in_flight:
            # Rolls back the update above with the session.
            raise Conflict(
                f"epoch {number} has {in_flight} transaction(s) in flight; post it to settle "
                "them, then abandon it"
            )
        failed = next((tx.error for tx in epoch.transactions if tx.status == TxStatus.FAILED), None)
        epoch.status = EpochStatus.ABANDONED
        epoch.error = epoch.error or failed or "abandoned by the operator"
        log.warning("epoch %d abandoned (%s)", number, epoch.error)
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
                .where(
                    Epoch.number == number,
                    Epoch.status.in_((EpochStatus.CLOSED, EpochStatus.POSTING, EpochStatus.FAILED)),
                )
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
        due_at=None if epoch.due_at is None else datetime.fromtimestamp(epoch.due_at, UTC),
        finished_at=epoch.finished_at,
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
