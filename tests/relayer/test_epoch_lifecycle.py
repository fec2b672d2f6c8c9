"""After its batches an epoch is pending on-chain until its due time: finishing it earlier is
refused with the due time, the relayer's finisher finishes it once due, a finish someone else
made counts as done, a veto shows as vetoed, and after a veto the next epoch re-posts the table,
zeroing every address the vetoed epoch set that its report does not name."""

from functools import partial

import pytest
from brownie import web3
from sqlalchemy import func, select

from fixtures.api import assert_error, close, contribute, contribution, index
from fixtures.epochs import finish_when_due
from fixtures.union import finish_when_due as finish_on_chain
from fixtures.union import pay, post, sign_claim, wait_until
from relayer import lifecycle
from relayer.attribution import verify_report
from relayer.db import OutboxTx
from relayer.lifecycle import Finisher
from relayer.states import EpochStatus, TxPurpose, TxStatus

REVENUE = 10_000_000
THIEF_SHARES = 99 * 10**12

item = partial(contribution, salt="lifecycle test ")


def outbox_rows(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxTx))


def nonce(account):
    return web3.eth.get_transaction_count(account.address, "pending")


@pytest.fixture
def pending(api, operator_headers, alice, bob):
    """Epoch 1 posted by the relayer and pending."""
    contribute(api, operator_headers, item(alice, "a", records=300), item(bob, "b"))
    epoch = close(api, operator_headers)
    assert epoch["status"] == "pending", epoch
    return epoch


def test_finish_before_the_due_time_is_refused_with_the_due_time_and_sends_nothing(
    api, context, operator_headers, union, relayer_account, pending
):
    rows, sent = outbox_rows(context), nonce(relayer_account)
    wait_until(union.attributionState()[2] - 10)

    error = assert_error(api.post("/v1/epochs/1/finish", headers=operator_headers), 409, "not_due")

    assert f"due at {union.attributionState()[2]}" in error["message"]
    assert (outbox_rows(context), nonce(relayer_account)) == (rows, sent)
    assert api.get("/v1/epochs/1").json()["status"] == "pending"
    assert union.attributionInProgress()


def test_finish_needs_the_operator_token(api, pending):
    assert_error(api.post("/v1/epochs/1/finish"), 401, "unauthorized")


def test_finish_once_due_takes_the_epoch_into_effect(api, operator_headers, union, pending):
    wait_until(union.attributionState()[2])

    finished = api.post("/v1/epochs/1/finish", headers=operator_headers)

    assert finished.status_code == 200, finished.text
    assert finished.json()["status"] == "finished"
    assert [tx["purpose"] for tx in finished.json()["transactions"]] == ["attribution", "finish"]
    assert (union.attributionInProgress(), union.attributionState()[1]) == (False, 0)


def test_an_epoch_finished_by_someone_else_is_recorded_finished_without_sending(
    api, context, union, relayer_account, rando, pending
):
    finish_on_chain(union, 1, rando)
    sent = nonce(relayer_account)

    assert lifecycle.finish(context.db, context.chain, context.outbox, 1) == EpochStatus.FINISHED

    assert nonce(relayer_account) == sent
    epoch = api.get("/v1/epochs/1").json()
    assert (epoch["status"], epoch["error"]) == ("finished", None)
    assert [tx["purpose"] for tx in epoch["transactions"]] == ["attribution"]


def test_the_finisher_finishes_a_due_epoch_by_itself_and_waits_for_one_not_due(
    api, context, union, pending
):
    finisher = Finisher(context.db, context.chain, context.outbox)
    assert finisher.run_once() == []
    assert api.get("/v1/epochs/1").json()["status"] == "pending"

    wait_until(union.attributionState()[2])

    assert finisher.run_once() == [1]
    assert api.get("/v1/epochs/1").json()["status"] == "finished"
    assert not union.attributionInProgress()


def test_revenue_arriving_while_pending_is_held_then_split_by_the_new_shares(
    api, context, union, stablecoin, buyer, alice, bob, pending
):
    pay(stablecoin, union, buyer, REVENUE)
    assert (union.claimable(alice), union.claimable(bob)) == (0, 0)

    finish_when_due(context, 1)

    net = REVENUE * 95 // 100
    assert union.claimable(alice) + union.claimable(bob) in (net, net - 1)
    assert abs(union.claimable(alice) - net * 3 // 4) <= 1


def test_the_relayers_epoch_vetoed_by_the_guardian_shows_vetoed_and_the_next_is_epoch_2(
    api, operator_headers, union, guardian, alice, pending
):
    union.vetoAttribution(1, {"from": guardian})

    vetoed = api.get("/v1/epochs/1").json()

    assert (vetoed["status"], vetoed["error"]) == ("vetoed", "vetoed by the guardian")
    assert vetoed["finished_at"] is not None
    contribute(api, operator_headers, item(alice, "a2"))
    second = close(api, operator_headers)
    assert (second["number"], second["status"]) == (2, "pending")


def test_close_while_another_keys_epoch_is_pending_on_chain_is_a_conflict(
    api, context, operator_headers, union, attester, alice, rando
):
    contribute(api, operator_headers, item(alice, "a"))
    union.postAttribution(1, b"\x01" * 32, [rando], [THIEF_SHARES], {"from": attester})
    rows = outbox_rows(context)

    error = assert_error(api.post("/v1/epochs/close", headers=operator_headers), 409, "conflict")

    assert "epoch 1 is pending on-chain" in error["message"]
    assert outbox_rows(context) == rows


@pytest.mark.parametrize("indexed", [True, False], ids=["theft indexed", "theft not indexed"])
def test_after_a_vetoed_theft_the_next_epoch_reposts_the_table_and_zeroes_the_thief(
    api,
    context,
    operator_headers,
    union,
    attester,
    guardian,
    stablecoin,
    buyer,
    alice,
    bob,
    rando,
    indexed,
):
    contribute(api, operator_headers, item(alice, "a", records=300), item(bob, "b"))
    close(api, operator_headers)
    finish_when_due(context, 1)
    honest = {alice.address: union.sharesOf(alice), bob.address: union.sharesOf(bob)}
    # The stolen attester key: bob zeroed, the thief (rando) given 99% of the shares.
    union.postAttribution(2, b"\x66" * 32, [bob, rando], [0, THIEF_SHARES], {"from": attester})
    union.vetoAttribution(2, {"from": guardian})
    pay(stablecoin, union, buyer, REVENUE)  # held: nobody is paid by the vetoed table
    if indexed:
        index(context)
    contribute(api, operator_headers, item(alice, "a2", data_type="browsing", records=10))

    third = close(api, operator_headers)

    assert (third["number"], third["status"]) == (3, "pending")
    report = verify_report(api.get("/v1/epochs/3/report").content)
    assert rando.address not in report.shares
    assert report.shares[bob.address] == honest[bob.address]
    assert union.sharesOf(rando) == 0
    assert union.totalShares() == sum(report.shares.values())
    assert {m: union.sharesOf(m) for m in report.shares} == report.shares
    finish_when_due(context, 3)
    net = REVENUE * 95 // 100
    total = sum(report.shares.values())
    assert union.claimable(rando) == 0
    for member in (alice, bob):
        assert abs(union.claimable(member) - net * report.shares[member.address] // total) <= 1


def test_a_gasless_claim_is_relayed_while_an_epoch_is_pending(
    api, union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, REVENUE)
    post(union, attester, 2, {alice: 300}, finish=False)
    assert union.attributionState()[1] == 1  # pending
    amount = union.claimable(alice)
    signature, deadline = sign_claim(union, alice, alice, amount)
    body = {
        "member": alice.address,
        "to": alice.address,
        "amount": amount,
        "deadline": deadline,
        "signature": "0x" + bytes(signature).hex(),
    }

    relayed = api.post("/v1/claims", json=body)

    assert relayed.status_code == 202, relayed.text
    assert web3.eth.get_transaction_receipt(relayed.json()["tx_hash"])["status"] == 1
    assert stablecoin.balanceOf(alice) == amount
    assert union.attributionState()[1] == 1  # still pending


def test_a_failed_finish_is_replaced_by_the_next_one_not_left_to_hold_it_back(
    context, union, pending
):
    # As a finish mined while the union was paused leaves it: a failed finish row of the epoch.
    with context.db.session() as session:
        session.add(
            OutboxTx(
                purpose=TxPurpose.FINISH,
                epoch=1,
                to=union.address,
                data=context.chain.calldata("finishAttribution", 1),
                status=TxStatus.FAILED,
                error="DataUnionEnforcedPause()",
            )
        )
    wait_until(union.attributionState()[2])

    assert lifecycle.finish(context.db, context.chain, context.outbox, 1) == EpochStatus.FINISHED
    assert not union.attributionInProgress()
    with context.db.session() as session:
        finishes = session.scalars(
            select(OutboxTx.status).where(OutboxTx.purpose == TxPurpose.FINISH)
        ).all()
    assert sorted(finishes) == [TxStatus.CONFIRMED, TxStatus.SUPERSEDED]
