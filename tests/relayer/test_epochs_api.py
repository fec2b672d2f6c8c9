"""/v1/epochs: closing an epoch freezes its report and posts only the shares that changed, in
batches, on the real chain; the epoch then waits out the attribution delay (pending, with its due
time) and is finished; a failed or interrupted epoch blocks the next one until it is posted;
the served report is the one whose hash is on-chain and recomputes every member's shares."""

from datetime import datetime
from functools import partial

import pytest
from brownie import web3
from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web3.logs import DISCARD

from fixtures.api import assert_error, close_epoch, contribution, index, post_epoch
from fixtures.epochs import finish_when_due
from fixtures.relayer import relayer_settings
from fixtures.union import pay
from relayer.api.app import create_app
from relayer.attribution import verify_report
from relayer.context import Context
from relayer.db import Epoch, OutboxTx

REVENUE = 10_000_000  # 10 tokens of 6 decimals


#: This module's contributions (content hashes salted as they always were here).
item = partial(contribution, salt="epochs api test ")


def contribute(api, headers, *items):
    response = api.post("/v1/contributions", json={"contributions": list(items)}, headers=headers)
    assert response.status_code == 201, response.text


def close(api, headers, context=None):
    """Close the next epoch; the test client runs its posting before returning. With `context`,
    wait out the delay and finish it too. Returns the epoch as GET /v1/epochs/{n} shows it."""
    response = api.post("/v1/epochs/close", headers=headers)
    assert response.status_code == 202, response.text
    number = response.json()["number"]
    if context is not None and api.get(f"/v1/epochs/{number}").json()["status"] == "pending":
        finish_when_due(context, number)
    return api.get(f"/v1/epochs/{number}").json()


def count(context, model):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def onchain_report_hash(union):
    return "0x" + bytes(union.currentReportHash()).hex()


def shares_set(context, epoch):
    """(member, shares) of every SharesSet the epoch's transactions emitted, in order."""
    event = context.chain.contract.events.SharesSet()
    found = []
    for tx in epoch["transactions"]:
        receipt = web3.eth.get_transaction_receipt(tx["tx_hash"])
        found += [(e.args.member, e.args.shares) for e in event.process_receipt(receipt, DISCARD)]
    return found


def relayer_nonce(relayer_account):
    return web3.eth.get_transaction_count(relayer_account.address, "pending")


def assert_chain_holds_report(api, union, epoch):
    """The served report hashes to the on-chain reportHash and recomputes the on-chain shares."""
    report = api.get(f"/v1/epochs/{epoch['number']}/report").content
    verified = verify_report(report)
    assert verified.report_hash == epoch["report_hash"] == onchain_report_hash(union)
    assert {member: union.sharesOf(member) for member in verified.shares} == verified.shares
    return verified


def test_close_without_the_operator_token_is_unauthorized_and_writes_nothing(
    api, context, operator_headers, operator_token, alice
):
    contribute(api, operator_headers, item(alice, "a"))
    for headers in (
        {},
        {"Authorization": "Bearer " + "ab" * 24},
        {"Authorization": f"Bearer {operator_token}0"},
        {"Authorization": operator_token},
        {"Authorization": f"Basic {operator_token}"},
    ):
        error = assert_error(api.post("/v1/epochs/close", headers=headers), 401, "unauthorized")
        assert error["details"] is None
    assert (count(context, Epoch), count(context, OutboxTx)) == (0, 0)


def test_close_with_no_contributions_is_a_conflict(api, context, operator_headers):
    error = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")
    assert "no contributions" in error["message"]
    assert (count(context, Epoch), count(context, OutboxTx)) == (0, 0)


def test_closed_epoch_is_posted_pending_until_due_then_finished_with_the_report_on_chain(
    api, context, operator_headers, union, relayer_account, alice, bob
):
    contribute(
        api,
        operator_headers,
        item(alice, "a", records=300),
        item(bob, "b", data_type="browsing", records=1000, quality=0.5),
    )
    first_nonce = relayer_nonce(relayer_account)

    closed = api.post("/v1/epochs/close", headers=operator_headers)

    assert closed.status_code == 202, closed.text
    assert (closed.json()["number"], closed.json()["status"]) == (1, "posting")
    pending = api.get("/v1/epochs/1").json()
    assert pending["status"] == "pending"
    assert pending["error"] is None
    assert pending["posted_at"] is not None
    assert pending["finished_at"] is None
    batch = web3.eth.get_transaction_receipt(pending["transactions"][0]["tx_hash"])
    posted_time = web3.eth.get_block(batch["blockNumber"])["timestamp"]
    due = datetime.fromisoformat(pending["due_at"])
    assert due.timestamp() == posted_time + union.ATTRIBUTION_DELAY()
    assert [(tx["purpose"], tx["status"]) for tx in pending["transactions"]] == [
        ("attribution", "confirmed")
    ]
    assert (union.currentEpoch(), union.attributionInProgress()) == (1, True)
    assert [int(v) for v in union.attributionState()] == [1, 1, due.timestamp()]

    finish_when_due(context, 1)

    epoch = api.get("/v1/epochs/1").json()
    assert (epoch["status"], epoch["error"]) == ("finished", None)
    assert epoch["finished_at"] is not None
    assert (epoch["batches"], epoch["batches_confirmed"], epoch["members"]) == (1, 1, 2)
    assert [(tx["purpose"], tx["status"], tx["nonce"]) for tx in epoch["transactions"]] == [
        ("attribution", "confirmed", first_nonce),
        ("finish", "confirmed", first_nonce + 1),
    ]
    for tx in epoch["transactions"]:
        receipt = web3.eth.get_transaction_receipt(tx["tx_hash"])
        assert receipt["status"] == 1
        assert (tx["block_number"], tx["gas_used"]) == (receipt["blockNumber"], receipt["gasUsed"])
    assert api.get("/v1/epochs").json() == {"epochs": [epoch]}

    report = api.get("/v1/epochs/1/report")
    assert report.headers["content-type"] == "application/json"
    assert "0x" + keccak(report.content).hex() == onchain_report_hash(union)
    verified = assert_chain_holds_report(api, union, epoch)
    assert verified.shares == {alice.address: 3_000_000_000, bob.address: 500_000_000}
    assert epoch["total_shares"] == str(union.totalShares()) == "3500000000"
    assert (union.currentEpoch(), union.attributionInProgress()) == (1, False)


def test_epoch_is_posted_in_batches_of_the_configured_size(
    union, relayer_account, database_url, operator_token, operator_headers
):
    settings = relayer_settings(union, relayer_account, database_url, operator_token, batch_size=2)
    context = Context.from_settings(settings)
    members = [to_checksum_address(keccak(text=f"epochs api member {i}")[-20:]) for i in range(5)]
    first_nonce = relayer_nonce(relayer_account)
    try:
        with TestClient(create_app(context)) as api:
            contribute(
                api,
                operator_headers,
                *(item(m, f"m{i}", records=10 * (i + 1)) for i, m in enumerate(members)),
            )
            epoch = close(api, operator_headers, context)
            assert_chain_holds_report(api, union, epoch)
            per_batch = [
                len(shares_set(context, {"transactions": [tx]})) for tx in epoch["transactions"]
            ]
    finally:
        context.close()

    assert epoch["status"] == "finished"
    assert (epoch["batches"], epoch["batches_confirmed"]) == (3, 3)
    assert [(tx["purpose"], tx["batch"], tx["status"]) for tx in epoch["transactions"]] == [
        ("attribution", 0, "confirmed"),
        ("attribution", 1, "confirmed"),
        ("attribution", 2, "confirmed"),
        ("finish", None, "confirmed"),
    ]
    assert [tx["nonce"] for tx in epoch["transactions"]] == list(
        range(first_nonce, first_nonce + 4)
    )
    assert per_batch == [2, 2, 1, 0]
    assert [union.sharesOf(m) for m in members] == [100_000_000 * (i + 1) for i in range(5)]


def test_next_epoch_sends_only_the_members_whose_shares_changed(
    api, context, operator_headers, union, alice, bob, carol
):
    contribute(
        api, operator_headers, item(alice, "a"), item(bob, "b"), item(carol, "c", records=50)
    )
    first = close(api, operator_headers, context)
    assert sorted(shares_set(context, first)) == sorted(
        [(alice.address, 1_000_000_000), (bob.address, 1_000_000_000), (carol.address, 500_000_000)]
    )
    contribute(api, operator_headers, item(bob, "b2", data_type="browsing", records=100))

    second = close(api, operator_headers, context)

    assert (second["number"], second["status"], second["batches"]) == (2, "finished", 1)
    assert shares_set(context, second) == [(bob.address, 1_100_000_000)]
    assert second["members"] == 3  # the report still lists everyone
    verified = assert_chain_holds_report(api, union, second)
    assert verified.shares == {
        alice.address: 1_000_000_000,
        bob.address: 1_100_000_000,
        carol.address: 500_000_000,
    }
    assert union.currentEpoch() == 2


def test_deleted_data_zeroes_the_members_shares_and_keeps_their_earnings_claimable(
    api, context, operator_headers, union, stablecoin, buyer, alice, bob
):
    contribute(api, operator_headers, item(alice, "a"), item(bob, "b"))
    close(api, operator_headers, context)
    pay(stablecoin, union, buyer, REVENUE)
    earned = union.claimable(alice)
    assert earned > 0
    deleted = api.request("DELETE", f"/v1/members/{alice.address}/data", headers=operator_headers)
    assert deleted.json()["deleted"] == 1

    second = close(api, operator_headers, context)

    assert second["status"] == "finished"
    assert shares_set(context, second) == [(alice.address, 0)]
    assert_chain_holds_report(api, union, second)
    assert (union.sharesOf(alice), union.sharesOf(bob)) == (0, 1_000_000_000)
    assert union.claimable(alice) == earned
    bob_before = union.claimable(bob)
    pay(stablecoin, union, buyer, REVENUE)
    assert union.claimable(alice) == earned  # nothing more accrues to zero shares
    assert union.claimable(bob) > bob_before
    union.claim(alice, earned, {"from": alice})
    assert stablecoin.balanceOf(alice) == earned


@pytest.mark.parametrize("indexed", [True, False], ids=["leave indexed", "leave not indexed yet"])
def test_member_who_left_is_not_reattributed_until_they_contribute_again(
    api, context, operator_headers, union, alice, bob, indexed
):
    contribute(api, operator_headers, item(alice, "a", records=300), item(bob, "b"))
    close(api, operator_headers, context)
    union.leave({"from": alice})
    if indexed:
        index(context)
    contribute(api, operator_headers, item(bob, "b2"))

    second = close(api, operator_headers, context)

    assert second["status"] == "finished"
    verified = assert_chain_holds_report(api, union, second)
    assert verified.shares == {alice.address: 0, bob.address: 2_000_000_000}
    assert union.sharesOf(alice) == 0

    contribute(api, operator_headers, item(alice, "a2", data_type="browsing", records=100))
    third = close(api, operator_headers, context)

    assert shares_set(context, third) == [(alice.address, 100_000_000)]
    verified = assert_chain_holds_report(api, union, third)
    assert verified.shares[alice.address] == union.sharesOf(alice) == 100_000_000


def test_failed_epoch_shows_the_decoded_error_blocks_the_next_and_posts_on_retry(
    api, context, operator_headers, union, pauser, relayer_account, alice, bob
):
    contribute(api, operator_headers, item(alice, "a"), item(bob, "b"))
    union.pause({"from": pauser})
    nonce_before = relayer_nonce(relayer_account)

    failed = close(api, operator_headers)

    assert failed["status"] == "failed"
    assert "DataUnionEnforcedPause" in failed["error"]
    assert [(tx["purpose"], tx["status"], tx["nonce"]) for tx in failed["transactions"]] == [
        ("attribution", "failed", None),
    ]
    assert relayer_nonce(relayer_account) == nonce_before
    blocked = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")
    assert "epoch 1 is failed" in blocked["message"]
    assert count(context, Epoch) == 1

    union.unpause({"from": pauser})
    retried = api.post("/v1/epochs/1/post", headers=operator_headers)

    assert retried.status_code == 202, retried.text
    assert api.get("/v1/epochs/1").json()["status"] == "pending"
    finish_when_due(context, 1)
    epoch = api.get("/v1/epochs/1").json()
    assert (epoch["status"], epoch["error"]) == ("finished", None)
    assert [(tx["purpose"], tx["status"], tx["nonce"]) for tx in epoch["transactions"]] == [
        ("attribution", "confirmed", nonce_before),
        ("finish", "confirmed", nonce_before + 1),
    ]
    assert relayer_nonce(relayer_account) == nonce_before + 2
    assert_chain_holds_report(api, union, epoch)
    assert union.currentEpoch() == 1


class Crash(Exception):
    """Raised from the progress hook: the poster dies after its first transaction."""


def test_epoch_left_closed_or_posting_blocks_the_next_and_resumes_on_post(
    api, context, operator_headers, operator_token, union, relayer_account, alice, bob
):
    settings = relayer_settings(
        union, relayer_account, context.settings.database_url, operator_token, batch_size=1
    )
    poster = Context.from_settings(settings)
    contribute(api, operator_headers, item(alice, "a"), item(bob, "b"))
    try:
        closed = close_epoch(poster)
        nonce_before = relayer_nonce(relayer_account)

        blocked = assert_error(
            api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict"
        )
        assert f"epoch {closed.number} is closed" in blocked["message"]

        def crash(_row):
            raise Crash

        with pytest.raises(Crash):
            post_epoch(poster, closed.number, progress=crash)
    finally:
        poster.close()
    posting = api.get(f"/v1/epochs/{closed.number}").json()
    assert posting["status"] == "posting"
    assert [tx["status"] for tx in posting["transactions"]] == ["confirmed", "pending"]
    blocked = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")
    assert f"epoch {closed.number} is posting" in blocked["message"]

    resumed = api.post(f"/v1/epochs/{closed.number}/post", headers=operator_headers)

    assert resumed.status_code == 202, resumed.text
    epoch = api.get(f"/v1/epochs/{closed.number}").json()
    assert epoch["status"] == "pending"
    assert [tx["nonce"] for tx in epoch["transactions"]] == [nonce_before, nonce_before + 1]
    assert relayer_nonce(relayer_account) == nonce_before + 2
    assert_chain_holds_report(api, union, epoch)
    assert count(context, Epoch) == 1


def test_unknown_epoch_is_not_found_and_a_malformed_number_is_invalid(api, operator_headers):
    for path in ("/v1/epochs/7", "/v1/epochs/7/report"):
        assert_error(api.get(path), 404, "not_found")
    assert_error(api.post("/v1/epochs/7/post", headers=operator_headers), 404, "not_found")
    for number in ("0", "-1", "1.5", "one", str(2**64)):
        for path in (f"/v1/epochs/{number}", f"/v1/epochs/{number}/report"):
            error = assert_error(api.get(path), 422, "invalid_request")
            assert error["details"][0]["loc"] == ["path", "number"]
        assert_error(
            api.post(f"/v1/epochs/{number}/post", headers=operator_headers), 422, "invalid_request"
        )
