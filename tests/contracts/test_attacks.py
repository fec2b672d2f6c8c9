"""Attacks on the union, each of which must fail to do harm.

Covered here: re-entrancy through a pool token that calls the sender and the receiver back on
every transfer (ERC-777 style), from inside a deposit, a claim and a fee withdrawal; and a permit
signature lifted from the mempool and submitted by someone else.

Covered where the behaviour lives (SECURITY.md lists them): signed claims replayed on another
chain, on another union, with a used or future nonce, after the deadline, or with a high-s
signature (test_claim_with_sig.py); a front-run permit (test_deposit.py); stale and finished
epochs and a revoked attester (test_attribution.py); claims and leave while paused
(test_claim.py, test_claim_with_sig.py, test_leave.py); every unauthorised call in random order
(test_invariants.py, the malicious actor).
"""

import brownie
import pytest
from brownie import MockHookToken, MockReentrantAttacker, chain
from eth_utils import keccak

from fixtures.reverts import reverts_with
from fixtures.union import (
    FEE_BPS,
    FEE_DELAY,
    LICENSE,
    MAX_UINT,
    deploy_union,
    pay,
    permit_signature,
    post,
)

AMOUNT = 1_000_000
FEE = AMOUNT * FEE_BPS // 10_000
NET = AMOUNT - FEE
REENTRANT_CALL = "0x" + keccak(text="ReentrancyGuardReentrantCall()")[:4].hex()


@pytest.fixture(scope="module")
def hook_token(admin):
    return MockHookToken.deploy({"from": admin})


@pytest.fixture(scope="module")
def hook_union(hook_token, admin, attester, pauser, fee_recipient):
    return deploy_union(hook_token, admin, attester, pauser, fee_recipient)


@pytest.fixture(scope="module")
def attacker(hook_union, hook_token, admin):
    """A contract that buys, holds shares or receives fees, and re-enters from the token's hook."""
    return MockReentrantAttacker.deploy(hook_union, hook_token, {"from": admin})


def assert_reentry_was_refused(attacker):
    assert attacker.reentered()
    assert not attacker.reentrySucceeded()
    assert attacker.reentryResult() == REENTRANT_CALL


@pytest.mark.parametrize("reentry", ["sync", "deposit"])
def test_reentering_from_a_deposit_hook_is_refused_and_the_deposit_counts_once(
    hook_union, hook_token, attacker, attester, alice, fee_recipient, reentry
):
    # The hook runs after the tokens moved: a re-entered sync() would count them a second time.
    post(hook_union, attester, 1, {alice: 1})
    hook_token.mint(attacker, 2 * AMOUNT, {"from": alice})
    attacker.approveUnion(2 * AMOUNT, {"from": alice})
    calls = {
        "sync": hook_union.sync.encode_input(),
        "deposit": hook_union.deposit.encode_input(AMOUNT, LICENSE),
    }
    attacker.arm(calls[reentry], {"from": alice})

    tx = attacker.deposit(AMOUNT, LICENSE, {"from": alice})

    assert_reentry_was_refused(attacker)
    assert len(tx.events["RevenueDeposited"]) == 1
    assert hook_union.totalDeposited() == AMOUNT == hook_token.balanceOf(hook_union)
    assert hook_union.claimable(alice) == NET
    assert hook_union.feesOwed(fee_recipient) == FEE


@pytest.mark.parametrize("reentry", ["claim", "sync"])
def test_reentering_from_a_claim_hook_is_refused_and_the_member_is_paid_once(
    hook_union, hook_token, attacker, attester, buyer, alice, reentry
):
    post(hook_union, attester, 1, {attacker: 1, alice: 1})
    pay(hook_token, hook_union, buyer, 2 * AMOUNT)
    earned = hook_union.claimable(attacker)
    calls = {
        "claim": hook_union.claim.encode_input(attacker, MAX_UINT),
        "sync": hook_union.sync.encode_input(),
    }
    attacker.arm(calls[reentry], {"from": alice})

    tx = attacker.claim(attacker, MAX_UINT, {"from": alice})

    assert_reentry_was_refused(attacker)
    assert tx.return_value == earned == NET
    assert len(tx.events["Claimed"]) == 1
    assert hook_token.balanceOf(attacker) == earned
    assert hook_union.claimable(attacker) == 0
    assert hook_union.claimable(alice) == NET
    assert hook_union.totalClaimed() == earned
    assert hook_token.balanceOf(hook_union) == 2 * AMOUNT - earned


def test_reentering_from_a_fee_withdrawal_hook_is_refused_and_fees_are_paid_once(
    hook_union, hook_token, attacker, admin, attester, buyer, alice, rando
):
    hook_union.proposeFee(FEE_BPS, attacker, {"from": admin})
    chain.sleep(FEE_DELAY + 1)
    hook_union.applyFee({"from": rando})
    post(hook_union, attester, 1, {alice: 1})
    pay(hook_token, hook_union, buyer, AMOUNT)
    attacker.arm(hook_union.withdrawFees.encode_input(attacker), {"from": alice})

    tx = attacker.withdrawFees(attacker, {"from": alice})

    assert_reentry_was_refused(attacker)
    assert len(tx.events["FeesWithdrawn"]) == 1
    assert hook_token.balanceOf(attacker) == FEE
    assert hook_union.feesOwed(attacker) == 0
    assert hook_union.totalFeesWithdrawn() == FEE
    assert hook_union.claimable(alice) == NET == hook_token.balanceOf(hook_union)


def test_permit_signature_submitted_by_someone_else_takes_nothing_from_its_signer(
    union, stablecoin, attester, alice, rando
):
    # depositWithPermit always permits and pulls from msg.sender, so a permit seen in the mempool
    # is worthless to anyone but its signer, who can still use it afterwards.
    post(union, attester, 1, {alice: 1})
    stablecoin.mint(alice, AMOUNT, {"from": alice})
    v, r, s, deadline = permit_signature(stablecoin, alice, union, AMOUNT)

    with brownie.reverts():
        union.depositWithPermit(AMOUNT, LICENSE, deadline, v, r, s, {"from": rando})
    assert stablecoin.balanceOf(alice) == AMOUNT
    assert stablecoin.allowance(alice, union) == 0

    union.depositWithPermit(AMOUNT, LICENSE, deadline, v, r, s, {"from": alice})
    assert union.totalDeposited() == AMOUNT


def test_deposit_of_someone_elses_allowance_is_impossible(union, stablecoin, buyer, rando):
    # An allowance given to the union can only ever be spent by a deposit from its owner.
    stablecoin.mint(buyer, AMOUNT, {"from": buyer})
    stablecoin.approve(union, AMOUNT, {"from": buyer})

    with reverts_with("ERC20InsufficientAllowance", union, 0, AMOUNT):
        union.deposit(AMOUNT, LICENSE, {"from": rando})
    assert stablecoin.allowance(buyer, union) == AMOUNT
