"""Stolen-key drills: a thief holding one key, the attester's or the admin's, tries every path to
a share table of its own; an honest guardian stops each within the window the contract gives it,
and the members end up paid exactly what the honest table says."""

from fractions import Fraction

import pytest
from brownie import chain

from fixtures.accounts import local_account
from fixtures.reverts import reverts_with
from fixtures.union import (
    ATTRIBUTION_DELAY,
    FEE_BPS,
    MAX_UINT,
    finish_when_due,
    pay,
    post,
    wait_until,
)

AMOUNT = 1_000_000
HONEST_1 = {"alice": 3, "bob": 5, "carol": 2}
HONEST_2 = {"alice": 3, "bob": 6, "carol": 4}  # the honest relayer's next epoch


@pytest.fixture
def thief():
    return local_account("thief")


@pytest.fixture
def new_relayer():
    return local_account("new relayer")


class Ledger:
    """Each deposit's member part, split exactly (as fractions) by the table that must split it."""

    def __init__(self):
        self.ideal = {}
        self.held = Fraction(0)

    def paid(self, tx):
        received = tx.return_value
        return Fraction(received - received * FEE_BPS // 10_000)

    def split(self, amount, table):
        total = sum(table.values())
        for member, shares in table.items():
            self.ideal[member] = self.ideal.get(member, 0) + amount * shares / total

    def hold(self, amount):
        self.held += amount

    def release(self, table):
        self.split(self.held, table)
        self.held = Fraction(0)


def by_address(names, accounts):
    return {accounts[name]: shares for name, shares in names.items()}


def test_stolen_attester_key_drill(
    any_union, any_token, attester, guardian, admin, buyer, alice, bob, carol, thief, new_relayer
):
    union, token = any_union, any_token
    people = {"alice": alice, "bob": bob, "carol": carol}
    honest_1, honest_2 = by_address(HONEST_1, people), by_address(HONEST_2, people)
    ledger = Ledger()
    post(union, attester, 1, honest_1)
    ledger.split(ledger.paid(pay(token, union, buyer, AMOUNT)), honest_1)
    attester.transfer(thief, "1 ether")

    # The thief posts epoch 2 with the stolen key: 99% for itself, alice cut down.
    theft = {thief: 990, alice: 1, bob: 5, carol: 4}
    tx = union.postAttribution(
        2, b"\x66" * 32, list(theft), list(theft.values()), {"from": attester}
    )
    due_at = tx.timestamp + ATTRIBUTION_DELAY
    with reverts_with("DataUnionAttributionNotDue", 2, due_at):
        union.finishAttribution(2, {"from": attester})

    # Buyers keep paying during the window: held, not split.
    before = {m: union.claimable(m) for m in [*honest_1, thief]}
    for _ in range(2):
        ledger.hold(ledger.paid(pay(token, union, buyer, AMOUNT)))
        chain.sleep(ATTRIBUTION_DELAY // 4)
    assert {m: union.claimable(m) for m in before} == before
    assert union.undistributed() == ledger.held

    # The guardian vetoes before it is due; the admin rotates the attester through the delay.
    vetoed = {e["member"] for e in tx.events["SharesSet"]}
    union.vetoAttribution(2, {"from": guardian})
    role = union.ATTESTER_ROLE()
    union.scheduleRoleChange(role, new_relayer, True, {"from": admin})
    eta = union.scheduleRoleChange(role, attester, False, {"from": admin}).return_value

    # Meanwhile the thief still holds the key and tries again: vetoed again.
    again = union.postAttribution(3, b"\x67" * 32, [thief], [10_000], {"from": attester})
    vetoed |= {e["member"] for e in again.events["SharesSet"]}
    union.vetoAttribution(3, {"from": guardian})
    ledger.hold(ledger.paid(pay(token, union, buyer, AMOUNT)))
    with reverts_with("DataUnionEpochVetoed", 3):
        finish_when_due(union, 3, attester)

    wait_until(eta)
    union.executeRoleChange(role, new_relayer, True, {"from": admin})
    union.executeRoleChange(role, attester, False, {"from": admin})
    with reverts_with("AccessControlUnauthorizedAccount", attester, role):
        union.postAttribution(4, b"\x68" * 32, [thief], [1], {"from": attester})

    # The honest relayer's next epoch re-posts every address the vetoed epochs set.
    admin.transfer(new_relayer, "1 ether")
    repost = {**dict.fromkeys(vetoed, 0), **honest_2}
    assert repost[thief] == 0
    honest = post(union, new_relayer, 4, repost, report_hash=b"\x04" * 32, finish=False)
    assert {e["member"] for e in honest.events["SharesSet"]} >= vetoed
    ledger.hold(ledger.paid(pay(token, union, buyer, AMOUNT)))  # held until it takes effect
    with reverts_with("DataUnionAttributionNotDue", 4, honest.timestamp + ATTRIBUTION_DELAY):
        union.finishAttribution(4, {"from": thief})
    finish_when_due(union, 4, thief)  # anyone may finish it: even the thief
    ledger.release(honest_2)
    ledger.split(ledger.paid(pay(token, union, buyer, AMOUNT)), honest_2)

    # Every member is paid the honest pro-rata split of every deposit; the thief gets nothing.
    for member in honest_2:
        earned = union.claimable(member)
        assert ledger.ideal[member] - 1 < earned <= ledger.ideal[member] + 1, member
        union.claim(member, MAX_UINT, {"from": member})
    assert union.claimable(thief) == 0
    with reverts_with("DataUnionNothingToClaim", thief):
        union.claim(thief, MAX_UINT, {"from": thief})
    assert union.sharesOf(thief) == 0
    assert union.totalShares() == sum(HONEST_2.values())
    assert token.balanceOf(union) >= union.undistributed() + union.feesOwed(union.feeRecipient())


# -- the stolen admin key ---------------------------------------------------------------------


@pytest.fixture
def admin_thief(union, admin, thief):
    """The thief holds the admin key, and has made itself an admin too, then locked the honest
    operator out: the worst case a stolen admin key leads to."""
    admin.transfer(thief, "1 ether")
    union.grantRole(union.DEFAULT_ADMIN_ROLE(), thief, {"from": admin})
    union.revokeRole(union.DEFAULT_ADMIN_ROLE(), admin, {"from": thief})
    return thief


@pytest.mark.parametrize("holder", ["stolen admin key", "admin role moved to the thief"])
def test_stolen_admin_key_cannot_change_attester_or_guardian_at_once(
    union, admin, attester, guardian, thief, holder, request
):
    key = admin if holder == "stolen admin key" else request.getfixturevalue("admin_thief")
    attester_role, guardian_role = union.ATTESTER_ROLE(), union.GUARDIAN_ROLE()

    with reverts_with("DataUnionRoleChangeDelayed", attester_role):
        union.grantRole(attester_role, thief, {"from": key})
    with reverts_with("DataUnionRoleChangeDelayed", attester_role):
        union.revokeRole(attester_role, attester, {"from": key})
    with reverts_with("DataUnionRoleChangeDelayed", guardian_role):
        union.revokeRole(guardian_role, guardian, {"from": key})
    with reverts_with("DataUnionRoleChangeDelayed", guardian_role):
        union.grantRole(guardian_role, thief, {"from": key})

    assert not union.hasRole(attester_role, thief)
    assert union.hasRole(guardian_role, guardian)


@pytest.mark.parametrize("holder", ["stolen admin key", "admin role moved to the thief"])
def test_guardian_cancels_every_role_change_a_stolen_admin_key_schedules(
    union, admin, guardian, thief, holder, request
):
    key = admin if holder == "stolen admin key" else request.getfixturevalue("admin_thief")
    attester_role, guardian_role = union.ATTESTER_ROLE(), union.GUARDIAN_ROLE()
    changes = [
        (attester_role, thief, True),  # slip in an attester
        (guardian_role, guardian, False),  # remove the honest guardian
        (guardian_role, thief, True),  # a guardian of its own, to cancel the honest one's cancels
    ]
    etas = [union.scheduleRoleChange(*c, {"from": key}).return_value for c in changes]
    with reverts_with("DataUnionRoleChangeNotReady", etas[0]):
        union.executeRoleChange(*changes[0], {"from": key})

    chain.sleep(ATTRIBUTION_DELAY - 60)  # the guardian acts anywhere inside the window
    for change in changes:
        union.cancelRoleChange(*change, {"from": guardian})
    wait_until(max(etas))

    for change in changes:
        with reverts_with("DataUnionRoleChangeNotScheduled", *change):
            union.executeRoleChange(*change, {"from": key})
    assert not union.hasRole(attester_role, thief)
    assert not union.hasRole(guardian_role, thief)
    assert union.hasRole(guardian_role, guardian)


def test_an_attester_a_stolen_admin_key_slips_in_still_faces_the_veto(
    union, stablecoin, admin, attester, guardian, buyer, alice, thief
):
    """Even with a guardian asleep during the role change's window, the thief's table waits out
    a second window, the epoch's own, in which the guardian can still veto it."""
    post(union, attester, 1, {alice: 1})
    role = union.ATTESTER_ROLE()
    admin.transfer(thief, "1 ether")
    eta = union.scheduleRoleChange(role, thief, True, {"from": admin}).return_value
    wait_until(eta)
    union.executeRoleChange(role, thief, True, {"from": thief})

    tx = union.postAttribution(2, b"\x66" * 32, [thief], [99], {"from": thief})
    with reverts_with("DataUnionAttributionNotDue", 2, tx.timestamp + ATTRIBUTION_DELAY):
        union.finishAttribution(2, {"from": thief})
    pay(stablecoin, union, buyer, AMOUNT)
    union.vetoAttribution(2, {"from": guardian})
    with reverts_with("DataUnionEpochVetoed", 2):
        finish_when_due(union, 2, thief)

    assert union.claimable(thief) == 0
    assert union.undistributed() > 0  # held for the next honest epoch


def test_a_stolen_admin_key_that_pauses_the_union_does_not_stop_the_guardian(
    union, admin, attester, guardian, alice, thief
):
    union.grantRole(union.PAUSER_ROLE(), thief, {"from": admin})  # the pauser changes at once
    post(union, attester, 1, {alice: 1}, finish=False)
    change = (union.GUARDIAN_ROLE(), guardian, False)
    union.scheduleRoleChange(*change, {"from": admin})
    union.pause({"from": thief})

    union.vetoAttribution(1, {"from": guardian})
    union.cancelRoleChange(*change, {"from": guardian})

    assert tuple(union.attributionState())[:2] == (1, 2)
    assert union.roleChangeEta(*change) == 0
