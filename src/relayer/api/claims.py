"""Gasless claims relayed for members."""

from fastapi import APIRouter
from pydantic import BaseModel

from relayer import claims
from relayer.api.deps import ContextDep
from relayer.schemas import ClaimIn


class ClaimSubmitted(BaseModel):
    tx_hash: str
    status: str = "sent"


router = APIRouter(prefix="/v1", tags=["claims"])


@router.post(
    "/claims",
    status_code=202,
    response_model=ClaimSubmitted,
    summary="Relay a member's signed EIP-712 Claim with claimWithSig (the relayer pays gas)",
)
def post_claim(claim: ClaimIn, context: ContextDep) -> ClaimSubmitted:
    tx_hash = claims.relay(context.chain, context.outbox, claim, chain_id=context.settings.chain_id)
    return ClaimSubmitted(tx_hash=tx_hash)
