"""Direct claims, for every kind of pool token: all or part, to any address, never more than
earned, and never stopped by a pause."""

import brownie
from brownie import ZERO_ADDRESS

from fixtures.reverts import reverts_with
from fixtures.tokens import received_after_transfer
from fixtures.union import FEE_BPS, MAX_UINT, pay, post

AMOUNT = 1_000_000


def earned_by_single_member(token_kind):
    received = received_after_transfer(token_kind, AMOUNT)
    return received - received * FEE_BPS // 10_000


def test_claim_everything_pays_all_earnings(
    any_union, any_token, token_kind, attester, buyer, alice
):
    post(any_union, attester, 1, {alice: 5})
    pay(any_token, any_union, buyer, AMOUNT)
    earned = earned_by_single_member(token_kind)

    tx = any_union.claim(alice, MAX_UINT, {"from": alice})

    assert tx.return_value == earned
    assert tx.events["Claimed"] == {"member": alice, "to": alice, "amount": earned}
    assert any_token.balanceOf(alice) == received_after_transfer(token_kind, earned)
    assert any_union.claimable(alice) == 0
    assert any_union.totalClaimed() == earned


def test_claim_part_leaves_the_rest_claimable(
    any_union, any_token, token_kind, attester, buyer, alice
):
    post(any_union, attester, 1, {alice: 3})
    pay(any_token, any_union, buyer, AMOUNT)
    earned = earned_by_single_member(token_kind)

    any_union.claim(alice, 1_000, {"from": alice})

    assert any_union.claimable(alice) == earned - 1_000
    any_union.claim(alice, MAX_UINT, {"from": alice})
    assert any_union.totalClaimed() == earned


def test_claim_to_another_address(any_union, any_token, token_kind, attester, buyer, alice, bob):
    post(any_union, attester, 1, {alice: 1})
    pay(any_token, any_union, buyer, AMOUNT)
    earned = earned_by_single_member(token_kind)

    any_union.claim(bob, MAX_UINT, {"from": alice})

    assert any_token.balanceOf(bob) == received_after_transfer(token_kind, earned)
    assert any_token.balanceOf(alice) == 0


def test_claim_reverts_when_amount_exceeds_earnings(union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    earned = union.claimable(alice)
    with reverts_with("DataUnionInsufficientEarnings", earned + 1, earned):
        union.claim(alice, earned + 1, {"from": alice})
    assert union.claimable(alice) == earned


def test_claim_reverts_when_nothing_earned(union, rando):
    with reverts_with("DataUnionNothingToClaim", rando):
        union.claim(rando, MAX_UINT, {"from": rando})


def test_claim_reverts_on_zero_amount(union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    with reverts_with("DataUnionZeroAmount"):
        union.claim(alice, 0, {"from": alice})


def test_claim_reverts_for_zero_or_union_recipient(union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    for to in (ZERO_ADDRESS, union.address):
        with reverts_with("DataUnionInvalidRecipient", to):
            union.claim(to, MAX_UINT, {"from": alice})


def test_claim_works_while_paused(union, stablecoin, attester, pauser, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    union.pause({"from": pauser})

    union.claim(alice, MAX_UINT, {"from": alice})

    assert stablecoin.balanceOf(alice) == AMOUNT - AMOUNT * FEE_BPS // 10_000


def test_claim_to_blocklisted_address_reverts_and_another_address_works(
    admin, attester, pauser, fee_recipient, buyer, alice, bob
):
    from fixtures.tokens import deploy_token
    from fixtures.union import deploy_union

    token = deploy_token("blocklist", admin)
    union = deploy_union(token, admin, attester, pauser, fee_recipient)
    post(union, attester, 1, {alice: 1})
    pay(token, union, buyer, AMOUNT)
    token.setBlocklisted(alice, True, {"from": admin})
    earned = union.claimable(alice)

    with brownie.reverts():
        union.claim(alice, MAX_UINT, {"from": alice})
    assert union.claimable(alice) == earned

    union.claim(bob, MAX_UINT, {"from": alice})
    assert token.balanceOf(bob) == earned


def test_repeated_claims_never_pay_more_than_earned(union, stablecoin, attester, buyer, alice, bob):
    post(union, attester, 1, {alice: 7, bob: 13})
    for _ in range(5):
        pay(stablecoin, union, buyer, 333_333)
        union.claim(alice, MAX_UINT, {"from": alice})

    member_revenue = union.totalDeposited() - union.feesOwed(union.feeRecipient())
    assert union.totalClaimed() + union.claimable(alice) + union.claimable(bob) <= member_revenue
    unassigned = member_revenue - (
        union.totalClaimed() + union.claimable(alice) + union.claimable(bob)
    )
    assert 0 <= unassigned <= 2
