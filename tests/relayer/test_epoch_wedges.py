"""Nothing a member or the operator submits can stop attribution: contributions the chain would
refuse are refused when they come in, epochs whose values overflow the contract's caps are
scaled into them, and an epoch that still cannot be posted is abandoned by the operator (API or
`relayer epoch abandon`), after which the next epoch closes and posts. Posted epochs are pending
for the attribution delay; a test that closes another epoch finishes the previous one first."""

import logging
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fixtures.api import assert_error, close, close_epoch, contribution, post_epoch
from fixtures.epochs import finish_when_due
from fixtures.relayer import relayer_settings
from relayer.api.app import create_app
from relayer.attribution import SHARE_CAP, verify_report
from relayer.context import Context
from relayer.db import Contribution, Epoch

ZERO = "0x" + "00" * 20
#: Health records (10 units of value each, 10^7 micro-unit shares) that together pass the cap.
HALF_CAP_RECORDS = SHARE_CAP // (2 * 10**7) + 1

item = partial(contribution, salt="epoch wedges ")


def contribute(api, headers, *items):
    return api.post("/v1/contributions", json={"contributions": list(items)}, headers=headers)


def stored(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Contribution))


def assert_posted_as_reported(api, union, epoch):
    assert epoch["status"] == "pending", epoch
    verified = verify_report(api.get(f"/v1/epochs/{epoch['number']}/report").content)
    assert verified.report_hash == epoch["report_hash"]
    assert {m: union.sharesOf(m) for m in verified.shares} == verified.shares
    assert union.totalShares() == sum(verified.shares.values()) <= SHARE_CAP
    return verified


@pytest.fixture
def small_batches(union, relayer_account, database_url, operator_token):
    """A relayer that posts one member per batch, so the order of batches shows on-chain."""
    settings = relayer_settings(union, relayer_account, database_url, operator_token, batch_size=1)
    context = Context.from_settings(settings)
    with TestClient(create_app(context)) as client:
        yield context, client
    context.close()


@pytest.mark.both_databases
@pytest.mark.parametrize("who", ["zero address", "union"])
def test_a_contribution_for_an_address_that_cannot_hold_shares_is_refused(
    api, context, operator_headers, union, alice, who
):
    member = ZERO if who == "zero address" else union.address
    for address in (member, member.lower()):
        response = contribute(
            api, operator_headers, item(alice, f"{who} {address}", member=address)
        )
        error = assert_error(response, 422, "invalid_input")
        assert "cannot hold shares" in error["message"]
    assert stored(context) == 0

    assert contribute(api, operator_headers, item(alice, "a")).status_code == 201
    assert_posted_as_reported(api, union, close(api, operator_headers))


@pytest.mark.both_databases
def test_a_contribution_worth_more_than_a_member_may_hold_is_refused_and_the_epoch_posts(
    api, context, operator_headers, union, alice, bob
):
    giant = item(bob, "giant", records=2 * 10**11)  # 2 x 10^18 shares at full quality
    error = assert_error(contribute(api, operator_headers, giant), 422, "invalid_input")
    assert "over the contract's cap" in error["message"]
    assert stored(context) == 0

    assert contribute(api, operator_headers, item(alice, "a")).status_code == 201
    verified = assert_posted_as_reported(api, union, close(api, operator_headers))
    assert verified.shares == {alice.address: 1_000_000_000}


@pytest.mark.both_databases
def test_contributions_that_together_pass_the_cap_are_scaled_and_the_next_epoch_posts(
    small_batches, operator_headers, union, alice, bob, carol
):
    context, api = small_batches
    for member in (alice, bob):
        big = item(member, f"big {member}", records=HALF_CAP_RECORDS)
        assert contribute(api, operator_headers, big).status_code == 201

    first = close(api, operator_headers)

    verified = assert_posted_as_reported(api, union, first)
    assert verified.shares[alice.address] == verified.shares[bob.address] > 0
    assert union.totalShares() > SHARE_CAP - 2  # the whole cap, less rounding
    finish_when_due(context, first["number"])

    # A newcomer makes the scale shrink: alice and bob go down, carol up. Were carol's batch
    # sent first, the total would pass the cap and the contract would refuse it.
    assert contribute(api, operator_headers, item(carol, "c", records=10**9)).status_code == 201
    second = close(api, operator_headers)

    verified = assert_posted_as_reported(api, union, second)
    assert 0 < verified.shares[carol.address] < verified.shares[alice.address]
    batches = [tx for tx in second["transactions"] if tx["purpose"] == "attribution"]
    assert len(batches) == 3
    assert batches[-1]["nonce"] > batches[0]["nonce"]
    report = api.get("/v1/epochs/2/report").json()
    assert report["scale"]["numerator"] == str(SHARE_CAP)


@pytest.mark.both_databases
def test_a_stored_contribution_for_the_zero_address_is_skipped_at_close(
    api, context, operator_headers, union, alice, caplog
):
    """A row stored before contributions were checked cannot wedge an epoch."""
    with context.db.session() as session:
        session.add(
            Contribution(
                member=ZERO,
                data_type="health",
                records=100,
                quality_ppm=10**6,
                uniqueness_ppm=0,
                content_hash="0x" + "01" * 32,
            )
        )
    assert contribute(api, operator_headers, item(alice, "a")).status_code == 201
    caplog.set_level(logging.WARNING, logger="relayer")

    verified = assert_posted_as_reported(api, union, close(api, operator_headers))

    assert set(verified.shares) == {alice.address}
    assert any("cannot hold shares" in r.getMessage() for r in caplog.records)


def fail_after_first_batch(union, pauser):
    """A progress hook that pauses the union once the first batch is confirmed: every later
    batch of the epoch then fails (DataUnionEnforcedPause)."""

    def hook(row):
        if row.purpose == "attribution" and row.batch == 0:
            union.pause({"from": pauser})

    return hook


@pytest.mark.both_databases
def test_an_epoch_that_cannot_be_posted_is_abandoned_and_the_next_epoch_zeroes_what_it_set(
    small_batches, operator_headers, union, pauser, guardian, alice, bob
):
    context, api = small_batches
    for member in (alice, bob):
        assert contribute(api, operator_headers, item(member, f"m {member}")).status_code == 201
    closed = close_epoch(context)
    post_epoch(context, closed.number, progress=fail_after_first_batch(union, pauser))
    failed = api.get(f"/v1/epochs/{closed.number}").json()
    assert failed["status"] == "failed"
    assert "DataUnionEnforcedPause" in failed["error"]
    first_member = sorted([alice.address, bob.address], key=str.lower)[0]
    assert union.sharesOf(first_member) > 0  # the first batch is on the chain
    blocked = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")
    assert f"epoch abandon {closed.number}" in blocked["message"]

    assert_error(api.post(f"/v1/epochs/{closed.number}/abandon"), 401, "unauthorized")
    abandoned = api.post(f"/v1/epochs/{closed.number}/abandon", headers=operator_headers)

    assert abandoned.status_code == 200, abandoned.text
    assert abandoned.json()["status"] == "abandoned"
    assert "DataUnionEnforcedPause" in abandoned.json()["error"]
    statuses = [tx["status"] for tx in abandoned.json()["transactions"]]
    assert statuses == ["confirmed", "failed"]
    again = api.post(f"/v1/epochs/{closed.number}/post", headers=operator_headers)
    assert_error(again, 409, "conflict")
    assert_error(
        api.post(f"/v1/epochs/{closed.number}/abandon", headers=operator_headers), 409, "conflict"
    )

    # Its first batch reached the chain, so the epoch stays pending there and blocks the next
    # close until the guardian vetoes it (or it is finished).
    union.unpause({"from": pauser})
    pending = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")
    assert f"epoch {closed.number} is pending on-chain" in pending["message"]
    union.vetoAttribution(closed.number, {"from": guardian})

    # The operator removes the member whose batch did reach the chain, and closes the next epoch.
    deleted = api.delete(f"/v1/members/{first_member}/data", headers=operator_headers)
    assert deleted.status_code == 200, deleted.text
    following = close(api, operator_headers)

    assert following["number"] == closed.number + 1
    verified = assert_posted_as_reported(api, union, following)
    assert verified.shares[first_member] == union.sharesOf(first_member) == 0
    assert union.currentEpoch() == following["number"]


def test_abandoning_an_unknown_pending_or_finished_epoch_is_refused(
    api, context, operator_headers, union, alice
):
    assert_error(api.post("/v1/epochs/7/abandon", headers=operator_headers), 404, "not_found")
    assert contribute(api, operator_headers, item(alice, "a")).status_code == 201
    posted = close(api, operator_headers)
    error = assert_error(
        api.post(f"/v1/epochs/{posted['number']}/abandon", headers=operator_headers),
        409,
        "conflict",
    )
    assert "is pending" in error["message"]
    assert "the guardian can veto it" in error["message"]

    finish_when_due(context, posted["number"])
    error = assert_error(
        api.post(f"/v1/epochs/{posted['number']}/abandon", headers=operator_headers),
        409,
        "conflict",
    )
    assert "is finished: there is nothing to abandon" in error["message"]
    assert api.get(f"/v1/epochs/{posted['number']}").json()["status"] == "finished"


def test_an_epoch_with_a_transaction_in_flight_is_not_abandoned(
    small_batches, operator_headers, union, alice, bob
):
    context, api = small_batches
    for member in (alice, bob):  # two batches: one in flight, one not sent yet
        assert contribute(api, operator_headers, item(member, f"m {member}")).status_code == 201
    closed = close_epoch(context)
    with context.db.session() as session:
        row = session.get(Epoch, closed.number).transactions[0]
        row.status, row.nonce = "sent", 10**6  # as if broadcast and not mined yet

    error = assert_error(
        api.post(f"/v1/epochs/{closed.number}/abandon", headers=operator_headers), 409, "conflict"
    )

    assert "in flight" in error["message"]
    statuses = [
        tx["status"] for tx in api.get(f"/v1/epochs/{closed.number}").json()["transactions"]
    ]
    assert statuses == ["sent", "pending"]  # nothing was dropped
