"""Rounding: it favours members while the union has advanced less than one token unit in total,
and never lets the union owe more than it holds, even with shares at their limits."""

from fixtures.union import MAX_UINT, pay, post

LIMIT = 2**60 - 1


def assert_solvent(union, stablecoin, members):
    owed = sum(union.claimable(m) for m in members) + union.feesOwed(union.feeRecipient())
    assert stablecoin.balanceOf(union) >= owed + union.undistributed()


def test_union_stays_solvent_with_shares_at_the_limit(
    union, stablecoin, attester, buyer, alice, bob, carol
):
    members = (alice, bob, carol)
    post(union, attester, 1, {alice: LIMIT // 2, bob: LIMIT // 3, carol: LIMIT // 7})
    for epoch, amount in enumerate((1, 7, 999_999, 3, 1_000_003, 11), start=2):
        pay(stablecoin, union, buyer, amount)
        assert_solvent(union, stablecoin, members)
        post(union, attester, epoch, {alice: LIMIT // (epoch + 1), bob: LIMIT // (2 * epoch)})
        assert_solvent(union, stablecoin, members)
        for member in members:
            if union.claimable(member):
                union.claim(member, MAX_UINT, {"from": member})
        assert_solvent(union, stablecoin, members)


def test_fractions_of_a_unit_stay_with_the_members_until_they_add_up(
    union, stablecoin, attester, buyer, alice, bob, carol
):
    post(union, attester, 1, {alice: 1, bob: 1, carol: 1})
    pay(stablecoin, union, buyer, 1_000_000)  # 950,000 after the fee, split three ways
    assert [union.claimable(m) for m in (alice, bob, carol)] == [316_666] * 3

    pay(stablecoin, union, buyer, 1_000_000)
    pay(stablecoin, union, buyer, 1_000_000)

    assert [union.claimable(m) for m in (alice, bob, carol)] == [950_000] * 3
