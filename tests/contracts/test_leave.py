"""leave(): a member gives up their shares and keeps what they earned, even while paused."""

from fixtures.reverts import reverts_with
from fixtures.union import MAX_UINT, pay, post

AMOUNT = 1_000_000
NET = 950_000


def test_leave_zeroes_shares_and_keeps_earnings(union, stablecoin, attester, buyer, alice, bob):
    post(union, attester, 1, {alice: 1, bob: 1})
    pay(stablecoin, union, buyer, AMOUNT)

    tx = union.leave({"from": alice})

    assert tx.events["MemberLeft"] == {"member": alice}
    assert tx.events["SharesSet"] == {"member": alice, "epoch": 1, "shares": 0}
    assert union.sharesOf(alice) == 0
    assert union.totalShares() == 1
    assert union.claimable(alice) == NET // 2


def test_member_who_left_earns_nothing_more_and_still_claims(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1, bob: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    union.leave({"from": alice})
    pay(stablecoin, union, buyer, AMOUNT)

    union.claim(alice, 100, {"from": alice})
    union.claim(alice, MAX_UINT, {"from": alice})

    assert stablecoin.balanceOf(alice) == NET // 2
    assert union.claimable(alice) == 0
    assert union.claimable(bob) == NET // 2 + NET


def test_leave_works_while_paused(union, attester, pauser, alice):
    post(union, attester, 1, {alice: 1})
    union.pause({"from": pauser})

    union.leave({"from": alice})

    assert union.sharesOf(alice) == 0


def test_leave_reverts_for_non_member(union, rando):
    with reverts_with("DataUnionNotMember", rando):
        union.leave({"from": rando})


def test_last_member_leaving_sends_new_revenue_to_the_next_shareholders(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1})
    union.leave({"from": alice})
    pay(stablecoin, union, buyer, AMOUNT)
    assert union.undistributed() == NET

    post(union, attester, 2, {bob: 1})

    assert union.claimable(bob) == NET
    assert union.claimable(alice) == 0
