"""Deposits and sync, for every kind of pool token: what arrives counts, the fee is taken, the
rest goes to the shareholders, and revenue nobody can receive yet waits instead of vanishing."""

import brownie

from fixtures.reverts import reverts_with
from fixtures.tokens import received_after_transfer
from fixtures.union import FEE_BPS, LICENSE, NO_LICENSE, pay, permit_signature, post

AMOUNT = 1_000_000  # one token with 6 decimals


def split(received):
    fee = received * FEE_BPS // 10_000
    return fee, received - fee


def test_deposit_counts_what_arrived_and_takes_the_fee(
    any_union, any_token, token_kind, attester, buyer, alice, fee_recipient
):
    post(any_union, attester, 1, {alice: 10})
    tx = pay(any_token, any_union, buyer, AMOUNT)

    received = received_after_transfer(token_kind, AMOUNT)
    fee, net = split(received)
    assert tx.return_value == received
    assert tx.events["RevenueDeposited"] == {
        "payer": buyer,
        "licenseId": "0x" + LICENSE.hex(),
        "amount": received,
        "fee": fee,
    }
    assert any_token.balanceOf(any_union) == received
    assert any_union.totalDeposited() == received
    assert any_union.feesOwed(fee_recipient) == fee
    assert any_union.claimable(alice) == net


def test_deposit_splits_pro_rata_between_members(any_union, any_token, attester, buyer, alice, bob):
    post(any_union, attester, 1, {alice: 1, bob: 3})
    pay(any_token, any_union, buyer, AMOUNT)

    earned = any_union.claimable(alice) + any_union.claimable(bob)
    assert any_union.claimable(bob) == 3 * any_union.claimable(alice)
    assert earned == any_token.balanceOf(any_union) - any_union.feesOwed(any_union.feeRecipient())


def test_deposit_without_shareholders_waits_for_the_next_distribution(
    any_union, any_token, token_kind, attester, buyer, alice
):
    pay(any_token, any_union, buyer, AMOUNT)
    _, first_net = split(received_after_transfer(token_kind, AMOUNT))
    assert any_union.undistributed() == first_net

    post(any_union, attester, 1, {alice: 7})
    pay(any_token, any_union, buyer, AMOUNT)

    assert any_union.undistributed() == 0
    assert any_union.claimable(alice) == 2 * first_net


def test_deposit_reverts_on_zero_amount(union, buyer):
    with reverts_with("DataUnionZeroAmount"):
        union.deposit(0, LICENSE, {"from": buyer})


def test_deposit_reverts_without_allowance_and_changes_nothing(union, stablecoin, buyer):
    stablecoin.mint(buyer, AMOUNT, {"from": buyer})
    with brownie.reverts():
        union.deposit(AMOUNT, LICENSE, {"from": buyer})
    assert union.totalDeposited() == 0
    assert stablecoin.balanceOf(buyer) == AMOUNT


def test_deposit_reverts_when_nothing_arrives(admin, attester, pauser, fee_recipient, buyer):
    from brownie import MockFeeOnTransferToken

    from fixtures.union import deploy_union

    burns_everything = MockFeeOnTransferToken.deploy(10_000, {"from": admin})
    union = deploy_union(burns_everything, admin, attester, pauser, fee_recipient)
    burns_everything.mint(buyer, AMOUNT, {"from": buyer})
    burns_everything.approve(union, AMOUNT, {"from": buyer})
    with reverts_with("DataUnionNothingReceived"):
        union.deposit(AMOUNT, LICENSE, {"from": buyer})


def test_deposit_with_permit_needs_no_prior_approval(union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    stablecoin.mint(alice, AMOUNT, {"from": alice})
    v, r, s, deadline = permit_signature(stablecoin, alice, union, AMOUNT)

    tx = union.depositWithPermit(AMOUNT, LICENSE, deadline, v, r, s, {"from": alice})

    assert tx.return_value == AMOUNT
    assert stablecoin.balanceOf(union) == AMOUNT
    assert stablecoin.allowance(alice, union) == 0


def test_deposit_with_permit_succeeds_when_permit_was_front_run(union, stablecoin, buyer, alice):
    stablecoin.mint(alice, AMOUNT, {"from": alice})
    v, r, s, deadline = permit_signature(stablecoin, alice, union, AMOUNT)
    stablecoin.permit(alice, union, AMOUNT, deadline, v, r, s, {"from": buyer})  # the front-run

    tx = union.depositWithPermit(AMOUNT, LICENSE, deadline, v, r, s, {"from": alice})

    assert tx.return_value == AMOUNT
    assert union.totalDeposited() == AMOUNT


def test_deposit_with_permit_reverts_when_permit_fails_and_allowance_is_missing(
    union, stablecoin, alice, bob
):
    stablecoin.mint(alice, AMOUNT, {"from": alice})
    v, r, s, deadline = permit_signature(stablecoin, bob, union, AMOUNT)  # wrong signer
    with brownie.reverts():
        union.depositWithPermit(AMOUNT, LICENSE, deadline, v, r, s, {"from": alice})
    assert union.totalDeposited() == 0


def test_sync_turns_a_plain_transfer_into_revenue(
    any_union, any_token, token_kind, attester, buyer, alice
):
    post(any_union, attester, 1, {alice: 1})
    any_token.mint(buyer, AMOUNT, {"from": buyer})
    any_token.transfer(any_union, AMOUNT, {"from": buyer})

    tx = any_union.sync({"from": alice})

    received = received_after_transfer(token_kind, AMOUNT)
    assert tx.return_value == received
    assert tx.events["RevenueDeposited"]["payer"] == brownie.ZERO_ADDRESS
    assert tx.events["RevenueDeposited"]["licenseId"] == "0x" + NO_LICENSE.hex()
    assert any_union.claimable(alice) == split(received)[1]


def test_sync_without_new_tokens_changes_nothing(union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    before = union.claimable(alice)

    tx = union.sync({"from": buyer})

    assert tx.return_value == 0
    assert "RevenueDeposited" not in tx.events
    assert union.claimable(alice) == before


def test_finishing_the_first_attribution_distributes_revenue_that_waited(
    union, stablecoin, attester, buyer, alice
):
    pay(stablecoin, union, buyer, AMOUNT)
    post(union, attester, 1, {alice: 1})

    assert union.undistributed() == 0
    assert union.claimable(alice) == split(AMOUNT)[1]


def test_rounding_remainder_is_carried_to_the_next_deposit(
    union, stablecoin, attester, buyer, alice, bob, carol
):
    post(union, attester, 1, {alice: 1, bob: 1, carol: 1})
    for _ in range(3):
        pay(stablecoin, union, buyer, 1)  # 1 unit among 3 shares, fee rounds to 0

    assert [union.claimable(m) for m in (alice, bob, carol)] == [1, 1, 1]
