"""Leaving a root-mode union: the member proves their leaf once, their earnings freeze in whole
units and stay claimable, their shares leave the total in force (and the pending one) at once,
and no later root can pay them again. Leaving works while paused."""

import pytest

from fixtures.reverts import reverts_with
from fixtures.roots import EMPTY_LEAF
from fixtures.union import MAX_UINT, pay
from relayer.merkle import Leaf, Tree

AMOUNT = 1_000_000
NET = 950_000
PENDING, VETOED = 1, 2


def leave_state(union, member):
    """Everything a refused leave must leave untouched."""
    return (
        union.hasLeft(member),
        union.totalShares(),
        tuple(union.pendingRoot()),
        union.claimedBy(member),
        union.nonces(member),
        union.rewardPerShare(),
    )


@pytest.fixture
def funded(roots_union, book, stablecoin, buyer, alice, bob):
    """Alice 1 share, bob 3, one deposit split between them."""
    book.post({alice: 1, bob: 3})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    return roots_union


def test_leave_freezes_earnings_and_hands_later_revenue_to_the_others(
    funded, book, stablecoin, buyer, alice, bob
):
    tx = funded.leave(*book.leave_args(alice), {"from": alice})

    assert tx.events["MemberLeft"] == {"member": alice}
    assert funded.hasLeft(alice)
    assert funded.totalShares() == 3
    pay(stablecoin, funded, buyer, AMOUNT)
    # A member who left is read from their word: any leaf, no proof.
    assert funded.claimable(alice, EMPTY_LEAF, []) == NET // 4
    assert book.claimable(bob) == NET * 3 // 4 + NET
    assert funded.claim(alice, MAX_UINT, EMPTY_LEAF, [], {"from": alice}).return_value == NET // 4
    with reverts_with("DataUnionNothingToClaim", alice):
        funded.claim(alice, MAX_UINT, EMPTY_LEAF, [], {"from": alice})


def test_leave_keeps_what_was_claimed_before(funded, book, alice):
    funded.claim(alice, 1_000, *book.claim_args(alice), {"from": alice})
    funded.leave(*book.leave_args(alice), {"from": alice})

    assert funded.claimedBy(alice) == 1_000
    assert funded.claimable(alice, EMPTY_LEAF, []) == NET // 4 - 1_000


def test_the_fraction_of_a_unit_a_leaver_cannot_take_goes_to_the_others(
    roots_union, book, stablecoin, buyer, alice, bob
):
    book.post({alice: 1, bob: 2})
    pay(stablecoin, roots_union, buyer, 1_000)  # 950 over 3 shares: 316.67 each
    roots_union.leave(*book.leave_args(alice), {"from": alice})
    pay(stablecoin, roots_union, buyer, 1_000)

    assert roots_union.claimable(alice, EMPTY_LEAF, []) == 316
    # Bob: 633.33 + 950 + alice's 0.67 left behind = 1,584.
    assert book.claimable(bob) == 1_584


def test_a_later_root_never_pays_an_address_that_left(
    funded, book, stablecoin, attester, buyer, alice, bob
):
    funded.leave(*book.leave_args(alice), {"from": alice})
    # An attester that lists alice again anyway: her leaf cannot revive her earnings.
    epoch = funded.currentEpoch() + 1
    bob_leaf = book.active.leaf_of(str(bob))
    leaves = [
        Leaf(str(alice), 0, 0, 1_000),
        Leaf(str(bob), bob_leaf.offset, bob_leaf.shares, bob_leaf.shares),
    ]
    tree = Tree(epoch, leaves)
    funded.postRoot(epoch, tree.root, b"\x07" * 32, 1_003, 2, {"from": attester})
    book.pending = tree
    book.finish()
    pay(stablecoin, funded, buyer, AMOUNT)

    assert book.claimable(alice) == NET // 4
    assert funded.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice}).return_value == (
        NET // 4
    )
    with reverts_with("DataUnionAlreadyLeft", alice):
        funded.leave(*book.leave_args(alice), {"from": alice})


def test_leave_twice_is_refused(funded, book, alice):
    args = book.leave_args(alice)
    funded.leave(*args, {"from": alice})
    before = leave_state(funded, alice)

    with reverts_with("DataUnionAlreadyLeft", alice):
        funded.leave(*args, {"from": alice})
    assert leave_state(funded, alice) == before


def test_leave_before_any_root_is_refused(roots_union, alice):
    before = leave_state(roots_union, alice)
    with reverts_with("DataUnionNotMember", alice):
        roots_union.leave(EMPTY_LEAF, [], EMPTY_LEAF, [], {"from": alice})
    assert leave_state(roots_union, alice) == before


def test_leave_with_a_leaf_not_the_members_is_refused(funded, book, alice, bob, rando):
    offset, previous, shares = book.leaf(alice)
    before = [leave_state(funded, m) for m in (alice, rando)]

    with reverts_with("DataUnionInvalidProof", alice, 1):
        funded.leave(
            (offset, previous, shares - 1), book.proof(alice), EMPTY_LEAF, [], {"from": alice}
        )
    with reverts_with("DataUnionInvalidProof", rando, 1):  # bob's leaf, for someone else
        funded.leave(*book.leave_args(bob), {"from": rando})
    assert [leave_state(funded, m) for m in (alice, rando)] == before


def test_leave_works_while_paused(funded, book, pauser, alice):
    funded.pause({"from": pauser})
    funded.leave(*book.leave_args(alice), {"from": alice})
    assert funded.hasLeft(alice)
    assert funded.claim(alice, MAX_UINT, EMPTY_LEAF, [], {"from": alice}).return_value == NET // 4


def test_leave_while_a_root_is_pending_takes_the_shares_out_of_both_totals(
    funded, book, stablecoin, buyer, alice, bob, carol
):
    book.post({alice: 5, bob: 3, carol: 2}, finish=False)
    assert tuple(funded.pendingRoot())[1] == 10

    funded.leave(*book.leave_args(alice), {"from": alice})

    assert funded.totalShares() == 3
    assert tuple(funded.pendingRoot())[1] == 5
    book.finish()
    assert funded.totalShares() == 5
    pay(stablecoin, funded, buyer, AMOUNT)
    assert (book.claimable(bob), book.claimable(carol)) == (
        NET * 3 // 4 + NET * 3 // 5,
        NET * 2 // 5,
    )
    assert funded.claimable(alice, EMPTY_LEAF, []) == NET // 4


def test_leave_while_pending_needs_the_members_pending_leaf(
    funded, book, stablecoin, alice, bob, carol
):
    book.post({alice: 5, bob: 3, carol: 2}, finish=False)
    leaf, proof, pending_leaf, pending_proof = book.leave_args(alice)
    offset, previous, shares = pending_leaf
    before = leave_state(funded, alice)

    for bad_leaf, bad_proof in (
        ((offset, previous, shares - 1), pending_proof),  # fewer shares than the root says
        (EMPTY_LEAF, []),
        (book._of(book.pending, bob)[0], book._of(book.pending, bob)[1]),
    ):
        with reverts_with("DataUnionInvalidProof", alice, 2):
            funded.leave(leaf, proof, bad_leaf, bad_proof, {"from": alice})
    assert leave_state(funded, alice) == before


def test_leave_while_the_next_root_is_vetoed_ignores_the_pending_leaf(
    funded, book, guardian, alice, bob
):
    book.post({alice: 5, bob: 3}, finish=False)
    book.veto(guardian)
    assert tuple(funded.attributionState())[1] == VETOED

    funded.leave(*book.leave_args(alice)[:2], (1, 2, 3), [], {"from": alice})

    assert funded.hasLeft(alice)
    assert funded.totalShares() == 3
    assert tuple(funded.pendingRoot()) == ("0x" + "00" * 32, 0)


def test_the_last_member_leaving_holds_revenue_for_the_next_root(
    funded, book, stablecoin, buyer, alice, bob, carol
):
    funded.leave(*book.leave_args(alice), {"from": alice})
    funded.leave(*book.leave_args(bob), {"from": bob})
    assert funded.totalShares() == 0
    pay(stablecoin, funded, buyer, AMOUNT)
    assert funded.undistributed() == NET

    book.post({carol: 1})

    assert funded.undistributed() == 0
    assert book.claimable(carol) == NET
