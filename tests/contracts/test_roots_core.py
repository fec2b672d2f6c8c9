"""What a root-mode union shares with the push union (UnionCore): construction checks, the fee
and its timelock, delayed attester changes, the pause, fee withdrawal and nonces. The code is the
same as DataUnion's, tested in depth in test_fee.py, test_pause.py, test_deployment.py and
test_timelock.py; one test each here shows DataUnionRoots is wired to it."""

import pytest
from brownie import ZERO_ADDRESS, DataUnionRoots, chain

from fixtures.reverts import reverts_with
from fixtures.union import (
    ATTRIBUTION_DELAY,
    FEE_BPS,
    FEE_DELAY,
    LICENSE,
    grant_delayed_role,
    pay,
    report_hash_for,
)

AMOUNT = 1_000_000
ROOT = b"\x42" * 32


def deploy(token, holder, **overrides):
    args = {
        "token": token,
        "admin": holder,
        "attester": holder,
        "pauser": holder,
        "guardian": holder,
        "fee_recipient": holder,
        "fee_bps": FEE_BPS,
        "fee_delay": FEE_DELAY,
        "attribution_delay": ATTRIBUTION_DELAY,
    }
    args.update(overrides)
    return DataUnionRoots.deploy(*args.values(), {"from": holder})


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"admin": ZERO_ADDRESS}, ("DataUnionZeroAddress",)),
        ({"guardian": ZERO_ADDRESS}, ("DataUnionZeroAddress",)),
        ({"fee_recipient": ZERO_ADDRESS}, ("DataUnionZeroAddress",)),
        ({"fee_bps": 2_001}, ("DataUnionFeeTooHigh", 2_001, 2_000)),
        ({"fee_delay": 60}, ("DataUnionInvalidFeeDelay", 60, 3_600, 30 * 86_400)),
        (
            {"attribution_delay": 31 * 86_400},
            ("DataUnionInvalidAttributionDelay", 31 * 86_400, 3_600, 30 * 86_400),
        ),
    ],
    ids=["admin", "guardian", "fee recipient", "fee", "fee delay", "attribution delay"],
)
def test_constructor_refuses_bad_arguments(stablecoin, admin, overrides, error):
    with reverts_with(*error):
        deploy(stablecoin, admin, **overrides)


def test_constructor_refuses_a_token_without_code(admin, rando):
    with reverts_with("DataUnionInvalidToken", rando):
        deploy(rando, admin)


def test_constructor_sets_roles_fee_and_the_signing_domain(
    roots_union, stablecoin, admin, attester, pauser, guardian, fee_recipient
):
    assert roots_union.token() == stablecoin
    assert (roots_union.feeBps(), roots_union.feeRecipient()) == (FEE_BPS, fee_recipient)
    assert roots_union.ATTRIBUTION_DELAY() == ATTRIBUTION_DELAY
    for role, holder in (
        (roots_union.DEFAULT_ADMIN_ROLE(), admin),
        (roots_union.ATTESTER_ROLE(), attester),
        (roots_union.PAUSER_ROLE(), pauser),
        (roots_union.GUARDIAN_ROLE(), guardian),
    ):
        assert roots_union.hasRole(role, holder)
    domain = roots_union.eip712Domain()
    assert (domain[1], domain[2], domain[3], domain[4]) == (
        "DataUnion",  # as a push union: signed claims read the same on either kind
        "1",
        chain.id,
        roots_union.address,
    )


def test_fee_changes_only_after_its_delay_and_never_above_the_cap(roots_union, admin, rando):
    with reverts_with("DataUnionFeeTooHigh", 2_001, 2_000):
        roots_union.proposeFee(2_001, rando, {"from": admin})
    tx = roots_union.proposeFee(1_000, rando, {"from": admin})
    eta = tx.timestamp + FEE_DELAY
    with reverts_with("DataUnionFeeChangeNotReady", eta):
        roots_union.applyFee({"from": rando})
    assert roots_union.feeBps() == FEE_BPS

    chain.sleep(FEE_DELAY + 1)
    roots_union.applyFee({"from": rando})

    assert (roots_union.feeBps(), roots_union.feeRecipient()) == (1_000, rando)


def test_fees_accrue_to_the_recipient_and_are_withdrawn_once(
    roots_union, book, stablecoin, buyer, alice, fee_recipient
):
    book.post({alice: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    fee = AMOUNT * FEE_BPS // 10_000

    roots_union.withdrawFees(fee_recipient, {"from": fee_recipient})

    assert stablecoin.balanceOf(fee_recipient) == fee
    assert roots_union.totalFeesWithdrawn() == fee
    with reverts_with("DataUnionNothingToWithdraw", fee_recipient):
        roots_union.withdrawFees(fee_recipient, {"from": fee_recipient})


def test_a_new_attester_posts_only_after_the_delayed_role_change(roots_union, admin, rando):
    role = roots_union.ATTESTER_ROLE()
    with reverts_with("DataUnionRoleChangeDelayed", role):
        roots_union.grantRole(role, rando, {"from": admin})

    grant_delayed_role(roots_union, role, rando, admin)

    roots_union.postRoot(1, ROOT, report_hash_for(1), 1, 1, {"from": rando})
    assert roots_union.currentEpoch() == 1


def test_pause_stops_deposits_and_sync_until_unpaused(
    roots_union, stablecoin, pauser, buyer, rando
):
    with reverts_with("AccessControlUnauthorizedAccount", rando, roots_union.PAUSER_ROLE()):
        roots_union.pause({"from": rando})
    roots_union.pause({"from": pauser})
    stablecoin.mint(buyer, AMOUNT, {"from": buyer})
    stablecoin.approve(roots_union, AMOUNT, {"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        roots_union.deposit(AMOUNT, LICENSE, {"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        roots_union.sync({"from": buyer})
    with reverts_with("DataUnionEnforcedPause"):
        roots_union.pause({"from": pauser})
    assert roots_union.totalDeposited() == 0

    roots_union.unpause({"from": pauser})
    with reverts_with("DataUnionExpectedPause"):
        roots_union.unpause({"from": pauser})
    roots_union.deposit(AMOUNT, LICENSE, {"from": buyer})
    assert roots_union.totalDeposited() == AMOUNT


def test_deposit_of_nothing_is_refused(roots_union, buyer):
    with reverts_with("DataUnionZeroAmount"):
        roots_union.deposit(0, LICENSE, {"from": buyer})


def test_invalidate_nonce_burns_the_next_signed_claim(roots_union, alice):
    tx = roots_union.invalidateNonce({"from": alice})
    assert tx.return_value == 0
    assert roots_union.nonces(alice) == 1
