"""The earnings estimator (the explainer's calculator), from the union's recent revenue."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from relayer import estimator
from relayer.api.deps import ContextDep
from relayer.estimator import MAX_RECORDS_PER_MONTH, Estimate

router = APIRouter(prefix="/v1", tags=["estimate"])

Fraction = Annotated[Decimal, Query(ge=0, le=1, allow_inf_nan=False)]


@router.get(
    "/estimate",
    response_model=Estimate,
    summary="Projected monthly earnings for a data type, volume and quality (an estimate)",
)
def get_estimate(
    context: ContextDep,
    data_type: Annotated[str, Query(min_length=1, max_length=32)],
    records_per_month: Annotated[int, Query(ge=0, le=MAX_RECORDS_PER_MONTH)],
    quality: Fraction,
    uniqueness: Fraction = Decimal(0),
) -> Estimate:
    with context.db.session() as session:
        return estimator.estimate(
            session,
            context.chain,
            context.settings.parameters,
            data_type=data_type,
            records_per_month=records_per_month,
            quality=quality,
            uniqueness=uniqueness,
        )
