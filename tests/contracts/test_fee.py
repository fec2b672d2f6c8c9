"""The operator fee: capped forever, changed only through propose -> delay -> apply, accrued to
whoever was the recipient when revenue arrived, and kept apart from member money."""

import brownie
from brownie import ZERO_ADDRESS, chain

from fixtures.reverts import reverts_with
from fixtures.union import FEE_BPS, FEE_DELAY, MAX_UINT, pay, post

AMOUNT = 1_000_000


def test_propose_fee_records_the_change_and_its_eta(union, admin, rando):
    tx = union.proposeFee(1_000, rando, {"from": admin})
    eta = tx.timestamp + FEE_DELAY

    assert tx.events["FeeChangeProposed"] == {"feeBps": 1_000, "recipient": rando, "eta": eta}
    assert tuple(union.pendingFee()) == (1_000, rando, eta)
    assert union.feeBps() == FEE_BPS


def test_apply_fee_before_the_delay_reverts(union, admin, rando):
    tx = union.proposeFee(1_000, rando, {"from": admin})
    chain.sleep(FEE_DELAY - 10)
    with reverts_with("DataUnionFeeChangeNotReady", tx.timestamp + FEE_DELAY):
        union.applyFee({"from": rando})
    assert union.feeBps() == FEE_BPS


def test_anyone_applies_the_fee_after_the_delay(union, admin, rando):
    union.proposeFee(1_000, rando, {"from": admin})
    chain.sleep(FEE_DELAY + 1)

    tx = union.applyFee({"from": rando})

    assert tx.events["FeeChanged"] == {"feeBps": 1_000, "recipient": rando}
    assert (union.feeBps(), union.feeRecipient()) == (1_000, rando)
    assert tuple(union.pendingFee()) == (0, ZERO_ADDRESS, 0)


def test_new_proposal_restarts_the_delay(union, admin, rando):
    union.proposeFee(1_000, rando, {"from": admin})
    chain.sleep(FEE_DELAY - 100)
    tx = union.proposeFee(1_500, rando, {"from": admin})
    chain.sleep(200)
    with reverts_with("DataUnionFeeChangeNotReady", tx.timestamp + FEE_DELAY):
        union.applyFee({"from": rando})


def test_cancel_fee_discards_the_proposal(union, admin, rando):
    union.proposeFee(1_000, rando, {"from": admin})

    tx = union.cancelFee({"from": admin})

    assert tx.events["FeeChangeCancelled"] == {"feeBps": 1_000, "recipient": rando}
    chain.sleep(FEE_DELAY + 1)
    with reverts_with("DataUnionNoPendingFee"):
        union.applyFee({"from": rando})


def test_cancel_fee_reverts_when_nothing_pending(union, admin):
    with reverts_with("DataUnionNoPendingFee"):
        union.cancelFee({"from": admin})


def test_propose_fee_above_cap_reverts(union, admin, rando):
    with reverts_with("DataUnionFeeTooHigh", 2_001, 2_000):
        union.proposeFee(2_001, rando, {"from": admin})


def test_propose_fee_to_zero_address_reverts(union, admin):
    with reverts_with("DataUnionZeroAddress"):
        union.proposeFee(100, ZERO_ADDRESS, {"from": admin})


def test_propose_fee_to_the_union_itself_reverts(union, admin):
    with reverts_with("DataUnionInvalidRecipient", union):
        union.proposeFee(100, union, {"from": admin})


def test_only_admin_proposes_or_cancels(union, admin, attester, pauser, rando):
    for caller in (attester, pauser, rando):
        with brownie.reverts():
            union.proposeFee(0, caller, {"from": caller})
    union.proposeFee(0, rando, {"from": admin})
    with brownie.reverts():
        union.cancelFee({"from": rando})


def test_fees_accrue_to_the_recipient_of_the_time(
    union, stablecoin, admin, attester, fee_recipient, buyer, alice, rando
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    union.proposeFee(1_000, rando, {"from": admin})
    chain.sleep(FEE_DELAY + 1)
    union.applyFee({"from": rando})
    pay(stablecoin, union, buyer, AMOUNT)

    assert union.feesOwed(fee_recipient) == AMOUNT * FEE_BPS // 10_000
    assert union.feesOwed(rando) == AMOUNT * 1_000 // 10_000
    assert union.claimable(alice) == 2 * AMOUNT - union.feesOwed(fee_recipient) - union.feesOwed(
        rando
    )


def test_withdraw_fees_pays_only_the_fees(
    union, stablecoin, attester, fee_recipient, buyer, alice, rando
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    fee = AMOUNT * FEE_BPS // 10_000

    tx = union.withdrawFees(rando, {"from": fee_recipient})

    assert tx.events["FeesWithdrawn"] == {"recipient": fee_recipient, "to": rando, "amount": fee}
    assert stablecoin.balanceOf(rando) == fee
    assert union.feesOwed(fee_recipient) == 0
    assert union.totalFeesWithdrawn() == fee
    assert union.claimable(alice) == AMOUNT - fee
    union.claim(alice, MAX_UINT, {"from": alice})
    assert stablecoin.balanceOf(union) == 0


def test_withdraw_fees_reverts_for_account_owed_nothing(union, rando):
    with reverts_with("DataUnionNothingToWithdraw", rando):
        union.withdrawFees(rando, {"from": rando})


def test_withdraw_fees_reverts_for_invalid_recipient(union, stablecoin, fee_recipient, buyer):
    pay(stablecoin, union, buyer, AMOUNT)
    with reverts_with("DataUnionInvalidRecipient", ZERO_ADDRESS):
        union.withdrawFees(ZERO_ADDRESS, {"from": fee_recipient})
