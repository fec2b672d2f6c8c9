"""Dependencies shared by the routers: the context and operator authentication."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from relayer.context import Context
from relayer.errors import Unauthorized


async def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def is_operator(context: Context, authorization: str | None) -> bool:
    """True for `Authorization: Bearer <operator token>`, compared in constant time."""
    if not authorization or not authorization.startswith("Bearer "):
        return False
    given = authorization.removeprefix("Bearer ").encode()
    expected = context.settings.operator_token.get_secret_value().encode()
    return hmac.compare_digest(given, expected)


async def require_operator(
    context: Annotated[Context, Depends(get_context)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    if not is_operator(context, authorization):
        raise Unauthorized("this route needs the operator token (Authorization: Bearer …)")


ContextDep = Annotated[Context, Depends(get_context)]
OperatorDep = Depends(require_operator)
