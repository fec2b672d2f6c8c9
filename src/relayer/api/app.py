"""The FastAPI application: routers, error shape, body limit, and the member page."""

from pathlib import Path

from fastapi import FastAPI

from relayer import __version__
from relayer.api import (
    claims,
    contributions,
    docs,
    epochs,
    errors,
    estimate,
    health,
    licenses,
    members,
    page,
    status,
    union,
)
from relayer.api.limits import BodySizeLimit
from relayer.context import Context


def create_app(context: Context, *, web_dir: Path = page.WEB_DIR) -> FastAPI:
    app = FastAPI(
        title="Data union relayer",
        version=__version__,
        description=(
            "Attributes value to members' contributions, posts shares to the DataUnion contract, "
            "relays gasless claims and serves members' earnings and statements. Operator routes "
            "need `Authorization: Bearer <operator token>`. Every error has the shape "
            '`{"error": {"code", "message", "details"}}`. The member web page is served at `/`.'
        ),
        responses=errors.ERROR_RESPONSES,
        # Served by relayer.api.docs from the installed packages instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.max_body_bytes)
    for module in (
        contributions,
        epochs,
        claims,
        members,
        licenses,
        estimate,
        union,
        status,
        health,
    ):
        app.include_router(module.router)
    app.include_router(page.router(web_dir))
    app.include_router(docs.router(app.title))
    return app
