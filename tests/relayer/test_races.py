"""Races answer 4xx, never 5xx, on both databases, with real concurrent HTTP requests: two
replicas on PostgreSQL (each with its own connections and locks), one on SQLite (it serves one
process). Concurrent closes plan exactly one epoch; concurrent retries of a failed epoch re-plan
it once; identical contributions under different idempotency keys are stored once; retries
under one key do the work once."""

from functools import partial

import httpx
import pytest
from brownie import web3
from sqlalchemy import func, select

from fixtures.api import assert_error, contribution
from fixtures.replicas import (
    REQUEST_TIMEOUT_S,
    add_members,
    at_once,
    attributions_posted,
    pass_attribution_delay,
    sent_by,
    shares_set,
    wait_for_epoch,
)
from relayer.db import Contribution, Database, Epoch, OutboxTx

pytestmark = pytest.mark.both_databases

#: Members of the raced epoch, posted in batches of BATCH.
MEMBERS, BATCH = 400, 100
#: Requests fired at once.
BURST = 24


def serve(replicas, database_url, **settings):
    """Two replicas on PostgreSQL, one on SQLite; their base URLs."""
    count = 2 if database_url.startswith("postgresql") else 1
    return [service.url for service in replicas(count, batch_size=BATCH, **settings)]


def fire(urls, method, path, count=BURST, **kwargs):
    """`count` identical requests at once, spread over the replicas."""
    return at_once(
        [
            partial(
                httpx.request,
                method,
                f"{urls[i % len(urls)]}{path}",
                timeout=REQUEST_TIMEOUT_S,
                **kwargs,
            )
            for i in range(count)
        ]
    )


def rows(database_url, model, *where):
    db = Database(database_url)
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        db.dispose()


def assert_conflicts(answers):
    for answer in answers:
        assert_error(answer, 409, "conflict")


def test_concurrent_closes_plan_one_epoch_and_answer_the_others_409(
    replicas, database_url, operator_headers, union, relayer_account
):
    members = add_members(database_url, MEMBERS, "close race")
    urls = serve(replicas, database_url)
    first_block = web3.eth.block_number + 1

    answers = fire(urls, "POST", "/v1/epochs/close", headers=operator_headers)

    codes = [answer.status_code for answer in answers]
    assert codes.count(202) == 1, codes
    assert_conflicts([a for a in answers if a.status_code != 202])
    assert answers[codes.index(202)].json()["number"] == 1
    epoch = wait_for_epoch(urls[-1], 1)
    assert rows(database_url, Epoch) == 1
    assert epoch["batches"] == epoch["batches_confirmed"] == MEMBERS // BATCH
    assert union.currentEpoch() == 1
    # Each member's shares were set once, by one batch each: nothing was posted twice.
    assert sorted(member for member, _, _ in shares_set(union, first_block)) == sorted(members)
    assert attributions_posted(union, first_block) == [1] * (MEMBERS // BATCH)
    assert len(sent_by(relayer_account, first_block)) == MEMBERS // BATCH
    # Once due, the sender replica finishes it: one more transaction, and only one.
    pass_attribution_delay(union)
    wait_for_epoch(urls[-1], 1, statuses=("finished",))
    assert len(sent_by(relayer_account, first_block)) == MEMBERS // BATCH + 1


def test_concurrent_closes_while_an_epoch_posts_never_plan_a_second_one(
    replicas, database_url, operator_headers, union
):
    add_members(database_url, MEMBERS, "posting race")
    urls = serve(replicas, database_url)
    closed = httpx.post(f"{urls[0]}/v1/epochs/close", headers=operator_headers, timeout=60)
    assert closed.status_code == 202, closed.text

    answers = fire(urls, "POST", "/v1/epochs/close", headers=operator_headers)

    assert_conflicts(answers)
    wait_for_epoch(urls[-1], 1)
    assert rows(database_url, Epoch) == 1
    assert union.currentEpoch() == 1


def test_concurrent_retries_of_a_failed_epoch_replan_it_once(
    replicas, database_url, operator_headers, union, pauser, relayer_account
):
    members = add_members(database_url, 250, "retry race")
    urls = serve(replicas, database_url)
    union.pause({"from": pauser})
    closed = httpx.post(f"{urls[0]}/v1/epochs/close", headers=operator_headers, timeout=60)
    assert closed.status_code == 202, closed.text
    failed = wait_for_epoch(urls[0], 1, statuses=("failed",))
    assert "DataUnionEnforcedPause" in failed["error"]
    planned = rows(database_url, OutboxTx)
    union.unpause({"from": pauser})
    first_block = web3.eth.block_number + 1

    answers = fire(urls, "POST", "/v1/epochs/1/post", headers=operator_headers)

    assert [answer.status_code for answer in answers] == [202] * BURST
    posted = wait_for_epoch(urls[-1], 1)
    batches = -(-len(members) // BATCH)
    assert (posted["batches"], posted["batches_confirmed"]) == (batches, batches)
    # Every planned row superseded once, and planned again once.
    assert rows(database_url, OutboxTx, OutboxTx.status == "superseded") == planned
    assert rows(database_url, OutboxTx, OutboxTx.status == "confirmed") == planned
    assert sorted(member for member, _, _ in shares_set(union, first_block)) == sorted(members)
    assert [nonce for nonce, _, _ in sent_by(relayer_account, first_block)] == [
        tx["nonce"] for tx in posted["transactions"]
    ]


def test_concurrent_identical_contributions_under_different_keys_are_stored_once(
    replicas, database_url, operator_headers, alice
):
    urls = serve(replicas, database_url)
    body = {"contributions": [contribution(alice, "the same data, twice")]}

    answers = at_once(
        [
            partial(
                httpx.post,
                f"{urls[i % len(urls)]}/v1/contributions",
                json=body,
                headers={**operator_headers, "Idempotency-Key": f"key-{i}"},
                timeout=REQUEST_TIMEOUT_S,
            )
            for i in range(BURST)
        ]
    )

    codes = [answer.status_code for answer in answers]
    assert codes.count(201) == 1, codes
    assert_conflicts([a for a in answers if a.status_code != 201])
    assert rows(database_url, Contribution) == 1


def test_concurrent_retries_under_one_idempotency_key_do_the_work_once(
    replicas, database_url, operator_headers, alice, bob
):
    urls = serve(replicas, database_url)
    body = {"contributions": [contribution(alice, "retried a"), contribution(bob, "retried b")]}

    answers = fire(
        urls,
        "POST",
        "/v1/contributions",
        json=body,
        headers={**operator_headers, "Idempotency-Key": "one key"},
    )

    assert [answer.status_code for answer in answers] == [201] * BURST
    assert len({answer.text for answer in answers}) == 1
    assert [answer.headers.get("Idempotent-Replay") for answer in answers].count(None) == 1
    assert rows(database_url, Contribution) == 2
