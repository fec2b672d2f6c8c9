"""The attribution delay and the guardian: an epoch takes effect only after waiting out
ATTRIBUTION_DELAY since its last batch, a guardian may veto it until then, revenue is held the
whole time, and the attester and guardian roles change only through a delayed, cancellable
schedule."""

import pytest
from brownie import ZERO_ADDRESS, chain

from fixtures.reverts import reverts_with
from fixtures.union import (
    ATTRIBUTION_DELAY,
    FEE_BPS,
    finish_when_due,
    pay,
    post,
    report_hash_for,
    wait_until,
)

AMOUNT = 1_000_000
PENDING, VETOED, FINISHED = 1, 2, 0


def state(union):
    return tuple(union.attributionState())


def net(received):
    return received - received * FEE_BPS // 10_000


# -- pending ----------------------------------------------------------------------------------


def test_post_makes_the_epoch_pending_until_the_delay_has_passed(union, attester, alice):
    tx = post(union, attester, 1, {alice: 1}, finish=False)

    due_at = tx.timestamp + ATTRIBUTION_DELAY
    assert tx.events["AttributionPending"] == {
        "epoch": 1,
        "reportHash": "0x" + report_hash_for(1).hex(),
        "dueAt": due_at,
    }
    assert state(union) == (1, PENDING, due_at)
    assert union.attributionInProgress()


def test_finish_before_the_due_time_reverts_with_the_due_time(union, attester, rando, alice):
    tx = post(union, attester, 1, {alice: 1}, finish=False)
    chain.sleep(ATTRIBUTION_DELAY - 30)

    with reverts_with("DataUnionAttributionNotDue", 1, tx.timestamp + ATTRIBUTION_DELAY):
        union.finishAttribution(1, {"from": rando})
    assert state(union)[:2] == (1, PENDING)


def test_finish_right_after_posting_reverts(union, attester, alice):
    tx = post(union, attester, 1, {alice: 1}, finish=False)
    with reverts_with("DataUnionAttributionNotDue", 1, tx.timestamp + ATTRIBUTION_DELAY):
        union.finishAttribution(1, {"from": attester})


def test_anyone_can_finish_an_epoch_once_it_is_due(union, attester, rando, alice):
    post(union, attester, 1, {alice: 1}, finish=False)

    tx = finish_when_due(union, 1, rando)

    assert tx.events["AttributionFinished"]["epoch"] == 1
    assert state(union)[:2] == (1, FINISHED)
    assert not union.attributionInProgress()


def test_every_batch_restarts_the_delay(union, attester, alice, bob):
    first = post(union, attester, 1, {alice: 1}, finish=False)
    wait_until(first.timestamp + ATTRIBUTION_DELAY - 60)
    last = post(union, attester, 1, {bob: 1}, finish=False)
    wait_until(first.timestamp + ATTRIBUTION_DELAY)

    assert last.events["AttributionPending"]["dueAt"] == last.timestamp + ATTRIBUTION_DELAY
    with reverts_with("DataUnionAttributionNotDue", 1, last.timestamp + ATTRIBUTION_DELAY):
        union.finishAttribution(1, {"from": attester})
    finish_when_due(union, 1, attester)
    assert state(union) == (1, FINISHED, last.timestamp + ATTRIBUTION_DELAY)


def test_a_new_epoch_waits_for_the_pending_one(union, attester, alice):
    tx = post(union, attester, 1, {alice: 1}, finish=False)
    wait_until(tx.timestamp + ATTRIBUTION_DELAY)  # due, but not finished

    with reverts_with("DataUnionEpochPending", 1, tx.timestamp + ATTRIBUTION_DELAY):
        post(union, attester, 2, {alice: 2}, finish=False)
    assert (union.currentEpoch(), union.sharesOf(alice)) == (1, 1)


def test_revenue_is_held_while_an_epoch_is_pending_and_split_by_it_once_finished(
    any_union, any_token, token_kind, attester, buyer, alice, bob
):
    post(any_union, attester, 1, {alice: 1})
    post(any_union, attester, 2, {alice: 1, bob: 3}, finish=False)
    received = pay(any_token, any_union, buyer, AMOUNT).return_value

    assert any_union.undistributed() == net(received)
    assert any_union.claimable(alice) == any_union.claimable(bob) == 0
    chain.sleep(ATTRIBUTION_DELAY // 2)
    pay(any_token, any_union, buyer, AMOUNT)  # still inside the window: held too
    assert any_union.undistributed() == 2 * net(received)

    finish_when_due(any_union, 2, buyer)

    assert any_union.undistributed() == 0
    assert any_union.claimable(alice) == 2 * net(received) // 4
    assert any_union.claimable(bob) == 2 * net(received) * 3 // 4


# -- veto -------------------------------------------------------------------------------------


def test_guardian_vetoes_a_pending_epoch(union, attester, guardian, alice):
    tx = post(union, attester, 1, {alice: 1}, finish=False)

    veto = union.vetoAttribution(1, {"from": guardian})

    assert veto.events["AttributionVetoed"] == {
        "epoch": 1,
        "reportHash": "0x" + report_hash_for(1).hex(),
        "guardian": guardian,
    }
    assert state(union) == (1, VETOED, tx.timestamp + ATTRIBUTION_DELAY)
    assert union.attributionInProgress()


def test_a_vetoed_epoch_can_never_be_finished(union, attester, guardian, rando, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    union.vetoAttribution(1, {"from": guardian})
    wait_until(state(union)[2] + ATTRIBUTION_DELAY)

    for caller in (rando, attester, guardian):
        with reverts_with("DataUnionEpochVetoed", 1):
            union.finishAttribution(1, {"from": caller})
    assert state(union)[:2] == (1, VETOED)


def test_guardian_can_veto_a_due_epoch_nobody_finished_yet(union, attester, guardian, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    wait_until(state(union)[2] + 10)

    union.vetoAttribution(1, {"from": guardian})

    assert state(union)[:2] == (1, VETOED)


@pytest.mark.parametrize("caller", ["attester", "admin", "pauser", "rando"])
def test_only_a_guardian_vetoes(union, attester, alice, caller, request):
    account = request.getfixturevalue(caller)
    post(union, attester, 1, {alice: 1}, finish=False)
    with reverts_with("AccessControlUnauthorizedAccount", account, union.GUARDIAN_ROLE()):
        union.vetoAttribution(1, {"from": account})
    assert state(union)[:2] == (1, PENDING)


def test_veto_reverts_unless_the_epoch_is_the_pending_one(union, attester, guardian, alice):
    with reverts_with("DataUnionNotPending", 1, 0):
        union.vetoAttribution(1, {"from": guardian})
    post(union, attester, 1, {alice: 1})
    with reverts_with("DataUnionNotPending", 1, 1):  # finished: it is in force, too late
        union.vetoAttribution(1, {"from": guardian})
    post(union, attester, 2, {alice: 2}, finish=False)
    with reverts_with("DataUnionNotPending", 3, 2):
        union.vetoAttribution(3, {"from": guardian})
    union.vetoAttribution(2, {"from": guardian})
    with reverts_with("DataUnionNotPending", 2, 2):  # vetoed already
        union.vetoAttribution(2, {"from": guardian})


def test_after_a_veto_the_next_epoch_is_the_vetoed_one_plus_one(union, attester, guardian, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    union.vetoAttribution(1, {"from": guardian})

    with reverts_with("DataUnionStaleEpoch", 1, 1):
        post(union, attester, 1, {alice: 2}, finish=False)
    with reverts_with("DataUnionEpochSkipped", 3, 2):
        post(union, attester, 3, {alice: 2}, finish=False)
    post(union, attester, 2, {alice: 2}, report_hash=b"\x22" * 32)

    assert state(union)[:2] == (2, FINISHED)
    assert union.currentReportHash() == "0x" + (b"\x22" * 32).hex()


def test_a_veto_moves_no_earned_money_and_vetoed_shares_earn_nothing(
    any_union, any_token, attester, guardian, buyer, alice, bob, rando
):
    post(any_union, attester, 1, {alice: 1, bob: 1})
    first = net(pay(any_token, any_union, buyer, AMOUNT).return_value)
    earned = (any_union.claimable(alice), any_union.claimable(bob))
    assert earned == (first // 2, first // 2)

    # A bad table: rando takes almost everything.
    post(any_union, attester, 2, {rando: 98, alice: 1, bob: 1}, finish=False)
    during = net(pay(any_token, any_union, buyer, AMOUNT).return_value)
    any_union.vetoAttribution(2, {"from": guardian})
    after = net(pay(any_token, any_union, buyer, AMOUNT).return_value)

    assert (any_union.claimable(alice), any_union.claimable(bob)) == earned
    assert any_union.claimable(rando) == 0
    assert any_union.undistributed() == during + after
    with reverts_with("DataUnionNothingToClaim", rando):
        any_union.claim(rando, 1, {"from": rando})

    # The next epoch re-posts every address the vetoed one set, then takes effect.
    post(any_union, attester, 3, {rando: 0, alice: 1, bob: 1})

    held = during + after
    assert any_union.claimable(alice) == first // 2 + held // 2
    assert any_union.claimable(bob) == first // 2 + held // 2
    assert any_union.claimable(rando) == 0
    assert any_union.totalShares() == 2


# -- delayed role changes ---------------------------------------------------------------------


def role_id(union, name):
    return getattr(union, name)()


@pytest.mark.parametrize("name", ["ATTESTER_ROLE", "GUARDIAN_ROLE"])
def test_grant_and_revoke_of_attester_and_guardian_are_refused(union, admin, attester, rando, name):
    role = role_id(union, name)
    with reverts_with("DataUnionRoleChangeDelayed", role):
        union.grantRole(role, rando, {"from": admin})
    with reverts_with("DataUnionRoleChangeDelayed", role):
        union.revokeRole(role, attester, {"from": admin})
    assert not union.hasRole(role, rando)


@pytest.mark.parametrize("name", ["DEFAULT_ADMIN_ROLE", "PAUSER_ROLE"])
def test_admin_and_pauser_roles_still_change_at_once(union, admin, rando, name):
    role = role_id(union, name)
    union.grantRole(role, rando, {"from": admin})
    assert union.hasRole(role, rando)
    union.revokeRole(role, rando, {"from": admin})
    assert not union.hasRole(role, rando)


@pytest.mark.parametrize("name", ["ATTESTER_ROLE", "GUARDIAN_ROLE"])
@pytest.mark.parametrize("grant", [True, False])
def test_schedule_records_the_change_and_its_eta(union, admin, rando, name, grant):
    role = role_id(union, name)

    tx = union.scheduleRoleChange(role, rando, grant, {"from": admin})

    eta = tx.timestamp + ATTRIBUTION_DELAY
    assert tx.return_value == eta
    assert tx.events["RoleChangeScheduled"] == {
        "role": role,
        "account": rando,
        "grant": grant,
        "eta": eta,
    }
    assert union.roleChangeEta(role, rando, grant) == eta
    assert union.roleChangeEta(role, rando, not grant) == 0


def test_execute_before_the_eta_reverts(union, admin, rando):
    role = union.ATTESTER_ROLE()
    eta = union.scheduleRoleChange(role, rando, True, {"from": admin}).return_value
    chain.sleep(ATTRIBUTION_DELAY - 30)

    with reverts_with("DataUnionRoleChangeNotReady", eta):
        union.executeRoleChange(role, rando, True, {"from": rando})
    assert not union.hasRole(role, rando)


def test_anyone_executes_a_grant_once_its_eta_has_passed(union, admin, rando, alice):
    role = union.ATTESTER_ROLE()
    eta = union.scheduleRoleChange(role, rando, True, {"from": admin}).return_value
    wait_until(eta)

    tx = union.executeRoleChange(role, rando, True, {"from": alice})

    assert tx.events["RoleGranted"] == {"role": role, "account": rando, "sender": alice}
    assert union.hasRole(role, rando)
    assert union.roleChangeEta(role, rando, True) == 0
    with reverts_with("DataUnionRoleChangeNotScheduled", role, rando, True):
        union.executeRoleChange(role, rando, True, {"from": alice})


def test_executing_a_revocation_removes_the_role(union, admin, guardian):
    role = union.GUARDIAN_ROLE()
    eta = union.scheduleRoleChange(role, guardian, False, {"from": admin}).return_value
    wait_until(eta)

    tx = union.executeRoleChange(role, guardian, False, {"from": admin})

    assert tx.events["RoleRevoked"] == {"role": role, "account": guardian, "sender": admin}
    assert not union.hasRole(role, guardian)


def test_execute_reverts_for_a_change_never_scheduled(union, rando):
    role = union.GUARDIAN_ROLE()
    with reverts_with("DataUnionRoleChangeNotScheduled", role, rando, True):
        union.executeRoleChange(role, rando, True, {"from": rando})


@pytest.mark.parametrize("caller", ["attester", "pauser", "guardian", "rando"])
def test_only_the_role_admin_schedules(union, rando, caller, request):
    account = request.getfixturevalue(caller)
    admin_role = union.DEFAULT_ADMIN_ROLE()
    with reverts_with("AccessControlUnauthorizedAccount", account, admin_role):
        union.scheduleRoleChange(union.ATTESTER_ROLE(), rando, True, {"from": account})
    assert union.roleChangeEta(union.ATTESTER_ROLE(), rando, True) == 0


@pytest.mark.parametrize("name", ["DEFAULT_ADMIN_ROLE", "PAUSER_ROLE"])
def test_schedule_refuses_roles_that_change_at_once(union, admin, rando, name):
    role = role_id(union, name)
    with reverts_with("DataUnionRoleNotDelayed", role):
        union.scheduleRoleChange(role, rando, True, {"from": admin})


def test_schedule_refuses_the_zero_address(union, admin):
    with reverts_with("DataUnionZeroAddress"):
        union.scheduleRoleChange(union.ATTESTER_ROLE(), ZERO_ADDRESS, True, {"from": admin})


def test_schedule_refuses_a_change_already_scheduled(union, admin, rando):
    role = union.ATTESTER_ROLE()
    eta = union.scheduleRoleChange(role, rando, True, {"from": admin}).return_value
    chain.sleep(600)
    with reverts_with("DataUnionRoleChangeAlreadyScheduled", role, rando, True, eta):
        union.scheduleRoleChange(role, rando, True, {"from": admin})
    assert union.roleChangeEta(role, rando, True) == eta


@pytest.mark.parametrize("canceller", ["guardian", "admin"])
def test_guardian_or_admin_cancels_a_scheduled_change(union, admin, rando, canceller, request):
    account = request.getfixturevalue(canceller)
    role = union.ATTESTER_ROLE()
    eta = union.scheduleRoleChange(role, rando, True, {"from": admin}).return_value

    tx = union.cancelRoleChange(role, rando, True, {"from": account})

    assert tx.events["RoleChangeCancelled"] == {
        "role": role,
        "account": rando,
        "grant": True,
        "by": account,
    }
    assert union.roleChangeEta(role, rando, True) == 0
    wait_until(eta)
    with reverts_with("DataUnionRoleChangeNotScheduled", role, rando, True):
        union.executeRoleChange(role, rando, True, {"from": admin})
    assert not union.hasRole(role, rando)


@pytest.mark.parametrize("caller", ["attester", "pauser", "rando"])
def test_only_the_role_admin_or_a_guardian_cancels(union, admin, rando, caller, request):
    account = request.getfixturevalue(caller)
    role = union.GUARDIAN_ROLE()
    eta = union.scheduleRoleChange(role, rando, True, {"from": admin}).return_value
    with reverts_with("DataUnionUnauthorizedCancel", account, union.DEFAULT_ADMIN_ROLE()):
        union.cancelRoleChange(role, rando, True, {"from": account})
    assert union.roleChangeEta(role, rando, True) == eta


def test_cancel_reverts_for_a_change_never_scheduled(union, guardian, rando):
    role = union.ATTESTER_ROLE()
    with reverts_with("DataUnionRoleChangeNotScheduled", role, rando, False):
        union.cancelRoleChange(role, rando, False, {"from": guardian})


def test_a_cancelled_change_can_be_scheduled_again_with_a_fresh_delay(
    union, admin, guardian, rando
):
    role = union.ATTESTER_ROLE()
    union.scheduleRoleChange(role, rando, True, {"from": admin})
    union.cancelRoleChange(role, rando, True, {"from": guardian})
    chain.sleep(ATTRIBUTION_DELAY)

    tx = union.scheduleRoleChange(role, rando, True, {"from": admin})

    assert union.roleChangeEta(role, rando, True) == tx.timestamp + ATTRIBUTION_DELAY
    with reverts_with("DataUnionRoleChangeNotReady", tx.timestamp + ATTRIBUTION_DELAY):
        union.executeRoleChange(role, rando, True, {"from": admin})


def test_renouncing_a_delayed_role_stays_immediate(union, attester, guardian):
    union.renounceRole(union.ATTESTER_ROLE(), attester, {"from": attester})
    union.renounceRole(union.GUARDIAN_ROLE(), guardian, {"from": guardian})

    assert not union.hasRole(union.ATTESTER_ROLE(), attester)
    assert not union.hasRole(union.GUARDIAN_ROLE(), guardian)
