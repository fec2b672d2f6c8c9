"""Idempotency-Key under concurrency, on the real server: retries sent together with one key get
the stored answer, or 409 `idempotency_in_flight` while the first is still being processed —
never a 500, never two writes; a request that fails frees its key; a reservation left by a
request that never finished is taken over once stale."""

import threading
from datetime import timedelta
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select

from fixtures.api import assert_error, contribution
from relayer.api.idempotency import IN_FLIGHT, STALE_AFTER
from relayer.db import Contribution, IdempotencyKey, utcnow

item = partial(contribution, salt="idempotency test ")
CLIENTS = 12


def stored(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Contribution))


@pytest.mark.both_databases
def test_concurrent_retries_with_one_key_get_the_stored_answer_or_in_flight_never_5xx(
    served, context, operator_headers, alice, bob
):
    body = {"contributions": [item(alice, "a"), item(bob, "b")]}
    headers = {**operator_headers, "Idempotency-Key": "concurrent-1"}
    start = threading.Barrier(CLIENTS)
    answers = []

    def send():
        with httpx.Client(base_url=served.url, timeout=30) as client:
            start.wait()
            response = client.post("/v1/contributions", json=body, headers=headers)
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == CLIENTS
    statuses = sorted(status for status, _ in answers)
    assert set(statuses) <= {201, 409}, answers
    created = [answer for status, answer in answers if status == 201]
    assert created
    assert all(answer == created[0] for answer in created)  # one answer, replayed
    for status, answer in answers:
        if status == 409:
            assert answer["error"]["code"] == "idempotency_in_flight"
    assert stored(context) == 2

    with httpx.Client(base_url=served.url, timeout=30) as client:
        replay = client.post("/v1/contributions", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json() == created[0]


def test_a_request_that_fails_frees_its_key_for_a_retry(api, context, operator_headers, alice):
    headers = {**operator_headers, "Idempotency-Key": "fails-then-retried"}
    failing = {"contributions": [item(alice, "a", data_type="dna")]}
    for _ in range(2):  # the second is refused for the same reason, not as "in flight"
        error = assert_error(
            api.post("/v1/contributions", json=failing, headers=headers), 422, "invalid_input"
        )
        assert "unknown data type" in error["message"]
    with context.db.session() as session:
        assert session.get(IdempotencyKey, "fails-then-retried") is None


def test_a_key_in_flight_answers_409_and_a_stale_reservation_is_taken_over(
    api, context, operator_headers, alice
):
    body = {"contributions": [item(alice, "a")]}
    headers = {**operator_headers, "Idempotency-Key": "left-behind"}
    first = api.post("/v1/contributions", json=body, headers=headers)
    assert first.status_code == 201
    with context.db.session() as session:
        row = session.get(IdempotencyKey, "left-behind")
        request_hash = row.request_hash
        session.delete(row)
        session.query(Contribution).delete()
    with context.db.session() as session:  # as a request that died before its commit leaves it
        session.add(
            IdempotencyKey(
                key="left-behind",
                route="contributions",
                request_hash=request_hash,
                status_code=IN_FLIGHT,
                body="",
            )
        )

    error = assert_error(
        api.post("/v1/contributions", json=body, headers=headers), 409, "idempotency_in_flight"
    )
    assert "still being processed" in error["message"]
    assert stored(context) == 0

    with context.db.session() as session:
        row = session.get(IdempotencyKey, "left-behind")
        row.created_at = utcnow() - timedelta(seconds=STALE_AFTER + 1)
    taken_over = api.post("/v1/contributions", json=body, headers=headers)

    assert taken_over.status_code == 201, taken_over.text
    assert stored(context) == 1
