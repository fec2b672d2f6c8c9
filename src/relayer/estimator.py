"""The earnings estimator: what a month of contributions of one kind might pay.

Shares come from the attribution method itself (`relayer.attribution.estimate_shares`, the rates
this relayer posts with). Earnings are those shares times the union's recent revenue per share:
the net revenue (amount - fee) of the deposits indexed in the last 30 days of chain time, divided
by the union's total shares now. That assumes the union's revenue grows with its data, as it
does when buyers pay for volume; it is a projection from the recent past, never a promise.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from relayer.attribution import Parameters, estimate_shares, to_ppm
from relayer.chain import UnionChain
from relayer.db import ChainEvent
from relayer.errors import InvalidInput
from relayer.members import TokenAmount, ratio, token_amount

WINDOW = timedelta(days=30)
MAX_RECORDS_PER_MONTH = 10**12
DISCLAIMER = (
    "This is an estimate, not a promise of income. It applies the union's revenue per share of "
    "the last 30 days to the shares these contributions would earn; actual payouts depend on "
    "what buyers pay, on the other members' contributions and on the rates in force. Data "
    "income may be taxable: consult a tax professional."
)
NO_SHARES = "the union has no shares yet, so there is no revenue per share to project from"
NO_REVENUE = "the union received no revenue in the last 30 days to project from"


class EstimateBasis(BaseModel):
    window_start: datetime
    window_end: datetime = Field(description="the latest block's time")
    net_revenue: TokenAmount = Field(description="deposits less fees in the window")
    total_shares: str = Field(description="the union's total shares now")
    revenue_per_share: str | None = Field(description="base units per share in the window")


class Estimate(BaseModel):
    estimate: Literal[True] = True
    disclaimer: str = DISCLAIMER
    data_type: str
    records_per_month: int
    quality: str
    uniqueness: str
    shares: str = Field(description="shares these contributions would earn in an epoch")
    monthly_earnings: TokenAmount | None
    reason: str | None = Field(description="why monthly_earnings is null, when it is")
    basis: EstimateBasis


def estimate(
    session: Session,
    chain: UnionChain,
    params: Parameters,
    *,
    data_type: str,
    records_per_month: int,
    quality: Decimal,
    uniqueness: Decimal = Decimal(0),
) -> Estimate:
    """Projected monthly earnings of `records_per_month` records of `data_type`."""
    if isinstance(records_per_month, bool) or not 0 <= records_per_month <= MAX_RECORDS_PER_MONTH:
        raise InvalidInput(f"records_per_month must be an integer in 0..{MAX_RECORDS_PER_MONTH}")
    shares = estimate_shares(
        data_type,
        records_per_month,
        to_ppm(quality, "quality"),
        to_ppm(uniqueness, "uniqueness"),
        params,
    )
    decimals = chain.token_decimals
    end = datetime.fromtimestamp(int(chain.w3.eth.get_block("latest")["timestamp"]), UTC)
    start = end - WINDOW
    deposits = session.execute(
        select(ChainEvent.amount, ChainEvent.fee).where(
            ChainEvent.name == "RevenueDeposited", ChainEvent.block_time > start
        )
    )
    net = sum(int(amount or 0) - int(fee or 0) for amount, fee in deposits)
    total = int(chain.view("totalShares"))

    earnings: TokenAmount | None = None
    reason = None
    if total == 0:
        reason = NO_SHARES
    elif net == 0:
        reason = NO_REVENUE
    else:
        earnings = token_amount(shares * net // total, decimals)
    return Estimate(
        data_type=data_type,
        records_per_month=records_per_month,
        quality=str(quality),
        uniqueness=str(uniqueness),
        shares=str(shares),
        monthly_earnings=earnings,
        reason=reason,
        basis=EstimateBasis(
            window_start=start,
            window_end=end,
            net_revenue=token_amount(net, decimals),
            total_shares=str(total),
            revenue_per_share=ratio(net, total) if total else None,
        ),
    )
