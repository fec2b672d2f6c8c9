"""The relayer's wallet under gasless claims: one transaction per signed claim however often and
however concurrently it arrives, answers from the record for re-sends and replays, the claim
policy (minimum, per-member rate, daily gas budget) refusing before any gas is spent, a route to
follow a claim, and node failures answered 503 without a misleading 4xx on the retry."""

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import brownie
import httpx
import pytest
from brownie import web3
from sqlalchemy import func, select

from fixtures.accounts import local_account
from fixtures.api import assert_error
from fixtures.postgres import free_loopback_port
from fixtures.relayer import relayer_settings
from fixtures.union import claim_body, pay, post
from relayer.api.app import create_app
from relayer.context import Context
from relayer.db import OutboxTx, RelayedClaim
from relayer.service import Service

REVENUE = 2_000_000


@pytest.fixture
def earned(union, stablecoin, attester, buyer, alice, bob):
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, REVENUE)
    return union.claimable(alice)


def count(context, model):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def pending_nonce(address):
    return web3.eth.get_transaction_count(address, "pending")


def client_for(context):
    from fastapi.testclient import TestClient

    return TestClient(create_app(context))


@pytest.mark.both_databases
def test_same_claim_sent_50_times_at_once_sends_one_transaction(
    context, union, stablecoin, earned, alice, relayer_account
):
    service = Service(context, port=free_loopback_port(), log_level="warning")
    service.start()
    body = claim_body(union, alice, alice, earned)
    nonce_before = pending_nonce(relayer_account.address)
    answers = []
    barrier = threading.Barrier(50)

    def send():
        with httpx.Client(base_url=service.url, timeout=60) as client:
            barrier.wait()
            answers.append(client.post("/v1/claims", json=body))

    threads = [threading.Thread(target=send) for _ in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        service.shutdown()

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 49 + [202], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["id"] for a in answers}) == 1
    assert pending_nonce(relayer_account.address) == nonce_before + 1
    assert (count(context, OutboxTx), count(context, RelayedClaim)) == (1, 1)
    assert stablecoin.balanceOf(alice) == earned


def test_same_claim_sent_10_times_in_one_block_sends_one_transaction(
    api, context, union, stablecoin, earned, alice, relayer_account, mining
):
    body = claim_body(union, alice, alice, earned)
    nonce_before = pending_nonce(relayer_account.address)
    mining(False)

    answers = [api.post("/v1/claims", json=body) for _ in range(10)]

    assert [a.status_code for a in answers] == [202] + [200] * 9
    assert {a.json()["tx_hash"] for a in answers} == {answers[0].json()["tx_hash"]}
    assert pending_nonce(relayer_account.address) == nonce_before + 1
    brownie.web3.provider.make_request("evm_mine", [])
    [done] = context.outbox.confirm_pending()
    assert done.status == "confirmed"
    assert stablecoin.balanceOf(alice) == earned


def test_claim_sent_again_after_it_was_paid_gets_its_record_not_a_403(
    api, context, union, earned, alice, relayer_account
):
    body = claim_body(union, alice, alice, earned)
    first = api.post("/v1/claims", json=body)
    assert first.status_code == 202, first.text
    context.outbox.confirm_pending()
    nonce_before = pending_nonce(relayer_account.address)

    again = api.post("/v1/claims", json=body)  # a retry, or a replay from the mempool

    assert again.status_code == 200, again.text
    record = again.json()
    assert (record["id"], record["status"]) == (first.json()["id"], "confirmed")
    assert record["tx_hash"] == first.json()["tx_hash"]
    assert (
        record["block_number"] == web3.eth.get_transaction_receipt(record["tx_hash"])["blockNumber"]
    )
    assert pending_nonce(relayer_account.address) == nonce_before


def test_another_claim_for_a_nonce_in_flight_is_a_conflict_naming_the_claim(
    api, context, union, earned, alice, relayer_account, mining
):
    mining(False)
    first = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))
    assert first.status_code == 202, first.text
    nonce_before = pending_nonce(relayer_account.address)

    other = api.post("/v1/claims", json=claim_body(union, alice, alice, earned // 2))

    error = assert_error(other, 409, "conflict")
    assert error["details"] == [
        {"claim_id": first.json()["id"], "status": "sent", "tx_hash": first.json()["tx_hash"]}
    ]
    assert pending_nonce(relayer_account.address) == nonce_before


def test_claim_signed_for_the_next_nonce_while_one_is_in_flight_is_a_conflict(
    api, union, earned, alice, relayer_account, mining
):
    mining(False)
    first = api.post("/v1/claims", json=claim_body(union, alice, alice, earned // 2))
    assert first.status_code == 202, first.text
    nonce_before = pending_nonce(relayer_account.address)

    ahead = api.post("/v1/claims", json=claim_body(union, alice, alice, earned // 4, nonce=1))

    error = assert_error(ahead, 409, "conflict")
    assert "still in flight" in error["message"]
    assert error["details"][0]["claim_id"] == first.json()["id"]
    assert pending_nonce(relayer_account.address) == nonce_before


def test_claim_whose_nonce_the_member_used_on_chain_is_a_conflict_and_sends_nothing(
    api, context, union, stablecoin, earned, alice, relayer_account
):
    body = claim_body(union, alice, alice, earned)
    union.claim(alice, earned, {"from": alice})  # a member who signed, then paid gas after all
    union.invalidateNonce({"from": alice})
    nonce_before = pending_nonce(relayer_account.address)

    error = assert_error(api.post("/v1/claims", json=body), 409, "conflict")

    assert "nonce 0" in error["message"]
    assert "already used on-chain" in error["message"]
    assert pending_nonce(relayer_account.address) == nonce_before
    assert count(context, RelayedClaim) == 0


def test_claim_below_the_minimum_is_refused_before_any_gas(
    union, relayer_account, database_url, operator_token, earned, alice
):
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, claim_min_amount="5"
    )
    context = Context.from_settings(settings)
    nonce_before = pending_nonce(relayer_account.address)
    with client_for(context) as api:
        error = assert_error(
            api.post("/v1/claims", json=claim_body(union, alice, alice, earned)),
            422,
            "claim_below_minimum",
        )
        policy = api.get("/v1/union").json()["claim_policy"]
    context.close()

    assert error["details"] == [{"min_amount": "5000000", "amount": str(earned)}]
    assert policy["min_amount"] == "5000000"
    assert pending_nonce(relayer_account.address) == nonce_before


def test_member_over_the_daily_claim_rate_is_refused_with_retry_after(
    union, relayer_account, database_url, operator_token, earned, alice, bob
):
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, claim_max_per_member_per_day=1
    )
    context = Context.from_settings(settings)
    with client_for(context) as api:
        assert (
            api.post("/v1/claims", json=claim_body(union, alice, alice, earned // 2)).status_code
            == 202
        )
        context.outbox.confirm_pending()
        nonce_before = pending_nonce(relayer_account.address)
        second = api.post("/v1/claims", json=claim_body(union, alice, alice, earned // 4))
        other_member = api.post("/v1/claims", json=claim_body(union, bob, bob, earned // 2))
    context.close()

    error = assert_error(second, 429, "claim_rate_limited")
    assert "in the last 24 hours" in error["message"]
    assert 86_000 < int(second.headers["Retry-After"]) <= 86_400
    assert other_member.status_code == 202, other_member.text
    assert pending_nonce(relayer_account.address) == nonce_before + 1


def test_daily_gas_budget_refuses_claims_beyond_it_before_any_gas(
    union, relayer_account, database_url, operator_token, earned, alice, bob
):
    probe = relayer_settings(union, relayer_account, database_url, operator_token)
    context = Context.from_settings(probe)
    with client_for(context) as api:
        first = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))
        assert first.status_code == 202, first.text
        context.outbox.confirm_pending()
        committed = int(api.get("/v1/union").json()["claim_policy"]["gas_committed"])
    context.close()
    assert committed > 0
    # A budget that the first claim almost spent leaves no room for a second.
    budget = f"{committed * 3 // 2 / 10**18:.18f}"
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, claim_daily_gas_budget=budget
    )
    context = Context.from_settings(settings)
    nonce_before = pending_nonce(relayer_account.address)
    with client_for(context) as api:
        refused = api.post("/v1/claims", json=claim_body(union, bob, bob, earned))
        policy = api.get("/v1/union").json()["claim_policy"]
    context.close()

    error = assert_error(refused, 429, "claim_budget_exhausted")
    assert "daily gas budget" in error["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert policy["gas_committed"] == str(committed)
    assert policy["daily_gas_budget"] == str(int(Decimal(budget) * 10**18))
    assert pending_nonce(relayer_account.address) == nonce_before


def test_claim_policy_and_paying_key_are_shown_in_union_info(api, context, relayer_account):
    policy = api.get("/v1/union").json()["claim_policy"]

    assert policy == {
        "relayer": relayer_account.address,
        "min_amount": "10000",  # 0.01 of a 6-decimal token
        "max_per_member_per_day": 10,
        "daily_gas_budget": str(5 * 10**17),
        "gas_committed": "0",
    }


def test_claim_amount_and_deadline_may_be_decimal_strings(api, union, stablecoin, earned, alice):
    body = claim_body(union, alice, alice, earned)
    body.update(amount=str(body["amount"]), deadline=str(body["deadline"]))

    response = api.post("/v1/claims", json=body)

    assert response.status_code == 202, response.text
    assert response.json()["amount"] == str(earned)
    assert stablecoin.balanceOf(alice) == earned


def test_relayed_claim_can_be_followed_until_confirmed(api, context, union, earned, alice, mining):
    mining(False)
    accepted = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))
    assert accepted.status_code == 202, accepted.text
    claim_id = accepted.json()["id"]

    sent = api.get(f"/v1/claims/{claim_id}").json()
    brownie.web3.provider.make_request("evm_mine", [])
    context.outbox.confirm_pending()
    confirmed = api.get(f"/v1/claims/{claim_id}").json()

    assert (sent["status"], sent["block_number"]) == ("sent", None)
    assert sent["tx_hash"] == accepted.json()["tx_hash"]
    assert confirmed["status"] == "confirmed"
    receipt = web3.eth.get_transaction_receipt(confirmed["tx_hash"])
    assert confirmed["block_number"] == receipt["blockNumber"]
    assert (confirmed["member"], confirmed["amount"], confirmed["nonce"]) == (
        alice.address,
        str(earned),
        "0",
    )


def test_following_an_unknown_or_malformed_claim_id_answers_in_the_error_shape(api):
    assert "999" in assert_error(api.get("/v1/claims/999"), 404, "not_found")["message"]
    for bad in ("0", "-1", "abc", str(2**63), str(2**64)):
        assert_error(api.get(f"/v1/claims/{bad}"), 422, "invalid_request")


def test_separate_claim_key_pays_for_claims_and_not_the_attester_key(
    union, relayer_account, database_url, operator_token, admin, earned, alice, stablecoin
):
    payer = local_account("claim payer")
    admin.transfer(payer, "1 ether")
    settings = relayer_settings(
        union,
        relayer_account,
        database_url,
        operator_token,
        claim_private_key=payer.private_key,
    )
    context = Context.from_settings(settings)
    attester_nonce = pending_nonce(relayer_account.address)
    payer_nonce = pending_nonce(payer.address)
    with client_for(context) as api:
        assert api.get("/v1/union").json()["claim_policy"]["relayer"] == payer.address
        accepted = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))
        assert accepted.status_code == 202, accepted.text
        [done] = context.claim_outbox.confirm_pending()
        keys = api.get("/v1/status").json()["keys"]
    assert context.outbox.confirm_pending() == []  # the attester's outbox leaves it alone
    context.close()

    assert web3.eth.get_transaction(accepted.json()["tx_hash"])["from"] == payer.address
    assert done.status == "confirmed"
    assert (pending_nonce(relayer_account.address), pending_nonce(payer.address)) == (
        attester_nonce,
        payer_nonce + 1,
    )
    assert [(k["role"], k["address"]) for k in keys] == [
        ("attester", relayer_account.address),
        ("claims", payer.address),
    ]
    assert stablecoin.balanceOf(alice) == earned


def test_underfunded_claim_key_refuses_before_signing_and_raises_an_alarm(
    union, relayer_account, database_url, operator_token, earned, alice, caplog
):
    payer = local_account("empty claim payer")
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, claim_private_key=payer.private_key
    )
    context = Context.from_settings(settings)
    with client_for(context) as api:
        refused = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))
        status = api.get("/v1/status").json()
    context.close()

    assert_error(refused, 503, "relayer_unfunded")
    assert pending_nonce(payer.address) == 0
    assert count(context, RelayedClaim) == 0
    assert any(
        r.levelname == "ERROR" and "ALARM claims key" in r.getMessage() for r in caplog.records
    )
    assert status["ok"] is False
    assert [k["low_balance"] for k in status["keys"]] == [False, True]


def test_claim_while_the_node_answers_503_is_a_503_and_records_nothing(
    union, relayer_account, database_url, operator_token, earned, alice, fault_proxy
):
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, rpc_url=fault_proxy.url
    )
    context = Context.from_settings(settings)
    body = claim_body(union, alice, alice, earned)
    with client_for(context) as api:
        fault_proxy.mode = "503"
        error = assert_error(api.post("/v1/claims", json=body), 503, "node_unavailable")
    context.close()

    assert fault_proxy.url not in error["message"]
    assert count(context, RelayedClaim) == 0


def test_claim_whose_broadcast_answer_is_lost_is_paid_once_and_its_retry_gets_the_record(
    union, relayer_account, database_url, operator_token, earned, alice, stablecoin, fault_proxy
):
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, rpc_url=fault_proxy.url
    )
    context = Context.from_settings(settings)
    body = claim_body(union, alice, alice, earned)
    nonce_before = pending_nonce(relayer_account.address)
    with client_for(context) as api:
        fault_proxy.drop_answer_of = {"eth_sendRawTransaction"}
        accepted = api.post("/v1/claims", json=body)
        fault_proxy.drop_answer_of = set()
        retried = api.post("/v1/claims", json=body)
        [done] = context.outbox.confirm_pending()
        followed = api.get(f"/v1/claims/{accepted.json()['id']}").json()
    context.close()

    assert accepted.status_code == 202, accepted.text
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == accepted.json()["id"]
    assert done.status == "confirmed"
    assert followed["status"] == "confirmed"
    assert pending_nonce(relayer_account.address) == nonce_before + 1
    assert stablecoin.balanceOf(alice) == earned


def test_claims_from_many_members_at_once_each_send_one_transaction(
    context, union, stablecoin, attester, buyer, relayer_account
):
    members = [local_account(f"claimant {i}") for i in range(6)]
    post(union, attester, 1, dict.fromkeys(members, 100))
    pay(stablecoin, union, buyer, 6_000_000)
    bodies = [claim_body(union, m, m, union.claimable(m)) for m in members]
    nonce_before = pending_nonce(relayer_account.address)
    answers = []

    with client_for(context) as api:
        threads = [
            threading.Thread(target=lambda b=b: answers.append(api.post("/v1/claims", json=b)))
            for b in bodies * 3
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    deadline = time.monotonic() + 30
    while context.outbox.confirm_pending() and time.monotonic() < deadline:
        pass

    assert sorted(a.status_code for a in answers) == [200] * 12 + [202] * 6
    assert pending_nonce(relayer_account.address) == nonce_before + 6
    assert all(union.claimable(m) == 0 for m in members)


def test_reservation_left_by_a_crash_before_signing_does_not_block_its_nonce(
    api, context, union, stablecoin, earned, alice
):
    with context.db.session() as session:
        session.add(
            RelayedClaim(
                member=alice.address,
                nonce="0",
                digest="0x" + "ee" * 32,
                to=alice.address,
                amount="1",
                deadline="1",
                max_cost="1",
                created_at=datetime.now(UTC) - timedelta(minutes=10),
            )
        )

    accepted = api.post("/v1/claims", json=claim_body(union, alice, alice, earned))

    assert accepted.status_code == 202, accepted.text
    assert count(context, RelayedClaim) == 1
    assert stablecoin.balanceOf(alice) == earned
