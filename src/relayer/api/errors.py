"""One JSON error shape for every failure: `{"error": {"code", "message", "details"}}`.

Validation details name the field and the rule, never echo the submitted value (it could be a
key or a token pasted into the wrong field). A contract's refusal carries its custom error,
decoded with the ABI, as `details: {"error": name, "args": {…}}`.

This is also the one place where failures from outside the relayer's own code are mapped to
HTTP (`classify`): a node that cannot be reached or times out is 503 `node_unavailable`, a node
that answers an error 502 `chain_error`, a contract revert 422 `contract_reverted`, a database
that cannot be reached or is locked 503 `database_unavailable`; whatever route they come from.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import RequestException, Timeout
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    Web3Exception,
    Web3RPCError,
)

from relayer.errors import (
    ChainError,
    DatabaseUnavailable,
    NodeUnavailable,
    RelayerError,
    Reverted,
    TooManyRequests,
)

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


#: Documented on every route, so the OpenAPI schema shows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse}
    for status in (400, 401, 403, 404, 405, 409, 413, 422, 429, 502, 503)
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | dict[str, Any] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(), status_code=status)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "type": e.get("type"),
            "msg": e.get("msg"),
        }
        for e in exc.errors()
    ]


#: Exceptions of the libraries the relayer stands on that `classify` maps to a RelayerError.
FOREIGN_ERRORS: tuple[type[Exception], ...] = (
    Web3Exception,
    RequestException,
    OperationalError,
    PoolTimeout,
)


def classify(exc: Exception, request: Request | None = None) -> RelayerError | None:
    """The RelayerError a library's exception stands for, or None if it is a bug. The message
    names the kind of failure, never the exception's own text (which can carry the RPC URL)."""
    if isinstance(exc, RelayerError):
        return exc
    if isinstance(exc, ContractLogicError):
        context = getattr(request.app.state, "context", None) if request is not None else None
        if context is not None:
            reverted: Reverted = context.chain.revert_error(exc)
            return reverted
        return Reverted("the contract reverted")
    if isinstance(exc, RequestsConnectionError | Timeout | ProviderConnectionError | TimeExhausted):
        return NodeUnavailable(f"the chain's node did not answer ({type(exc).__name__}); try again")
    if isinstance(exc, Web3RPCError | RequestException | Web3Exception):
        return ChainError(f"the chain's node failed the request ({type(exc).__name__})")
    if isinstance(exc, OperationalError | PoolTimeout):
        return DatabaseUnavailable(f"the database did not answer ({type(exc).__name__}); try again")
    return None


def _relayer_response(exc: RelayerError) -> JSONResponse:
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc)
    response = error_response(exc.status, exc.code, str(exc), exc.details)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(RelayerError)
    async def _relayer_error(_: Request, exc: RelayerError) -> JSONResponse:
        return _relayer_response(exc)

    for foreign in FOREIGN_ERRORS:

        @app.exception_handler(foreign)
        async def _foreign(request: Request, exc: Exception) -> JSONResponse:
            mapped = classify(exc, request)
            if mapped is None:
                log.exception("unexpected error", exc_info=exc)
                return error_response(500, "internal_error", "internal error")
            log.warning("%s: %s", type(exc).__name__, exc)
            return _relayer_response(mapped)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "invalid_request", "the request is invalid", _validation_details(exc)
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. the `Allow` a 405 must carry
        return response

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique or foreign key the request would break: another request (on this replica or
        # another) got there first. The domain code turns the races it knows into a Conflict
        # with a precise message; this keeps any other one a 409, never a 500.
        log.warning("integrity conflict: %s", type(exc.orig).__name__)
        return error_response(
            409, "conflict", "the request conflicts with a concurrent change; read and retry"
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "internal error")
