"""Contributions in, member data out (deletion)."""

from typing import Annotated

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from relayer import contributions
from relayer.api.deps import ContextDep, is_operator
from relayer.api.idempotency import respond_once
from relayer.schemas import (
    Address,
    ContributionBatch,
    ContributionsAccepted,
    DataDeleted,
    DeletionRequest,
)

router = APIRouter(prefix="/v1", tags=["contributions"])


@router.post(
    "/contributions",
    status_code=201,
    response_model=ContributionsAccepted,
    summary="Record contributions (operator token, or each item signed by its member)",
)
def post_contributions(
    batch: ContributionBatch,
    context: ContextDep,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    operator = is_operator(context, authorization)
    settings = context.settings

    def produce(session: Session) -> ContributionsAccepted:
        ids = contributions.record(
            session,
            batch.contributions,
            params=settings.parameters,
            chain_id=settings.chain_id,
            union=context.chain.address,
            operator=operator,
            max_items=settings.max_contributions_per_request,
            head_block=context.chain.head(),
        )
        return ContributionsAccepted(accepted=len(ids), ids=ids)

    return respond_once(context.db, idempotency_key, "contributions", batch, 201, produce)


@router.delete(
    "/members/{address}/data",
    response_model=DataDeleted,
    summary="Delete a member's off-chain contribution records (member-signed or operator)",
)
def delete_member_data(
    address: Annotated[Address, Path()],
    context: ContextDep,
    request: DeletionRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> DataDeleted:
    with context.db.session() as session:
        deleted = contributions.delete_member_data(
            session,
            address,
            chain_id=context.settings.chain_id,
            union=context.chain.address,
            operator=is_operator(context, authorization),
            request=request,
        )
    return DataDeleted(member=address, deleted=deleted)
