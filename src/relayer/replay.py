"""The replay of the indexed events: re-enacts how the contract splits revenue, for members'
histories and statements (`relayer.members`) and licenses' deposits (`relayer.licenses`).

`replay` walks the stored events (`chain_events`, written by `relayer.indexer`) in chain order:
the net of each deposit (amount - fee) goes to the members pro rata to the shares in force,
except that revenue arriving while no member holds shares, or while an epoch's attribution is
being posted, is held and split when the epoch is finished. It yields the distributions (with the
epoch whose shares split them and the deposits they contain) and the share changes of the members
asked about. It is an attribution estimate: the contract accounts in fractions of a unit and
rounds per claim, so per-member figures can differ from it by a few base units.
"""

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from relayer.chain import INDEXED_EVENTS
from relayer.db import ChainEvent

#: Whether the index holds `AttributionFinished`: without it the replay cannot tell when an
#: epoch's posting ended, and splits revenue by the shares in force when it arrived.
FOLLOWS_FINISH = "AttributionFinished" in INDEXED_EVENTS


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
    departed: set[str] = field(default_factory=set)


REPLAYED = (
    "RevenueDeposited",
    "AttributionPosted",
    "RootPosted",
    "AttributionFinished",
    "MemberLeft",
)

#: A root-mode member's shares in an epoch's tree (their leaf's, 0 without one).
RootShares = Callable[[int, str], int]


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
    events: Sequence[ChainEvent],
    accounts: Collection[str] = (),
    root_shares: RootShares | None = None,
) -> Iterator[Distribution | SharesChanged]:
    """Re-enact the contract's revenue split over `events` (from `load_events`), yielding each
    distribution and each share change of `accounts`. Pure: no I/O. On a root-mode union,
    `root_shares` gives the members' shares in each tree (there are no per-member events):
    revenue is split by the root in force, pending roots or not, and a member leaving takes
    their leaf's shares out of the total at once."""
    union = _Union()
    wanted = set(accounts)
    for index, event in enumerate(events):
        if event.name == "RevenueDeposited":
            union.held += int(event.amount or 0) - int(event.fee or 0)
            union.held_deposits.append(event)
            if union.total and not union.posting:
                yield _release(union, event)
        elif event.name == "AttributionPosted":
            if FOLLOWS_FINISH and (union.epoch is None or (event.epoch or 0) > union.epoch):
                union.posting = True
            union.epoch, union.total = event.epoch, int(event.total_shares or 0)
        elif event.name == "AttributionFinished":
            union.posting = False
            union.total = int(event.total_shares or 0)
            union.epoch = event.epoch  # a root-mode union's epoch starts here (no postings)
            if root_shares is not None:
                yield from _root_changes(union, event, wanted, root_shares)
            if union.total and union.held_deposits:
                yield _release(union, event)
        elif event.name == "MemberLeft" and root_shares is not None and event.account:
            if union.epoch:
                union.total -= root_shares(union.epoch, event.account)
            union.shares[event.account] = 0
            union.departed.add(event.account)
            if event.account in wanted:
                yield SharesChanged(event, event.account, 0, union.epoch or 0, True)
        elif event.name == "SharesSet" and event.account is not None:
            new = int(event.shares or 0)
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


def _root_changes(
    union: _Union, event: ChainEvent, wanted: Collection[str], root_shares: RootShares
) -> Iterator[SharesChanged]:
    """The followed members whose shares the root just in force changed (a member who left is
    never paid by a later root)."""
    epoch = int(event.epoch or 0)
    for account in wanted:
        if account in union.departed:
            continue
        new = root_shares(epoch, account)
        if new != union.shares.get(account, 0):
            union.shares[account] = new
            yield SharesChanged(event, account, new, epoch, False)


def _release(union: _Union, event: ChainEvent) -> Distribution:
    distribution = Distribution(
        event, union.held, union.total, union.epoch or 0, tuple(union.held_deposits)
    )
    union.held, union.held_deposits = 0, []
    return distribution
