"""One JSON error shape for every failure: `{"error": {"code", "message", "details"}}`.

Validation details name the field and the rule, never echo the submitted value (it could be a
key or a token pasted into the wrong field).
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from relayer.errors import RelayerError, TooManyRequests

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


#: Documented on every route, so the OpenAPI schema shows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse}
    for status in (400, 401, 403, 404, 409, 413, 422, 429, 502, 503)
}


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
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


def install(app: FastAPI) -> None:
    @app.exception_handler(RelayerError)
    async def _relayer_error(_: Request, exc: RelayerError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc)
        response = error_response(exc.status, exc.code, str(exc), exc.details)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

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
