"""The FastAPI application: routers, error shape, body limit."""

from fastapi import FastAPI

from relayer import __version__
from relayer.api import claims, contributions, epochs, errors, estimate, licenses, members
from relayer.api.limits import BodySizeLimit
from relayer.context import Context


def create_app(context: Context) -> FastAPI:
    app = FastAPI(
        title="Data union relayer",
        version=__version__,
        description=(
            "Attributes value to members' contributions, posts shares to the DataUnion contract, "
            "relays gasless claims and serves members' earnings and statements. Operator routes "
            "need `Authorization: Bearer <operator token>`. Every error has the shape "
            '`{"error": {"code", "message", "details"}}`.'
        ),
        responses=errors.ERROR_RESPONSES,
    )
    app.state.context = context
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.max_body_bytes)
    for module in (contributions, epochs, claims, members, licenses, estimate):
        app.include_router(module.router)
    return app
