"""The relayer's health as an operator's monitor reads it: key balances and send alarms."""

from fastapi import APIRouter

from relayer import alarms
from relayer.alarms import Status
from relayer.api.deps import ContextDep

router = APIRouter(prefix="/v1", tags=["status"])


@router.get(
    "/status",
    response_model=Status,
    summary="Alarms: keys below their balance threshold, transactions the node refuses",
)
def get_status(context: ContextDep) -> Status:
    return alarms.status(context)
