"""One root-mode union through its whole life: roots, deposits before, during and after a
pending root, claims with and without a proof, a member leaving."""

from fixtures.union import MAX_UINT, pay

MEMBERS_PART = 950  # of every 1,000 deposited: the 5% fee goes to the operator


def test_revenue_follows_the_root_in_force_through_pending_roots_and_leaves(
    roots_union, book, stablecoin, buyer, alice, bob, carol
):
    book.post({alice: 1, bob: 3})
    pay(stablecoin, roots_union, buyer, 1000)
    assert (book.claimable(alice), book.claimable(bob)) == (237, 712)  # 237.5 and 712.5

    assert (
        roots_union.claim(alice, MAX_UINT, *book.claim_args(alice), {"from": alice}).return_value
        == 237
    )
    pay(stablecoin, roots_union, buyer, 1000)
    # The second claim under the same root proves nothing: the leaf was remembered.
    tx = roots_union.claim(alice, MAX_UINT, book.leaf(alice), [], {"from": alice})
    assert tx.return_value == 238  # 475 earned in all, 237 claimed before

    book.post({alice: 2, bob: 2, carol: 4}, finish=False)
    pay(stablecoin, roots_union, buyer, 1000)  # split by the root in force, 1:3
    book.finish()
    pay(stablecoin, roots_union, buyer, 1000)  # split by the new root, 2:2:4
    assert [book.claimable(m) for m in (alice, bob, carol)] == [475, 2375, 475]

    roots_union.leave(*book.leave_args(bob), {"from": bob})
    pay(stablecoin, roots_union, buyer, 1000)  # bob's shares are gone: 2:4
    assert [book.claimable(m) for m in (alice, bob, carol)] == [791, 2375, 1108]
    assert roots_union.totalShares() == 6
    assert stablecoin.balanceOf(roots_union) == 5 * 1000 - 475
    owed = 791 + 2375 + 1108 + roots_union.feesOwed(roots_union.feeRecipient())
    assert stablecoin.balanceOf(roots_union) - owed in (0, 1, 2)  # fractions of a unit
