"""Epochs: close and post (operator), progress and reports (anyone)."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path
from fastapi.responses import Response
from pydantic import BaseModel

from relayer import epochs
from relayer.api.deps import ContextDep, OperatorDep
from relayer.context import Context
from relayer.epochs import MAX_EPOCH
from relayer.errors import Conflict
from relayer.schemas import EpochOut
from relayer.states import EpochStatus

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])

#: Epoch numbers are uint64 on the chain; the relayer's database keeps them as signed 64-bit
#: integers, and epochs advance from 1, so a number past 2^63 - 1 can name no epoch: refused.
EpochNumber = Annotated[int, Path(ge=1, le=MAX_EPOCH)]


class EpochList(BaseModel):
    epochs: list[EpochOut]


def _post_in_background(background: BackgroundTasks, context: Context, number: int) -> None:
    background.add_task(
        epochs.post_in_background,
        context.db,
        context.outbox,
        number,
        retry_seconds=context.settings.post_retry_seconds,
        alarms=context.alarms,
    )


@router.post(
    "/close",
    status_code=202,
    response_model=EpochOut,
    dependencies=[OperatorDep],
    summary="Freeze the next epoch's report and start posting its shares",
)
def close_epoch(context: ContextDep, background: BackgroundTasks) -> EpochOut:
    with context.db.session() as session:
        number = epochs.close(session, context.chain, context.outbox, context.settings).number
    _post_in_background(background, context, number)
    with context.db.session() as session:
        return epochs.describe(session, number)


@router.post(
    "/{number}/post",
    status_code=202,
    response_model=EpochOut,
    dependencies=[OperatorDep],
    summary="Resume (or retry) posting an epoch's planned transactions",
)
def post_epoch(number: EpochNumber, context: ContextDep, background: BackgroundTasks) -> EpochOut:
    with context.db.session() as session:
        described = epochs.describe(session, number)
    if described.status == EpochStatus.ABANDONED:
        raise Conflict(f"epoch {number} was abandoned; close the next epoch instead")
    _post_in_background(background, context, number)
    return described


@router.post(
    "/{number}/abandon",
    response_model=EpochOut,
    dependencies=[OperatorDep],
    summary="Give up an epoch that cannot be posted (its unsent transactions are dropped), so "
    "the next epoch can be closed",
)
def abandon_epoch(number: EpochNumber, context: ContextDep) -> EpochOut:
    return epochs.abandon(context.db, number)


@router.get("", response_model=EpochList, summary="Every epoch, newest first")
def list_epochs(context: ContextDep) -> EpochList:
    with context.db.session() as session:
        return EpochList(epochs=[epochs.describe(session, n) for n in epochs.numbers(session)])


@router.get("/{number}", response_model=EpochOut, summary="An epoch's status and transactions")
def get_epoch(number: EpochNumber, context: ContextDep) -> EpochOut:
    with context.db.session() as session:
        return epochs.describe(session, number)


@router.get(
    "/{number}/report",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "canonical report"}},
    summary="The epoch's canonical report: its keccak256 is the on-chain reportHash",
)
def get_report(number: EpochNumber, context: ContextDep) -> Response:
    with context.db.session() as session:
        raw = epochs.report_bytes(session, number)
    return Response(raw, media_type="application/json")
