"""A root-mode union over the awkward pool tokens: no return value, fee on transfer, a blocklist,
and transfer hooks that re-enter the union. Deposits count what arrived, claims and leave pay
through SafeERC20, and a re-entered call is refused by the guard."""

import brownie
import pytest
from brownie import MockHookToken, MockReentrantAttacker

from fixtures.roots import EMPTY_LEAF, RootBook, deploy_roots_union
from fixtures.tokens import deploy_token, received_after_transfer
from fixtures.union import FEE_BPS, LICENSE, MAX_UINT, pay

AMOUNT = 1_000_000


def split(received):
    fee = received * FEE_BPS // 10_000
    return fee, received - fee


@pytest.fixture
def any_book(any_roots_union, attester):
    return RootBook(any_roots_union, attester)


def test_deposit_counts_what_arrived_and_splits_it_by_the_root(
    any_roots_union, any_token, token_kind, any_book, buyer, alice, bob, fee_recipient
):
    any_book.post({alice: 1, bob: 1})
    tx = pay(any_token, any_roots_union, buyer, AMOUNT)

    received = received_after_transfer(token_kind, AMOUNT)
    fee, net = split(received)
    assert tx.return_value == received
    assert tx.events["RevenueDeposited"]["amount"] == received
    assert any_token.balanceOf(any_roots_union) == received == any_roots_union.totalDeposited()
    assert any_roots_union.feesOwed(fee_recipient) == fee
    assert any_book.claimable(alice) == any_book.claimable(bob) == net // 2


def test_claim_pays_through_the_token_and_counts_what_was_sent(
    any_roots_union, any_token, token_kind, any_book, buyer, alice, bob
):
    any_book.post({alice: 1})
    pay(any_token, any_roots_union, buyer, AMOUNT)
    earned = any_book.claimable(alice)

    tx = any_roots_union.claim(bob, MAX_UINT, *any_book.claim_args(alice), {"from": alice})

    assert tx.return_value == earned
    assert any_roots_union.claimedBy(alice) == earned
    assert any_token.balanceOf(bob) == received_after_transfer(token_kind, earned)
    fees = any_roots_union.feesOwed(any_roots_union.feeRecipient())
    assert any_token.balanceOf(any_roots_union) == fees + (
        received_after_transfer(token_kind, AMOUNT) - fees - earned
    )


def test_leave_then_claim_pays_the_frozen_earnings(
    any_roots_union, any_token, token_kind, any_book, buyer, alice, bob
):
    any_book.post({alice: 1, bob: 1})
    pay(any_token, any_roots_union, buyer, AMOUNT)
    earned = any_book.claimable(alice)
    any_roots_union.leave(*any_book.leave_args(alice), {"from": alice})
    pay(any_token, any_roots_union, buyer, AMOUNT)

    tx = any_roots_union.claim(alice, MAX_UINT, EMPTY_LEAF, [], {"from": alice})

    assert tx.return_value == earned
    assert any_token.balanceOf(alice) == received_after_transfer(token_kind, earned)
    _, net = split(received_after_transfer(token_kind, AMOUNT))
    assert any_book.claimable(bob) in (earned + net, earned + net + 1)


def test_sync_turns_a_plain_transfer_into_revenue(
    any_roots_union, any_token, token_kind, any_book, buyer, alice
):
    any_book.post({alice: 1})
    any_token.mint(buyer, AMOUNT, {"from": buyer})
    any_token.transfer(any_roots_union, AMOUNT, {"from": buyer})

    tx = any_roots_union.sync({"from": alice})

    assert tx.return_value == received_after_transfer(token_kind, AMOUNT)
    assert any_book.claimable(alice) == split(tx.return_value)[1]


def test_claim_to_a_blocklisted_address_reverts_and_another_address_works(
    admin, attester, pauser, guardian, fee_recipient, buyer, alice, bob
):
    token = deploy_token("blocklist", admin)
    union = deploy_roots_union(token, admin, attester, pauser, guardian, fee_recipient)
    book = RootBook(union, attester)
    book.post({alice: 1})
    pay(token, union, buyer, AMOUNT)
    token.setBlocklisted(bob, True, {"from": admin})
    earned = book.claimable(alice)

    with brownie.reverts():
        union.claim(bob, MAX_UINT, *book.claim_args(alice), {"from": alice})
    assert union.claimedBy(alice) == 0
    assert book.claimable(alice) == earned

    union.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice})
    assert token.balanceOf(alice) == earned


# -- a token that calls sender and receiver back on every transfer ------------------------------

REENTRANT_CALL = "0x" + brownie.web3.keccak(text="ReentrancyGuardReentrantCall()")[:4].hex()


@pytest.fixture(scope="module")
def hook_token(admin):
    return MockHookToken.deploy({"from": admin})


@pytest.fixture(scope="module")
def hook_union(hook_token, admin, attester, pauser, guardian, fee_recipient):
    return deploy_roots_union(hook_token, admin, attester, pauser, guardian, fee_recipient)


@pytest.fixture(scope="module")
def attacker(hook_union, hook_token, admin):
    return MockReentrantAttacker.deploy(hook_union, hook_token, {"from": admin})


def assert_reentry_was_refused(attacker):
    assert attacker.reentered()
    assert not attacker.reentrySucceeded()
    assert attacker.reentryResult() == REENTRANT_CALL


@pytest.mark.parametrize("reentry", ["sync", "deposit"])
def test_reentering_from_a_deposit_hook_is_refused_and_the_deposit_counts_once(
    hook_union, hook_token, attacker, attester, alice, reentry
):
    book = RootBook(hook_union, attester)
    book.post({alice: 1})
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
    assert book.claimable(alice) == split(AMOUNT)[1]


@pytest.mark.parametrize("reentry", ["claim", "sync"])
def test_reentering_from_a_claim_hook_is_refused_and_the_member_is_paid_once(
    hook_union, hook_token, attacker, attester, buyer, alice, reentry
):
    # The attacker is a member and the recipient of alice's claim: from the hook it claims its own
    # earnings (or syncs) while alice's claim is still running.
    book = RootBook(hook_union, attester)
    book.post({attacker: 1, alice: 1})
    pay(hook_token, hook_union, buyer, 2 * AMOUNT)
    earned = book.claimable(alice)
    calls = {
        "claim": hook_union.claim.encode_input(attacker, MAX_UINT, *book.claim_args(attacker)),
        "sync": hook_union.sync.encode_input(),
    }
    attacker.arm(calls[reentry], {"from": alice})

    tx = hook_union.claim(attacker, MAX_UINT, *book.claim_args(alice), {"from": alice})

    assert_reentry_was_refused(attacker)
    assert tx.return_value == earned
    assert len(tx.events["Claimed"]) == 1
    assert hook_token.balanceOf(attacker) == earned
    assert hook_union.totalClaimed() == earned
    assert book.claimable(attacker) == earned  # the attacker's own earnings are untouched
