"""What a member sees: shares and earnings, per-epoch history, and a yearly statement for taxes.

Live figures come from the chain (`sharesOf`, `totalShares`, `claimable`); what happened comes
from the index (`relayer.indexer`), so it trails the chain by the confirmation depth. Lifetime
earnings are the indexed claims plus what is claimable now.

Per-epoch earnings and the statement's `earned` rows are an attribution estimate: they replay the
indexed events (`relayer.replay`) and give the member their pro-rata part of each
distribution, shares / total shares of the net revenue (amount - fee). The contract accounts in
fractions of a base unit and rounds in the members' favour, so these figures can differ from
what it credits by a few base units; `claimable` and `Claimed` amounts are exact.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from relayer.attribution import normalized_address
from relayer.chain import UnionChain
from relayer.db import CURSOR_ID, ChainEvent, IndexerCursor
from relayer.replay import Distribution, RootShares, SharesChanged, load_events, replay
from relayer.root_tree import Trees, current_proof

ESTIMATE_NOTE = (
    "Per-epoch earnings and 'earned' rows are an attribution estimate recomputed from the "
    "indexed events (each distribution split pro rata by shares); the contract rounds in "
    "fractions of a unit, so they can differ from what it credited by a few base units. "
    "Claimable and claimed amounts are exact."
)
CSV_HEADER = ("date_time_utc", "kind", "amount", "tx_hash")


class TokenAmount(BaseModel):
    """An amount of the pool token: exact base units, and the same in whole tokens."""

    units: str = Field(description="base units, as a decimal string (exact, JS-safe)")
    formatted: str = Field(description="whole tokens with the token's decimals, e.g. 1.500000")


def format_units(units: int, decimals: int) -> str:
    """`units` base units as a decimal string of whole tokens, with all `decimals` places."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}"


def token_amount(units: int, decimals: int) -> TokenAmount:
    return TokenAmount(units=str(units), formatted=format_units(units, decimals))


def ratio(numerator: int, denominator: int) -> str:
    """numerator / denominator as a plain decimal string with at most 12 places."""
    if denominator == 0:
        return "0"
    value = (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("1e-12"), rounding=ROUND_DOWN
    )
    text = format(value, "f").rstrip("0").rstrip(".")
    return text or "0"


class EpochEarnings(BaseModel):
    epoch: int
    shares: str = Field(description="the member's shares in force in this epoch")
    total_shares: str = Field(description="the union's total shares as this epoch was posted")
    posted_at: datetime
    earned: TokenAmount = Field(description="revenue credited while these shares applied")


class MemberSummary(BaseModel):
    address: str
    shares: str
    total_shares: str
    share_of_union: str = Field(description="shares / total shares, a decimal fraction")
    claimable: TokenAmount
    claimed: TokenAmount
    lifetime_earnings: TokenAmount = Field(description="claimed + claimable")
    left: bool = Field(description="the member called leave() and was not attributed since")
    token_decimals: int
    indexed_block: int | None = Field(description="the index (history, claimed) is complete to")
    history: list[EpochEarnings]
    note: str = ESTIMATE_NOTE


class StatementRow(BaseModel):
    date_time: datetime = Field(description="block time, UTC")
    kind: Literal["earned", "claimed"]
    amount: str = Field(description="whole tokens, with the token's decimals")
    tx_hash: str


class Statement(BaseModel):
    address: str
    year: int
    token_decimals: int
    rows: list[StatementRow]
    total_earned: str
    total_claimed: str
    note: str = ESTIMATE_NOTE


@dataclass
class _Credit:
    event: ChainEvent
    units: int


@dataclass
class _EpochShares:
    shares: int
    total_shares: int
    posted_at: datetime
    earned: int = 0


@dataclass
class _Ledger:
    """A member's replayed history: per-epoch shares and earnings, each credit, each claim."""

    epochs: dict[int, _EpochShares] = field(default_factory=dict)
    credits: list[_Credit] = field(default_factory=list)
    claims: list[ChainEvent] = field(default_factory=list)
    left: bool = False


def _checked(address: str) -> str:
    return normalized_address(address)


def _ledger(session: Session, address: str, root_shares: RootShares | None = None) -> _Ledger:
    events = load_events(session, [address])
    posted = [e for e in events if e.name in ("AttributionPosted", "RootPosted")]
    totals = {e.epoch: int(e.total_shares or 0) for e in posted}
    first_posted = {e.epoch: e.block_time for e in reversed(posted)}
    ledger = _Ledger()
    shares, active = 0, False
    exact = Fraction(0)  # credited so far, unrounded: each credit is the change of its floor
    for step in replay(events, [address], root_shares):
        if isinstance(step, SharesChanged):
            shares = step.shares
            if step.left:
                ledger.left, active = True, False
            else:
                # A later attestation of 0 (the relayer catching up with the leave) keeps `left`.
                ledger.left = ledger.left and shares == 0
                active = True
                ledger.epochs[step.epoch] = _EpochShares(
                    shares, totals.get(step.epoch, 0), step.event.block_time
                )
        elif isinstance(step, Distribution) and shares and active:
            before = int(exact)
            exact += Fraction(step.amount * shares, step.total_shares)
            credit = int(exact) - before
            # Booked under the union's epoch whose shares split it, also when this member's
            # shares were carried over into it unchanged.
            entry = ledger.epochs.get(step.epoch)
            if entry is None:
                entry = ledger.epochs[step.epoch] = _EpochShares(
                    shares, step.total_shares, first_posted.get(step.epoch, step.event.block_time)
                )
            if credit:
                ledger.credits.append(_Credit(step.event, credit))
                entry.earned += credit
    ledger.claims = list(
        session.scalars(
            select(ChainEvent)
            .where(ChainEvent.name == "Claimed", ChainEvent.account == address)
            .order_by(ChainEvent.block_number, ChainEvent.log_index)
        )
    )
    return ledger


def _root_shares(chain: UnionChain, trees: Trees | None) -> RootShares | None:
    if not chain.roots:
        return None
    assert trees is not None, "a root-mode union's history needs its trees"
    return trees.shares


def summary(
    session: Session, chain: UnionChain, address: str, block: int, trees: Trees | None = None
) -> MemberSummary:
    """The member's shares and claimable at `block`, their indexed claims and per-epoch
    history. A root-mode union needs `trees`, for the member's leaf of the root in force."""
    _checked(address)
    decimals = chain.token_decimals
    proof = None
    if chain.roots:
        assert trees is not None, "a root-mode union's member figures need its trees"
        proof = current_proof(trees, chain, address, block)
    state = chain.member_state(address, block, None if proof is None else proof.call_args())
    shares, total, claimable = state.shares, state.total_shares, state.claimable
    ledger = _ledger(session, address, _root_shares(chain, trees))
    claimed = sum(int(e.amount or 0) for e in ledger.claims)
    cursor = session.get(IndexerCursor, CURSOR_ID)
    history = [
        EpochEarnings(
            epoch=number,
            shares=str(entry.shares),
            total_shares=str(entry.total_shares),
            posted_at=entry.posted_at,
            earned=token_amount(entry.earned, decimals),
        )
        for number, entry in sorted(ledger.epochs.items())
    ]
    return MemberSummary(
        address=address,
        shares=str(shares),
        total_shares=str(total),
        share_of_union=ratio(shares, total),
        claimable=token_amount(claimable, decimals),
        claimed=token_amount(claimed, decimals),
        lifetime_earnings=token_amount(claimed + claimable, decimals),
        left=ledger.left,
        token_decimals=decimals,
        indexed_block=None if cursor is None else cursor.block_number,
        history=history,
    )


def statement(
    session: Session, chain: UnionChain, address: str, year: int, trees: Trees | None = None
) -> Statement:
    """Every credit (`earned`) and claim (`claimed`) of the member in calendar `year` (UTC)."""
    _checked(address)
    decimals = chain.token_decimals
    ledger = _ledger(session, address, _root_shares(chain, trees))
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    entries: list[tuple[ChainEvent, Literal["earned", "claimed"], int]] = [
        (credit.event, "earned", credit.units) for credit in ledger.credits
    ]
    entries += [(claim, "claimed", int(claim.amount or 0)) for claim in ledger.claims]
    entries = [e for e in entries if start <= e[0].block_time < end]
    entries.sort(key=lambda e: (e[0].block_number, e[0].log_index, e[1] == "claimed"))
    rows = [
        StatementRow(
            date_time=event.block_time,
            kind=kind,
            amount=format_units(units, decimals),
            tx_hash=event.tx_hash,
        )
        for event, kind, units in entries
    ]
    return Statement(
        address=address,
        year=year,
        token_decimals=decimals,
        rows=rows,
        total_earned=format_units(sum(u for _, k, u in entries if k == "earned"), decimals),
        total_claimed=format_units(sum(u for _, k, u in entries if k == "claimed"), decimals),
    )


def statement_csv(report: Statement) -> str:
    """The statement as CSV with a header row: UTC ISO-8601 times, amounts in whole tokens."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        moment = row.date_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow((moment, row.kind, row.amount, row.tx_hash))
    return out.getvalue()
