"""Gasless claims relayed for members, and following them after the 202."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from relayer import claims
from relayer.api.deps import ContextDep
from relayer.claims import ClaimOut
from relayer.schemas import ClaimIn

router = APIRouter(prefix="/v1", tags=["claims"])

ClaimId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/claims",
    status_code=202,
    response_model=ClaimOut,
    responses={200: {"model": ClaimOut, "description": "the same claim again: its record"}},
    summary="Relay a member's signed EIP-712 Claim with claimWithSig (the relayer pays gas)",
    description="202 when this request relays the claim; 200 with the record when the same "
    "signed claim was relayed before (nothing is sent twice); 409 when another claim holds its "
    "nonce; 422/429 when the gasless claim policy (GET /v1/union `claim_policy`) refuses it.",
)
def post_claim(claim: ClaimIn, context: ContextDep) -> JSONResponse:
    described, relayed = claims.relay(
        context.db,
        context.chain,
        context.claim_outbox,
        claim,
        settings=context.settings,
        alarms=context.alarms,
        trees=context.trees,
    )
    return JSONResponse(described.model_dump(mode="json"), status_code=202 if relayed else 200)


@router.get("/claims/{claim_id}", response_model=ClaimOut, summary="A relayed claim's progress")
def get_claim(claim_id: ClaimId, context: ContextDep) -> ClaimOut:
    return claims.get(context.db, claim_id)
