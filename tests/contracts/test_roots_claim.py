"""Root-mode claims: a member proves their leaf of the root in force and takes any part of what
it has earned. Only the member's own leaf of that root passes; every refusal names its error and
pays nothing."""

import random

import pytest

from fixtures.reverts import reverts_with
from fixtures.union import MAX_UINT, pay
from relayer.merkle import Leaf, leaf_hash

AMOUNT = 1_000_000
NET = 950_000  # AMOUNT less the 5% fee
EMPTY = (0, 0, 0)


def claim_state(union, token, *accounts):
    """Everything a refused claim must leave untouched."""
    return (
        token.balanceOf(union),
        union.totalClaimed(),
        [union.claimedBy(a) for a in accounts],
        [union.nonces(a) for a in accounts],
        [token.balanceOf(a) for a in accounts],
    )


@pytest.fixture
def funded(roots_union, book, stablecoin, buyer, alice, bob):
    """Alice 1 share, bob 3, one deposit split between them."""
    book.post({alice: 1, bob: 3})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    return roots_union


def test_claim_pays_what_the_leaf_has_earned(funded, book, stablecoin, alice, bob):
    tx = funded.claim(bob, MAX_UINT, *book.claim_args(alice), {"from": alice})

    assert tx.return_value == NET // 4
    assert tx.events["Claimed"] == {"member": alice, "to": bob, "amount": NET // 4}
    assert stablecoin.balanceOf(bob) == NET // 4
    assert funded.claimedBy(alice) == NET // 4
    assert funded.totalClaimed() == NET // 4
    assert book.claimable(alice) == 0


def test_partial_claims_add_up_to_the_earnings(funded, book, alice):
    funded.claim(alice, 1_000, *book.claim_args(alice), {"from": alice})
    funded.claim(alice, 2_000, book.leaf(alice), [], {"from": alice})

    assert funded.claimedBy(alice) == 3_000
    assert book.claimable(alice) == NET // 4 - 3_000


def test_a_remembered_leaf_needs_no_proof_until_the_next_root(
    funded, book, stablecoin, buyer, alice, bob
):
    funded.claim(alice, 1, *book.claim_args(alice), {"from": alice})
    assert funded.claimable(alice, book.leaf(alice), []) == NET // 4 - 1
    old_leaf = book.leaf(alice)
    book.post({alice: 1, bob: 3})
    pay(stablecoin, funded, buyer, AMOUNT)

    with reverts_with("DataUnionInvalidProof", alice, 2):
        funded.claim(alice, MAX_UINT, book.leaf(alice), [], {"from": alice})
    with reverts_with("DataUnionInvalidProof", alice, 2):  # nor does the old leaf pass
        funded.claim(alice, MAX_UINT, old_leaf, [], {"from": alice})
    assert funded.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice}).return_value
    assert funded.claimedBy(alice) == 2 * NET // 4


def test_claim_works_while_paused(funded, book, pauser, alice):
    funded.pause({"from": pauser})
    assert funded.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice}).return_value


def test_claim_with_a_wrong_leaf_is_refused(funded, book, stablecoin, alice, bob):
    offset, previous, shares = book.leaf(alice)
    before = claim_state(funded, stablecoin, alice, bob)
    for wrong in ((offset, previous, shares + 1), (offset + 2**64, previous, shares)):
        with reverts_with("DataUnionInvalidProof", alice, 1):
            funded.claim(alice, MAX_UINT, wrong, book.proof(alice), {"from": alice})
        with reverts_with("DataUnionInvalidProof", alice, 1):
            funded.claimable(alice, wrong, book.proof(alice))
    assert claim_state(funded, stablecoin, alice, bob) == before


def test_claim_with_another_members_leaf_is_refused(funded, book, stablecoin, alice, bob, rando):
    before = claim_state(funded, stablecoin, alice, bob, rando)
    for thief in (alice, rando):
        with reverts_with("DataUnionInvalidProof", thief, 1):
            funded.claim(thief, MAX_UINT, *book.claim_args(bob), {"from": thief})
    assert claim_state(funded, stablecoin, alice, bob, rando) == before


def test_claim_with_a_tampered_proof_is_refused(
    roots_union, book, stablecoin, buyer, alice, bob, carol, rando
):
    book.post({alice: 1, bob: 3, carol: 2, rando: 1})  # four leaves: every proof has two
    pay(stablecoin, roots_union, buyer, AMOUNT)
    leaf, proof = book.claim_args(alice)
    assert len(proof) == 2
    tampered = [proof[0][:-2] + ("00" if proof[0][-2:] != "00" else "01"), proof[1]]
    before = claim_state(roots_union, stablecoin, alice)

    for bad in (tampered, proof[:1], [*proof, proof[0]], list(reversed(proof))):
        with reverts_with("DataUnionInvalidProof", alice, 1):
            roots_union.claim(alice, MAX_UINT, leaf, bad, {"from": alice})
    assert claim_state(roots_union, stablecoin, alice) == before


def test_claim_with_the_previous_epochs_leaf_is_refused(
    funded, book, stablecoin, buyer, alice, bob
):
    old_leaf, old_proof = book.claim_args(alice)
    book.post({alice: 1, bob: 3})
    pay(stablecoin, funded, buyer, AMOUNT)
    before = claim_state(funded, stablecoin, alice)

    with reverts_with("DataUnionInvalidProof", alice, 2):
        funded.claim(alice, MAX_UINT, old_leaf, old_proof, {"from": alice})
    assert claim_state(funded, stablecoin, alice) == before


def test_claim_before_any_root_is_refused(roots_union, stablecoin, buyer, alice):
    pay(stablecoin, roots_union, buyer, AMOUNT)  # held: no root yet
    before = claim_state(roots_union, stablecoin, alice)

    with reverts_with("DataUnionNothingToClaim", alice):
        roots_union.claim(alice, MAX_UINT, (0, 0, 1), [], {"from": alice})
    assert roots_union.claimable(alice, (0, 0, 1), []) == 0
    assert claim_state(roots_union, stablecoin, alice) == before


def test_claim_with_nothing_earned_is_refused(roots_union, book, stablecoin, alice):
    book.post({alice: 1})
    before = claim_state(roots_union, stablecoin, alice)

    with reverts_with("DataUnionNothingToClaim", alice):
        roots_union.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice})
    assert claim_state(roots_union, stablecoin, alice) == before


def test_claim_after_taking_everything_is_refused(funded, book, stablecoin, alice):
    funded.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice})
    before = claim_state(funded, stablecoin, alice)

    with reverts_with("DataUnionNothingToClaim", alice):
        funded.claim(alice, 1, *book.claim_args(alice), {"from": alice})
    assert claim_state(funded, stablecoin, alice) == before


def test_claim_of_more_than_earned_is_refused(funded, book, stablecoin, alice):
    available = book.claimable(alice)
    before = claim_state(funded, stablecoin, alice)

    with reverts_with("DataUnionInsufficientEarnings", available + 1, available):
        funded.claim(alice, available + 1, *book.claim_args(alice), {"from": alice})
    assert claim_state(funded, stablecoin, alice) == before


def test_claim_of_zero_is_refused(funded, book, stablecoin, alice):
    before = claim_state(funded, stablecoin, alice)
    with reverts_with("DataUnionZeroAmount"):
        funded.claim(alice, 0, *book.claim_args(alice), {"from": alice})
    assert claim_state(funded, stablecoin, alice) == before


def test_claim_to_no_one_or_to_the_union_is_refused(funded, book, stablecoin, alice):
    before = claim_state(funded, stablecoin, alice)
    for to in ("0x" + "00" * 20, funded.address):
        with reverts_with("DataUnionInvalidRecipient", to):
            funded.claim(to, MAX_UINT, *book.claim_args(alice), {"from": alice})
    assert claim_state(funded, stablecoin, alice) == before


def test_earnings_carry_over_exactly_through_roots_that_change_shares(
    roots_union, book, stablecoin, buyer, alice, bob, carol
):
    book.post({alice: 1, bob: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)  # 475,000 each
    book.post({alice: 3, bob: 0, carol: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)  # 712,500 : 0 : 237,500
    book.post({alice: 0, carol: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)  # carol only

    assert [book.claimable(m) for m in (alice, bob, carol)] == [
        475_000 + 712_500,
        475_000,
        237_500 + NET,
    ]
    # Bob, with no shares in two roots running, still has his leaf (and his earnings).
    assert book.leaf(bob)[1:] == (0, 0)
    assert roots_union.claim(bob, MAX_UINT, *book.claim_args(bob), {"from": bob}).return_value == (
        475_000
    )


def test_leaf_hash_matches_the_relayers(roots_union, alice):
    rng = random.Random(15)
    cases = [(1, 0, 0, 0), (2**64 - 1, -(2**200), 2**60 - 1, 0), (7, 2**255 - 1, 0, 2**60 - 1)]
    cases += [
        (
            rng.randrange(2**64),
            rng.randrange(-(2**250), 2**250),
            rng.randrange(2**60),
            rng.randrange(2**60),
        )
        for _ in range(5)
    ]
    for epoch, offset, previous, shares in cases:
        expected = leaf_hash(epoch, Leaf(alice.address, offset, previous, shares))
        assert (
            roots_union.leafHash(epoch, alice, (offset, previous, shares)) == "0x" + expected.hex()
        )


def test_claimed_by_and_has_left_start_empty(roots_union, rando):
    assert roots_union.claimedBy(rando) == 0
    assert not roots_union.hasLeft(rando)
    assert roots_union.claimable(rando, EMPTY, []) == 0
