"""pause(): stops new money and new attributions, never members' access to what they earned."""

import brownie

from fixtures.reverts import reverts_with
from fixtures.union import LICENSE, pay, post, wait_until

AMOUNT = 1_000_000


def test_pause_stops_deposit_sync_and_attribution(
    union, stablecoin, attester, pauser, buyer, alice
):
    stablecoin.mint(buyer, AMOUNT, {"from": buyer})
    stablecoin.approve(union, AMOUNT, {"from": buyer})
    tx = union.pause({"from": pauser})
    assert tx.events["Paused"] == {"account": pauser}

    with reverts_with("DataUnionEnforcedPause"):
        union.deposit(AMOUNT, LICENSE, {"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        union.depositWithPermit(AMOUNT, LICENSE, 0, 0, b"\x00" * 32, b"\x00" * 32, {"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        union.sync({"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        post(union, attester, 1, {alice: 1})
    assert union.totalDeposited() == 0


def test_pause_stops_finishing_an_attribution(union, attester, pauser, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    wait_until(union.attributionState()[2])
    union.pause({"from": pauser})
    with reverts_with("DataUnionEnforcedPause"):
        union.finishAttribution(1, {"from": attester})
    assert union.attributionInProgress()


def test_pause_does_not_stop_a_veto(union, attester, pauser, guardian, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    union.pause({"from": pauser})

    union.vetoAttribution(1, {"from": guardian})

    assert tuple(union.attributionState())[:2] == (1, 2)


def test_pauser_cannot_veto_and_guardian_cannot_pause(union, attester, pauser, guardian, alice):
    post(union, attester, 1, {alice: 1}, finish=False)
    with reverts_with("AccessControlUnauthorizedAccount", pauser, union.GUARDIAN_ROLE()):
        union.vetoAttribution(1, {"from": pauser})
    with reverts_with("AccessControlUnauthorizedAccount", guardian, union.PAUSER_ROLE()):
        union.pause({"from": guardian})
    assert tuple(union.attributionState())[:2] == (1, 1)
    assert not union.paused()


def test_unpause_resumes_deposits(union, stablecoin, pauser, buyer):
    union.pause({"from": pauser})
    tx = union.unpause({"from": pauser})

    assert tx.events["Unpaused"] == {"account": pauser}
    pay(stablecoin, union, buyer, AMOUNT)
    assert union.totalDeposited() == AMOUNT


def test_pause_twice_reverts(union, pauser):
    union.pause({"from": pauser})
    with reverts_with("DataUnionEnforcedPause"):
        union.pause({"from": pauser})


def test_unpause_when_not_paused_reverts(union, pauser):
    with reverts_with("DataUnionExpectedPause"):
        union.unpause({"from": pauser})


def test_only_pauser_pauses_and_unpauses(union, admin, attester, pauser, rando):
    for caller in (admin, attester, rando):
        with brownie.reverts():
            union.pause({"from": caller})
    union.pause({"from": pauser})
    for caller in (admin, attester, rando):
        with brownie.reverts():
            union.unpause({"from": caller})
    assert union.paused()
