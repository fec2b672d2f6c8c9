"""Construction: the public face, the roles, and the checks on every constructor argument."""

import pytest
from brownie import ZERO_ADDRESS, DataUnion

from fixtures.reverts import reverts_with
from fixtures.union import FEE_BPS, FEE_DELAY


def test_constructor_sets_token_fee_and_delay(union, stablecoin, fee_recipient):
    assert union.token() == stablecoin
    assert union.feeBps() == FEE_BPS
    assert union.feeRecipient() == fee_recipient
    assert union.FEE_DELAY() == FEE_DELAY
    assert union.MAX_FEE_BPS() == 2_000
    assert tuple(union.pendingFee()) == (0, ZERO_ADDRESS, 0)


def test_constructor_grants_each_role_to_its_holder_only(union, admin, attester, pauser, rando):
    expected = [
        (union.DEFAULT_ADMIN_ROLE(), admin),
        (union.ATTESTER_ROLE(), attester),
        (union.PAUSER_ROLE(), pauser),
    ]
    for role, holder in expected:
        assert union.hasRole(role, holder)
        assert not union.hasRole(role, rando)


def test_new_union_is_empty_and_unpaused(union, alice):
    assert union.totalShares() == 0
    assert union.currentEpoch() == 0
    assert union.totalDeposited() == 0
    assert union.totalClaimed() == 0
    assert union.claimable(alice) == 0
    assert not union.paused()


def test_eip712_domain_binds_name_version_chain_and_contract(union, chain):
    fields, name, version, chain_id, verifying_contract, _salt, _extensions = union.eip712Domain()
    assert (name, version, chain_id, verifying_contract) == ("DataUnion", "1", chain.id, union)
    assert fields == "0x0f"


@pytest.mark.parametrize("position", [1, 2, 3, 4])
def test_constructor_reverts_on_zero_role_address(stablecoin, admin, position):
    args = [stablecoin, admin, admin, admin, admin, FEE_BPS, FEE_DELAY]
    args[position] = ZERO_ADDRESS
    with reverts_with("DataUnionZeroAddress"):
        DataUnion.deploy(*args, {"from": admin})


def test_constructor_reverts_when_token_has_no_code(admin, rando):
    with reverts_with("DataUnionInvalidToken", rando):
        DataUnion.deploy(rando, admin, admin, admin, admin, FEE_BPS, FEE_DELAY, {"from": admin})


def test_constructor_reverts_when_fee_above_cap(stablecoin, admin):
    with reverts_with("DataUnionFeeTooHigh", 2_001, 2_000):
        DataUnion.deploy(stablecoin, admin, admin, admin, admin, 2_001, FEE_DELAY, {"from": admin})


@pytest.mark.parametrize("delay", [3_599, 30 * 86_400 + 1])
def test_constructor_reverts_when_fee_delay_out_of_bounds(stablecoin, admin, delay):
    with reverts_with("DataUnionInvalidFeeDelay", delay, 3_600, 30 * 86_400):
        DataUnion.deploy(stablecoin, admin, admin, admin, admin, FEE_BPS, delay, {"from": admin})
