"""`Idempotency-Key`: a retried POST with the same key and body gets the first answer back and
changes nothing; the same key with a different body is a conflict."""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from relayer.db import IdempotencyKey
from relayer.errors import Conflict, InvalidInput
from relayer.locks import serialize

MAX_KEY_LENGTH = 128


def respond_once(
    session: Session,
    key: str | None,
    route: str,
    body: BaseModel,
    status_code: int,
    produce: Callable[[], BaseModel],
) -> JSONResponse:
    """Run `produce` unless `key` was seen before; store its answer in the same transaction."""
    if key is None:
        return JSONResponse(produce().model_dump(mode="json"), status_code=status_code)
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    request_hash = (
        "0x"
        + hashlib.sha256(
            json.dumps([route, body.model_dump(mode="json")], sort_keys=True).encode()
        ).hexdigest()
    )
    # Until this transaction ends: a concurrent retry with the same key (on any replica) waits,
    # then finds the stored answer instead of doing the work a second time.
    serialize(session, "idempotency-key", key)
    seen = session.get(IdempotencyKey, key)
    if seen is not None:
        if seen.request_hash != request_hash or seen.route != route:
            raise Conflict("Idempotency-Key was already used for a different request")
        content: Any = json.loads(seen.body)
        return JSONResponse(
            content, status_code=seen.status_code, headers={"Idempotent-Replay": "true"}
        )
    answer = produce().model_dump(mode="json")
    session.add(
        IdempotencyKey(
            key=key,
            route=route,
            request_hash=request_hash,
            status_code=status_code,
            body=json.dumps(answer),
        )
    )
    return JSONResponse(answer, status_code=status_code)
