"""`Idempotency-Key`: a retried POST with the same key and body gets the first answer back and
changes nothing; the same key with a different body is a conflict.

Concurrent retries: the first request reserves the key in a transaction of its own before it
does any work, and stores its answer in the same transaction as its writes. A retry that arrives
while the first is still working answers 409 `idempotency_in_flight` at once (retry after a
moment: it then gets the stored answer); a retry after it gets the stored answer. A request that
fails frees its key, so a retry does the work again. A reservation left by a process that died
mid-request is taken over once it is older than `STALE_AFTER` seconds.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relayer.db import Database, IdempotencyKey, utcnow
from relayer.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 128
#: A reservation's status code while its request is being worked on.
IN_FLIGHT = 0
#: Seconds after which a reservation whose request never finished is taken over.
STALE_AFTER = 120.0


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"


def _request_hash(route: str, body: BaseModel) -> str:
    payload = json.dumps([route, body.model_dump(mode="json")], sort_keys=True).encode()
    return "0x" + hashlib.sha256(payload).hexdigest()


def _replay(seen: IdempotencyKey, route: str, request_hash: str) -> JSONResponse:
    if seen.request_hash != request_hash or seen.route != route:
        raise Conflict("Idempotency-Key was already used for a different request")
    if seen.status_code == IN_FLIGHT:
        raise IdempotencyInFlight(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
        )
    content: Any = json.loads(seen.body)
    return JSONResponse(
        content, status_code=seen.status_code, headers={"Idempotent-Replay": "true"}
    )


def _reserve(db: Database, key: str, route: str, request_hash: str) -> IdempotencyKey | None:
    """Reserve `key` in a committed transaction of its own; the row already there if another
    request holds it (None once reserved here)."""
    for _ in range(2):
        try:
            with db.session() as session:
                session.add(
                    IdempotencyKey(
                        key=key,
                        route=route,
                        request_hash=request_hash,
                        status_code=IN_FLIGHT,
                        body="",
                    )
                )
            return None
        except IntegrityError:
            pass
        with db.session() as session:
            seen = session.get(IdempotencyKey, key)
            if seen is None:
                continue  # freed in between: try again
            stale = utcnow() - seen.created_at > timedelta(seconds=STALE_AFTER)
            if seen.status_code != IN_FLIGHT or not stale:
                session.expunge(seen)
                return seen
            # Left by a request that never finished: take it over, once (compare-and-delete).
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.key == key,
                    IdempotencyKey.status_code == IN_FLIGHT,
                    IdempotencyKey.created_at == seen.created_at,
                )
            )
    raise IdempotencyInFlight("Idempotency-Key is contended; retry in a moment")


def _release(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.key == key, IdempotencyKey.status_code == IN_FLIGHT
            )
        )


def respond_once(
    db: Database,
    key: str | None,
    route: str,
    body: BaseModel,
    status_code: int,
    produce: Callable[[Session], BaseModel],
) -> JSONResponse:
    """Run `produce` in a new session unless `key` was seen before, and store its answer in the
    same transaction (see the module docstring for concurrent retries)."""
    if key is None:
        with db.session() as session:
            answer = produce(session).model_dump(mode="json")
        return JSONResponse(answer, status_code=status_code)
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    request_hash = _request_hash(route, body)
    with db.session() as session:
        seen = session.get(IdempotencyKey, key)
        if seen is not None:
            session.expunge(seen)
    if seen is None or seen.status_code == IN_FLIGHT:
        seen = _reserve(db, key, route, request_hash)
    if seen is not None:
        return _replay(seen, route, request_hash)
    try:
        with db.session() as session:
            answer = produce(session).model_dump(mode="json")
            reserved = session.get(IdempotencyKey, key)
            if reserved is None or reserved.status_code != IN_FLIGHT:
                raise IdempotencyInFlight("Idempotency-Key was taken over; retry in a moment")
            reserved.status_code, reserved.body = status_code, json.dumps(answer)
    except BaseException:
        # After the rollback (SQLite would otherwise wait on this very transaction's lock).
        _release(db, key)
        raise
    return JSONResponse(answer, status_code=status_code)
