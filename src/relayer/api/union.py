"""The union's public facts (chain, contract, pool token) for wallets and the member page."""

from fastapi import APIRouter

from relayer import claim_policy, union
from relayer.api.deps import ContextDep
from relayer.union import NetworkOffer, UnionInfo

router = APIRouter(prefix="/v1", tags=["union"])


def union_info(context: ContextDep) -> UnionInfo:
    settings = context.settings
    network = None
    if settings.public_rpc_url:
        network = NetworkOffer(
            chain_name=settings.chain_name or f"Chain {settings.chain_id}",
            rpc_url=settings.public_rpc_url,
            gas_currency=settings.gas_currency,
        )
    with context.db.session() as session:
        policy = claim_policy.describe(
            session,
            settings,
            context.claim_outbox.signer.address,
            context.chain.token_decimals,
        )
    return union.describe(context.chain, settings.chain_id, list(settings.rates), network, policy)


@router.get(
    "/union",
    response_model=UnionInfo,
    summary="The chain, the DataUnion contract and its pool token (for wallets and the page)",
)
def get_union(context: ContextDep) -> UnionInfo:
    return union_info(context)
