"""Root-mode epochs: posting a root, its timelock, finishing and vetoing it, and the views that
say which root is in force. Every refusal names its error and leaves the union as it was."""

import pytest
from brownie import chain

from fixtures.reverts import reverts_with
from fixtures.union import ATTRIBUTION_DELAY, pay, report_hash_for, wait_until

PENDING, VETOED, FINISHED = 1, 2, 0
MAX_TOTAL_SHARES = 2**60 - 1
ROOT = b"\x42" * 32
AMOUNT = 1_000_000
NET = 950_000  # AMOUNT less the 5% fee


def epoch_state(union):
    """Everything an epoch refusal must leave untouched."""
    return (
        tuple(union.attributionState()),
        tuple(union.activeRoot()),
        tuple(union.pendingRoot()),
        union.currentReportHash(),
        union.totalShares(),
        union.rewardPerShare(),
        union.undistributed(),
    )


def test_post_root_makes_it_pending_for_the_attribution_delay(roots_union, attester):
    report = report_hash_for(1)
    tx = roots_union.postRoot(1, ROOT, report, 7, 3, {"from": attester})

    due = tx.timestamp + ATTRIBUTION_DELAY
    assert tx.events["RootPosted"] == {
        "epoch": 1,
        "root": "0x" + ROOT.hex(),
        "reportHash": "0x" + report.hex(),
        "members": 3,
        "totalShares": 7,
    }
    assert tx.events["AttributionPending"]["dueAt"] == due
    assert tuple(roots_union.attributionState()) == (1, PENDING, due)
    assert tuple(roots_union.pendingRoot()) == ("0x" + ROOT.hex(), 7)
    assert tuple(roots_union.activeRoot()) == (0, "0x" + "00" * 32, 0)
    assert roots_union.currentReportHash() == "0x" + report.hex()
    assert roots_union.totalShares() == 0


def test_finish_puts_the_root_in_force_at_the_accumulator_value_of_that_moment(
    roots_union, book, stablecoin, attester, buyer, alice, bob
):
    book.post({alice: 1, bob: 3})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    accumulator = roots_union.rewardPerShare()
    assert accumulator > 0
    book.post({alice: 2}, finish=False)

    tx = book.finish()

    root = "0x" + book.active.root.hex()
    assert tx.events["RootActivated"] == {"epoch": 2, "root": root, "epochStart": accumulator}
    assert tx.events["AttributionFinished"]["totalShares"] == 2  # bob stays in, with 0
    assert tuple(roots_union.activeRoot()) == (2, root, accumulator)
    assert tuple(roots_union.pendingRoot()) == ("0x" + "00" * 32, 0)
    assert tuple(roots_union.attributionState())[:2] == (2, FINISHED)
    assert roots_union.totalShares() == 2


def test_revenue_before_the_first_root_is_held_then_split_by_it(
    roots_union, book, stablecoin, buyer, alice, bob
):
    pay(stablecoin, roots_union, buyer, AMOUNT)
    assert roots_union.undistributed() == NET
    book.post({alice: 1, bob: 1}, finish=False)
    pay(stablecoin, roots_union, buyer, AMOUNT)  # no root in force yet: still held
    assert roots_union.undistributed() == 2 * NET

    book.finish()

    assert roots_union.undistributed() == 0
    assert (book.claimable(alice), book.claimable(bob)) == (NET, NET)


def test_revenue_while_a_root_is_pending_is_split_by_the_root_in_force(
    roots_union, book, stablecoin, buyer, alice, bob
):
    book.post({alice: 1})
    book.post({bob: 1}, finish=False)  # alice out, bob in: not yet in force
    pay(stablecoin, roots_union, buyer, AMOUNT)

    assert roots_union.undistributed() == 0
    assert book.claimable(alice) == NET
    book.finish()
    assert (book.claimable(alice), book.claimable(bob)) == (NET, 0)


def test_post_root_accepts_the_largest_total_shares(roots_union, attester):
    roots_union.postRoot(1, ROOT, report_hash_for(1), MAX_TOTAL_SHARES, 1, {"from": attester})
    assert tuple(roots_union.pendingRoot())[1] == MAX_TOTAL_SHARES


@pytest.mark.parametrize(
    ("epoch", "root", "report", "total", "error"),
    [
        (1, b"\x00" * 32, report_hash_for(1), 1, ("DataUnionInvalidRoot",)),
        (1, ROOT, b"\x00" * 32, 1, ("DataUnionInvalidReportHash",)),
        (
            1,
            ROOT,
            report_hash_for(1),
            MAX_TOTAL_SHARES + 1,
            ("DataUnionTotalSharesTooLarge", MAX_TOTAL_SHARES + 1, MAX_TOTAL_SHARES),
        ),
        (0, ROOT, report_hash_for(0), 1, ("DataUnionStaleEpoch", 0, 0)),
        (2, ROOT, report_hash_for(2), 1, ("DataUnionEpochSkipped", 2, 1)),
    ],
    ids=["zero root", "zero report hash", "total too large", "stale epoch", "skipped epoch"],
)
def test_post_root_refuses_a_bad_root_and_changes_nothing(
    roots_union, attester, epoch, root, report, total, error
):
    before = epoch_state(roots_union)
    with reverts_with(*error):
        roots_union.postRoot(epoch, root, report, total, 1, {"from": attester})
    assert epoch_state(roots_union) == before


def test_post_root_refuses_an_epoch_already_finished(roots_union, book, attester, alice):
    book.post({alice: 1})
    before = epoch_state(roots_union)
    with reverts_with("DataUnionStaleEpoch", 1, 1):
        roots_union.postRoot(1, ROOT, report_hash_for(1), 1, 1, {"from": attester})
    assert epoch_state(roots_union) == before


def test_post_root_while_one_is_pending_is_refused(roots_union, book, attester, alice):
    book.post({alice: 1}, finish=False)
    _, _, due = tuple(roots_union.attributionState())
    before = epoch_state(roots_union)

    with reverts_with("DataUnionEpochPending", 1, due):
        roots_union.postRoot(2, ROOT, report_hash_for(2), 1, 1, {"from": attester})
    with reverts_with("DataUnionEpochPending", 1, due):  # not even a replacement for epoch 1
        roots_union.postRoot(1, ROOT, report_hash_for(1), 1, 1, {"from": attester})
    with reverts_with("DataUnionStaleEpoch", 0, 1):
        roots_union.postRoot(0, ROOT, report_hash_for(0), 1, 1, {"from": attester})
    assert epoch_state(roots_union) == before


def test_only_the_attester_posts_roots(roots_union, admin, rando):
    role = roots_union.ATTESTER_ROLE()
    before = epoch_state(roots_union)
    for outsider in (rando, admin):
        with reverts_with("AccessControlUnauthorizedAccount", outsider, role):
            roots_union.postRoot(1, ROOT, report_hash_for(1), 1, 1, {"from": outsider})
    assert epoch_state(roots_union) == before


def test_post_root_while_paused_is_refused(roots_union, attester, pauser):
    roots_union.pause({"from": pauser})
    before = epoch_state(roots_union)
    with reverts_with("DataUnionEnforcedPause"):
        roots_union.postRoot(1, ROOT, report_hash_for(1), 1, 1, {"from": attester})
    assert epoch_state(roots_union) == before


def test_finish_before_the_root_is_due_is_refused(roots_union, book, alice, rando):
    book.post({alice: 1}, finish=False)
    _, _, due = tuple(roots_union.attributionState())
    chain.sleep(ATTRIBUTION_DELAY // 2)
    before = epoch_state(roots_union)

    with reverts_with("DataUnionAttributionNotDue", 1, due):
        roots_union.finishAttribution(1, {"from": rando})
    assert epoch_state(roots_union) == before


def test_anyone_finishes_a_due_root(roots_union, book, alice, rando):
    book.post({alice: 1}, finish=False)
    wait_until(tuple(roots_union.attributionState())[2])

    roots_union.finishAttribution(1, {"from": rando})

    assert roots_union.activeRoot()[0] == 1


def test_finish_of_an_epoch_not_pending_is_refused(roots_union, book, alice, rando):
    with reverts_with("DataUnionNotPending", 1, 0):
        roots_union.finishAttribution(1, {"from": rando})
    book.post({alice: 1})
    before = epoch_state(roots_union)
    with reverts_with("DataUnionNotPending", 1, 1):  # finished already
        roots_union.finishAttribution(1, {"from": rando})
    with reverts_with("DataUnionNotPending", 2, 1):
        roots_union.finishAttribution(2, {"from": rando})
    assert epoch_state(roots_union) == before


def test_finish_while_paused_is_refused(roots_union, book, pauser, alice, rando):
    book.post({alice: 1}, finish=False)
    wait_until(tuple(roots_union.attributionState())[2])
    roots_union.pause({"from": pauser})
    before = epoch_state(roots_union)

    with reverts_with("DataUnionEnforcedPause"):
        roots_union.finishAttribution(1, {"from": rando})
    assert epoch_state(roots_union) == before


def test_a_vetoed_root_never_takes_effect_and_the_next_epoch_replaces_it(
    roots_union, book, stablecoin, attester, guardian, buyer, alice, bob, rando
):
    book.post({alice: 1})
    book.post({bob: 1}, finish=False)
    tx = book.veto(guardian)
    assert tx.events["AttributionVetoed"]["epoch"] == 2
    assert tuple(roots_union.pendingRoot()) == ("0x" + "00" * 32, 0)
    wait_until(tuple(roots_union.attributionState())[2])
    before = epoch_state(roots_union)

    with reverts_with("DataUnionEpochVetoed", 2):
        roots_union.finishAttribution(2, {"from": rando})
    assert epoch_state(roots_union) == before
    pay(stablecoin, roots_union, buyer, AMOUNT)  # the root in force still splits revenue
    assert book.claimable(alice) == NET

    with reverts_with("DataUnionStaleEpoch", 2, 2):
        roots_union.postRoot(2, ROOT, report_hash_for(2), 1, 1, {"from": attester})
    book.post({alice: 1, bob: 1})
    assert roots_union.activeRoot()[0] == 3


def test_veto_works_while_paused(roots_union, book, pauser, guardian, alice):
    book.post({alice: 1}, finish=False)
    roots_union.pause({"from": pauser})

    book.veto(guardian)

    assert tuple(roots_union.attributionState())[:2] == (1, VETOED)


def test_only_the_guardian_vetoes_a_pending_root(roots_union, book, attester, pauser, alice):
    book.post({alice: 1}, finish=False)
    role = roots_union.GUARDIAN_ROLE()
    before = epoch_state(roots_union)
    for outsider in (attester, pauser):
        with reverts_with("AccessControlUnauthorizedAccount", outsider, role):
            roots_union.vetoAttribution(1, {"from": outsider})
    assert epoch_state(roots_union) == before


def test_veto_of_a_root_not_pending_is_refused(roots_union, book, guardian, alice):
    book.post({alice: 1})
    before = epoch_state(roots_union)
    with reverts_with("DataUnionNotPending", 1, 1):
        roots_union.vetoAttribution(1, {"from": guardian})
    assert epoch_state(roots_union) == before
