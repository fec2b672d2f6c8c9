"""`GET /v1/health`: what this replica is and does, for load balancers and operators.

It answers 200 while the replica can reach its database (a replica that cannot is taken out of
rotation by the 503) and says which roles this replica holds, which replica holds each role, the
database backend and the chain head. Nothing secret: no URL, no key, no token.
"""

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from requests.exceptions import RequestException
from sqlalchemy.exc import SQLAlchemyError
from web3.exceptions import Web3Exception

from relayer import __version__
from relayer.api.deps import ContextDep
from relayer.db import CURSOR_ID, IndexerCursor
from relayer.errors import RelayerError
from relayer.roles import Role

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["health"])


class ChainHealth(BaseModel):
    chain_id: int
    head: int | None = Field(description="the node's latest block; null if it cannot be reached")


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="ok; degraded: the chain cannot be reached; unavailable: the database cannot"
    )
    replica: str = Field(description="this process: host name and process id")
    version: str
    database: Literal["sqlite", "postgresql"]
    roles: list[Role] = Field(description="the roles this replica holds")
    holders: dict[Role, str | None] = Field(
        description="the replica holding each role (null: none, or not visible from here)"
    )
    chain: ChainHealth
    indexed_block: int | None = Field(description="the index is complete to this block")


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database cannot be reached"}},
    summary="This replica's roles (sender, indexer), its database backend and the chain head",
)
def get_health(context: ContextDep) -> JSONResponse:
    roles = context.roles
    status: Literal["ok", "degraded", "unavailable"] = "ok"
    head = None
    try:
        head = context.chain.head()
    except (Web3Exception, RequestException, RelayerError, OSError) as exc:
        log.warning("health: the chain cannot be reached: %s", type(exc).__name__)
        status = "degraded"
    indexed = None
    holders: dict[Role, str | None] = dict.fromkeys(Role)
    try:
        with context.db.session() as session:
            cursor = session.get(IndexerCursor, CURSOR_ID)
            indexed = None if cursor is None else cursor.block_number
        holders = roles.holders()
    except SQLAlchemyError as exc:
        log.warning("health: the database cannot be reached: %s", type(exc).__name__)
        status = "unavailable"
    health = Health(
        status=status,
        replica=roles.replica,
        version=__version__,
        database="postgresql" if roles.backend == "postgresql" else "sqlite",
        roles=[role for role in Role if roles.held(role)],
        holders=holders,
        chain=ChainHealth(chain_id=context.settings.chain_id, head=head),
        indexed_block=indexed,
    )
    return JSONResponse(
        health.model_dump(mode="json"), status_code=503 if status == "unavailable" else 200
    )
