"""Epochs: close and post (operator), progress and reports (anyone)."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path
from fastapi.responses import Response
from pydantic import BaseModel

from relayer import epochs, lifecycle
from relayer.api.deps import ContextDep, OperatorDep
from relayer.epochs import MAX_EPOCH
from relayer.schemas import EpochOut

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])

#: Epoch numbers are uint64 on the chain; the relayer's database keeps them as signed 64-bit
#: integers, and epochs advance from 1, so a number past 2^63 - 1 can name no epoch: refused.
EpochNumber = Annotated[int, Path(ge=1, le=MAX_EPOCH)]


class EpochList(BaseModel):
    epochs: list[EpochOut]


@router.post(
    "/close",
    status_code=202,
    response_model=EpochOut,
    dependencies=[OperatorDep],
    summary="Freeze the next epoch's report and start posting its shares",
)
def close_epoch(context: ContextDep, background: BackgroundTasks) -> EpochOut:
    # Any replica plans the epoch; the one holding the sender role sends it.
    with context.db.session() as session:
        number = epochs.close(
            session, context.chain, context.outbox, context.settings, post=True
        ).number
    background.add_task(context.sender.kick, number)
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
        described = epochs.request_post(session, context.outbox, number)
    background.add_task(context.sender.kick, number)
    return described


@router.post(
    "/{number}/finish",
    response_model=EpochOut,
    dependencies=[OperatorDep],
    summary="Finish a pending epoch once it is due (409 not_due before)",
)
def finish_epoch(number: EpochNumber, context: ContextDep) -> EpochOut:
    lifecycle.finish(context.db, context.chain, context.outbox, number)
    with context.db.session() as session:
        return epochs.describe(session, number)


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
    lifecycle.refresh_pending(
        context.db, context.chain
    )  # finished or vetoed by someone else meanwhile
    with context.db.session() as session:
        return EpochList(epochs=[epochs.describe(session, n) for n in epochs.numbers(session)])


@router.get("/{number}", response_model=EpochOut, summary="An epoch's status and transactions")
def get_epoch(number: EpochNumber, context: ContextDep) -> EpochOut:
    lifecycle.refresh_pending(context.db, context.chain)
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
