"""What gasless claims may cost the operator, checked before any gas is spent.

Every relayed claim costs the claim key ~80k gas whatever it moves, and the contract's `Claim`
carries no fee, so the bound is off-chain and has three parts, each a setting:

- a minimum amount (`claim_min_amount`, in whole pool-token units): a member with a few units of
  earnings cannot make the relayer pay gas for each of them; smaller claims go from the wallet;
- a per-member rate (`claim_max_per_member_per_day` in any 24 hours): one member cannot spend
  the budget for everyone, however many nonces they sign;
- a daily budget in the gas currency (`claim_daily_gas_budget`): each claim is counted at the
  most it can cost (its gas limit times its max fee per gas) from the moment it is reserved, so
  the total over any 24 hours never passes the budget, whatever the gas price does.

Refusals are a 4xx with the reason (422 below the minimum, 429 with `Retry-After` for the rate
and the budget); nothing is reserved or sent for them.
"""

import math
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from relayer.db import RelayedClaim, utcnow
from relayer.errors import BelowMinimum, TooManyRequests
from relayer.settings import Settings

WINDOW = timedelta(days=1)
WEI_PER_UNIT = 10**18


class ClaimPolicy(BaseModel):
    """The gasless claim policy, as `GET /v1/union` shows it to wallets and the page."""

    relayer: str = Field(description="the account that submits gasless claims and pays their gas")
    min_amount: str = Field(description="smallest claim relayed, in the token's base units")
    max_per_member_per_day: int = Field(description="claims relayed per member in any 24 hours")
    daily_gas_budget: str = Field(
        description="most the relayer commits to gasless claims in any 24 hours, in wei"
    )
    gas_committed: str = Field(
        description="committed in the last 24 hours, in wei (each claim at its gas limit times "
        "its max fee per gas)"
    )


def min_units(settings: Settings, decimals: int) -> int:
    """The minimum in the token's base units, rounded up (a minimum is never undercut)."""
    return math.ceil(settings.claim_min_amount * Decimal(10) ** decimals)


def budget_wei(settings: Settings) -> int:
    return int(settings.claim_daily_gas_budget * WEI_PER_UNIT)


def committed(session: Session, now: datetime | None = None) -> int:
    since = (now or utcnow()) - WINDOW
    costs = session.scalars(select(RelayedClaim.max_cost).where(RelayedClaim.created_at >= since))
    return sum(int(cost) for cost in costs)


def describe(session: Session, settings: Settings, relayer: str, decimals: int) -> ClaimPolicy:
    return ClaimPolicy(
        relayer=relayer,
        min_amount=str(min_units(settings, decimals)),
        max_per_member_per_day=settings.claim_max_per_member_per_day,
        daily_gas_budget=str(budget_wei(settings)),
        gas_committed=str(committed(session)),
    )


def check_amount(settings: Settings, decimals: int, amount: int) -> None:
    minimum = min_units(settings, decimals)
    if amount < minimum:
        raise BelowMinimum(
            f"a gasless claim must be for at least {minimum} base units of the token "
            f"({settings.claim_min_amount} tokens); claim smaller amounts from the wallet",
            details=[{"min_amount": str(minimum), "amount": str(amount)}],
        )


def _retry_after(oldest: datetime, now: datetime) -> int:
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))


def check_member_rate(session: Session, settings: Settings, member: str) -> None:
    now = utcnow()
    limit = settings.claim_max_per_member_per_day
    times = list(
        session.scalars(
            select(RelayedClaim.created_at)
            .where(RelayedClaim.member == member, RelayedClaim.created_at >= now - WINDOW)
            .order_by(RelayedClaim.created_at)
        )
    )
    if len(times) >= limit:
        raise TooManyRequests(
            f"{member} has had {len(times)} gasless claim(s) relayed in the last 24 hours, the "
            f"most the relayer takes ({limit}); claim from the wallet, or wait",
            _retry_after(times[0], now) if times else 86_400,
            code="claim_rate_limited",
        )


def check_budget(session: Session, settings: Settings, cost: int) -> None:
    now = utcnow()
    budget = budget_wei(settings)
    used = committed(session, now)
    if used + cost > budget:
        oldest = session.scalar(
            select(RelayedClaim.created_at)
            .where(RelayedClaim.created_at >= now - WINDOW)
            .order_by(RelayedClaim.created_at)
            .limit(1)
        )
        raise TooManyRequests(
            f"the relayer's daily gas budget for gasless claims is spent ({used} of {budget} wei "
            f"committed in the last 24 hours, this claim needs up to {cost}); claim from the "
            "wallet, or wait",
            86_400 if oldest is None else _retry_after(oldest, now),
            code="claim_budget_exhausted",
        )
