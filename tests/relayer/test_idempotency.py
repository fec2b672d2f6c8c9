"""Idempotency-Key under concurrency, on the real server: retries sent together with one key wait
for the first and get its stored answer — never a 500, never two writes; a request that fails
frees its key."""

import threading
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select

from fixtures.api import assert_error, contribution
from relayer.db import Contribution, IdempotencyKey

item = partial(contribution, salt="idempotency test ")
CLIENTS = 12


def stored(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Contribution))


@pytest.mark.both_databases
def test_concurrent_retries_with_one_key_get_the_stored_answer_never_5xx(
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
    assert {status for status, _ in answers} == {201}, answers
    created = [answer for _, answer in answers]
    assert all(answer == created[0] for answer in created)  # one answer, replayed
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
