"""A member's figures and their yearly statement (CSV for taxes, or JSON)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from relayer import members
from relayer.api.deps import ContextDep
from relayer.errors import Conflict, NotFound
from relayer.members import MemberSummary, Statement
from relayer.root_tree import member_proofs
from relayer.schemas import Address, MemberProofOut, TreeProofOut

router = APIRouter(prefix="/v1/members", tags=["members"])

MemberAddress = Annotated[Address, Path(description="checksummed (EIP-55) 0x address")]


@router.get(
    "/{address}",
    response_model=MemberSummary,
    summary="Shares, claimable and lifetime earnings, with per-epoch history",
)
async def get_member(address: MemberAddress, context: ContextDep) -> Response:
    # The hot read path: served from the cache without leaving the event loop; a miss reads
    # the chain and the database on a worker thread.
    reads = context.member_reads
    body = reads.peek(address) or await run_in_threadpool(reads.summary_json, address)
    return Response(body, media_type="application/json")


@router.get(
    "/{address}/statement",
    response_model=Statement,
    summary="The member's earnings and claims in one calendar year (UTC), as CSV or JSON",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_statement(
    address: MemberAddress,
    context: ContextDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    statement_format: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
) -> Statement | Response:
    with context.db.session() as session:
        statement = members.statement(session, context.chain, address, year, context.trees)
    if statement_format == "json":
        return statement
    return Response(
        members.statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{address}-{year}.csv"'},
    )


@router.get(
    "/{address}/proof",
    response_model=MemberProofOut,
    response_model_by_alias=True,
    summary="Root mode: the member's leaf and Merkle proof, for claim and leave",
)
def get_proof(address: MemberAddress, context: ContextDep) -> MemberProofOut:
    if not context.chain.roots:
        raise Conflict("this union sets shares member by member: it has no roots to prove")
    current, pending = member_proofs(context.trees, context.chain, address)
    if current is None:
        raise NotFound(f"{address} has no leaf in the root in force")
    return MemberProofOut(
        **current.as_json(),
        pending=None if pending is None else TreeProofOut(**pending.as_json()),
    )
