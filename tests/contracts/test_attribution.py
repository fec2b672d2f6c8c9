"""postAttribution: absolute shares in bounded batches, earnings settled before shares change,
epochs that advance by exactly one, one report hash per epoch. The delay, the veto and the
delayed role changes are in test_timelock.py."""

import brownie
from brownie import ZERO_ADDRESS

from fixtures.reverts import reverts_with
from fixtures.union import (
    finish_when_due,
    grant_delayed_role,
    pay,
    post,
    report_hash_for,
    revoke_delayed_role,
)

AMOUNT = 1_000_000
NET = 950_000  # AMOUNT less the 5% fee


def test_post_sets_absolute_shares_and_total(union, attester, alice, bob):
    post(union, attester, 1, {alice: 10, bob: 30}, finish=False)
    post(union, attester, 1, {alice: 20})

    assert union.sharesOf(alice) == 20
    assert union.sharesOf(bob) == 30
    assert union.totalShares() == 50


def test_post_emits_shares_set_and_attribution_posted(union, attester, alice, bob):
    tx = post(union, attester, 1, {alice: 10, bob: 30}, finish=False)

    assert [dict(e) for e in tx.events["SharesSet"]] == [
        {"member": alice, "epoch": 1, "shares": 10},
        {"member": bob, "epoch": 1, "shares": 30},
    ]
    assert tx.events["AttributionPosted"] == {
        "epoch": 1,
        "reportHash": "0x" + report_hash_for(1).hex(),
        "members": 2,
        "totalShares": 40,
    }
    assert union.currentEpoch() == 1
    assert union.currentReportHash() == "0x" + report_hash_for(1).hex()
    assert union.attributionInProgress()


def test_resending_a_batch_changes_nothing(union, stablecoin, attester, buyer, alice, bob):
    post(union, attester, 1, {alice: 1, bob: 3})
    pay(stablecoin, union, buyer, AMOUNT)
    before = (union.claimable(alice), union.claimable(bob), union.totalShares())

    post(union, attester, 2, {alice: 1, bob: 3}, finish=False)
    post(union, attester, 2, {alice: 1, bob: 3})

    assert (union.claimable(alice), union.claimable(bob), union.totalShares()) == before


def test_share_change_settles_earnings_at_the_old_shares_first(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1, bob: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    post(union, attester, 2, {alice: 3})  # alice's first deposit was earned at 1 share of 2
    pay(stablecoin, union, buyer, AMOUNT)

    assert union.claimable(alice) == NET // 2 + NET * 3 // 4
    assert union.claimable(bob) == NET // 2 + NET // 4


def test_setting_shares_to_zero_keeps_earnings_claimable(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1, bob: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    post(union, attester, 2, {alice: 0})
    pay(stablecoin, union, buyer, AMOUNT)

    assert union.sharesOf(alice) == 0
    assert union.claimable(alice) == NET // 2
    assert union.claimable(bob) == NET // 2 + NET


def test_member_removed_then_readded_keeps_earlier_earnings(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1, bob: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    post(union, attester, 2, {alice: 0})
    post(union, attester, 3, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)

    assert union.claimable(alice) == NET // 2 + NET // 2


def test_post_reverts_for_older_epoch(union, attester, alice):
    post(union, attester, 1, {alice: 1})
    post(union, attester, 2, {alice: 2})
    with reverts_with("DataUnionStaleEpoch", 1, 2):
        post(union, attester, 1, {alice: 3})
    assert union.sharesOf(alice) == 2


def test_post_reverts_for_older_epoch_while_one_is_pending(union, attester, alice):
    post(union, attester, 1, {alice: 1})
    post(union, attester, 2, {alice: 2}, finish=False)
    with reverts_with("DataUnionStaleEpoch", 1, 2):
        post(union, attester, 1, {alice: 3}, finish=False)
    assert union.sharesOf(alice) == 2


def test_post_reverts_when_an_epoch_is_skipped(union, attester, alice):
    with reverts_with("DataUnionEpochSkipped", 2, 1):
        post(union, attester, 2, {alice: 1}, finish=False)
    post(union, attester, 1, {alice: 1})
    with reverts_with("DataUnionEpochSkipped", 3, 2):
        post(union, attester, 3, {alice: 2}, finish=False)
    assert (union.currentEpoch(), union.sharesOf(alice)) == (1, 1)


def test_post_refuses_the_last_epoch_so_the_table_cannot_be_frozen(union, attester, alice):
    last = 2**64 - 1
    with reverts_with("DataUnionEpochSkipped", last, 1):
        union.postAttribution(last, b"\x01" * 32, [alice], [1], {"from": attester})
    assert union.currentEpoch() == 0


def test_post_reverts_for_epoch_zero(union, attester, alice):
    with reverts_with("DataUnionStaleEpoch", 0, 0):
        union.postAttribution(0, b"\x01" * 32, [alice], [1], {"from": attester})


def test_post_reverts_when_batch_of_same_epoch_has_another_report(union, attester, alice, bob):
    post(union, attester, 1, {alice: 1}, finish=False)
    first, other = report_hash_for(1), b"\x02" * 32
    with reverts_with("DataUnionReportHashMismatch", 1, first, other):
        post(union, attester, 1, {bob: 1}, report_hash=other)


def test_post_reverts_on_zero_report_hash(union, attester, alice):
    with reverts_with("DataUnionInvalidReportHash"):
        union.postAttribution(1, b"\x00" * 32, [alice], [1], {"from": attester})


def test_post_reverts_on_length_mismatch(union, attester, alice, bob):
    with reverts_with("DataUnionLengthMismatch", 2, 1):
        union.postAttribution(1, b"\x01" * 32, [alice, bob], [1], {"from": attester})


def test_post_reverts_on_empty_batch(union, attester):
    with reverts_with("DataUnionInvalidBatchSize", 0, 500):
        union.postAttribution(1, b"\x01" * 32, [], [], {"from": attester})


def test_post_reverts_on_batch_above_limit(union, attester):
    members = [f"0x{i:040x}" for i in range(1, 502)]
    with reverts_with("DataUnionInvalidBatchSize", 501, 500):
        union.postAttribution(1, b"\x01" * 32, members, [1] * 501, {"from": attester})


def test_post_reverts_on_shares_above_limit(union, attester, alice):
    too_many = 2**60
    with reverts_with("DataUnionSharesTooLarge", alice, too_many, too_many - 1):
        union.postAttribution(1, b"\x01" * 32, [alice], [too_many], {"from": attester})


def test_post_reverts_on_zero_address_member(union, attester):
    with reverts_with("DataUnionZeroAddress"):
        union.postAttribution(1, b"\x01" * 32, [ZERO_ADDRESS], [1], {"from": attester})


def test_post_reverts_for_non_attester(union, rando, alice):
    with brownie.reverts():
        post(union, rando, 1, {alice: 1})
    assert union.sharesOf(alice) == 0


def test_post_reverts_for_revoked_attester(union, admin, attester, alice):
    revoke_delayed_role(union, union.ATTESTER_ROLE(), attester, admin)
    with reverts_with("AccessControlUnauthorizedAccount", attester, union.ATTESTER_ROLE()):
        post(union, attester, 1, {alice: 1})


def test_admin_can_rotate_the_attester_key(union, admin, attester, rando, alice):
    grant_delayed_role(union, union.ATTESTER_ROLE(), rando, admin)
    revoke_delayed_role(union, union.ATTESTER_ROLE(), attester, admin)

    post(union, rando, 1, {alice: 1})

    assert union.sharesOf(alice) == 1
    assert not union.hasRole(union.ATTESTER_ROLE(), attester)


def test_post_reverts_when_total_shares_exceed_limit(union, attester, alice, bob):
    limit = 2**60 - 1
    post(union, attester, 1, {alice: limit}, finish=False)
    with reverts_with("DataUnionTotalSharesTooLarge", limit + 1, limit):
        post(union, attester, 1, {bob: 1})
    assert union.totalShares() == limit


def test_revenue_arriving_while_an_epoch_is_posted_is_split_by_the_new_shares(
    union, stablecoin, attester, buyer, alice, bob
):
    post(union, attester, 1, {alice: 1})
    post(union, attester, 2, {alice: 1}, finish=False)  # batch 1 of 2
    pay(stablecoin, union, buyer, AMOUNT)
    assert union.undistributed() == NET
    assert union.claimable(alice) == 0

    post(union, attester, 2, {bob: 1})  # batch 2 of 2, then finished

    assert union.undistributed() == 0
    assert union.claimable(alice) == union.claimable(bob) == NET // 2


def test_finish_attribution_ends_posting_and_emits_the_epoch(union, attester, alice):
    post(union, attester, 1, {alice: 5}, finish=False)

    tx = finish_when_due(union, 1, attester)

    assert tx.events["AttributionFinished"] == {
        "epoch": 1,
        "reportHash": "0x" + report_hash_for(1).hex(),
        "totalShares": 5,
    }
    assert not union.attributionInProgress()


def test_post_reverts_for_a_finished_epoch(union, attester, alice, bob):
    post(union, attester, 1, {alice: 1})
    with reverts_with("DataUnionStaleEpoch", 1, 1):
        post(union, attester, 1, {bob: 1})
    assert union.sharesOf(bob) == 0


def test_finish_attribution_reverts_when_nothing_is_pending(union, attester, alice):
    with reverts_with("DataUnionNotPending", 1, 0):
        union.finishAttribution(1, {"from": attester})
    post(union, attester, 1, {alice: 1})
    with reverts_with("DataUnionNotPending", 1, 1):
        union.finishAttribution(1, {"from": attester})


def test_finish_attribution_reverts_for_another_epoch(union, attester, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    with reverts_with("DataUnionNotPending", 2, 1):
        union.finishAttribution(2, {"from": attester})
    with reverts_with("DataUnionNotPending", 0, 1):
        union.finishAttribution(0, {"from": attester})
    assert union.attributionInProgress()
