"""The union's public facts (chain, contract, pool token) for wallets and the member page."""

from fastapi import APIRouter

from relayer import union
from relayer.api.deps import ContextDep
from relayer.union import UnionInfo

router = APIRouter(prefix="/v1", tags=["union"])


def union_info(context: ContextDep) -> UnionInfo:
    return union.describe(context.chain, context.settings.chain_id, list(context.settings.rates))


@router.get(
    "/union",
    response_model=UnionInfo,
    summary="The chain, the DataUnion contract and its pool token (for wallets and the page)",
)
def get_union(context: ContextDep) -> UnionInfo:
    return union_info(context)
