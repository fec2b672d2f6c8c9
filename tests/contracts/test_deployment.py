"""Construction: the public face, the roles, and the checks on every constructor argument."""

import pytest
from brownie import ZERO_ADDRESS, DataUnion, interface
from eth_utils import keccak

from fixtures.reverts import reverts_with
from fixtures.union import ATTRIBUTION_DELAY, FEE_BPS, FEE_DELAY

HOUR, DAY = 3_600, 86_400


def constructor_args(token, holder, **overrides):
    """Every constructor argument by name, each role held by `holder` unless overridden."""
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
    return list(args.values())


def test_constructor_sets_token_fee_and_delay(union, stablecoin, fee_recipient):
    assert union.token() == stablecoin
    assert union.feeBps() == FEE_BPS
    assert union.feeRecipient() == fee_recipient
    assert union.FEE_DELAY() == FEE_DELAY
    assert union.MAX_FEE_BPS() == 2_000
    assert tuple(union.pendingFee()) == (0, ZERO_ADDRESS, 0)


def test_constructor_sets_the_attribution_delay_and_its_bounds(union):
    assert union.ATTRIBUTION_DELAY() == ATTRIBUTION_DELAY
    assert union.MIN_ATTRIBUTION_DELAY() == HOUR
    assert union.MAX_ATTRIBUTION_DELAY() == 30 * DAY
    assert tuple(union.attributionState()) == (0, 0, 0)
    assert not union.attributionInProgress()


def test_interface_exposes_the_claim_typehash(union):
    expected = keccak(
        text="Claim(address member,address to,uint256 amount,uint256 nonce,uint256 deadline)"
    )
    assert union.CLAIM_TYPEHASH() == "0x" + expected.hex()
    abi_names = {item.get("name") for item in interface.IDataUnion.abi}
    assert {"CLAIM_TYPEHASH", "eip712Domain", "ATTRIBUTION_DELAY", "attributionState"} <= abi_names


def test_constructor_grants_each_role_to_its_holder_only(
    union, admin, attester, pauser, guardian, rando
):
    expected = [
        (union.DEFAULT_ADMIN_ROLE(), admin),
        (union.ATTESTER_ROLE(), attester),
        (union.PAUSER_ROLE(), pauser),
        (union.GUARDIAN_ROLE(), guardian),
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


@pytest.mark.parametrize("role", ["admin", "attester", "pauser", "guardian", "fee_recipient"])
def test_constructor_reverts_on_zero_role_address(stablecoin, admin, role):
    args = constructor_args(stablecoin, admin, **{role: ZERO_ADDRESS})
    with reverts_with("DataUnionZeroAddress"):
        DataUnion.deploy(*args, {"from": admin})


def test_constructor_reverts_when_token_has_no_code(admin, rando):
    with reverts_with("DataUnionInvalidToken", rando):
        DataUnion.deploy(*constructor_args(rando, admin), {"from": admin})


def test_constructor_reverts_when_fee_above_cap(stablecoin, admin):
    with reverts_with("DataUnionFeeTooHigh", 2_001, 2_000):
        DataUnion.deploy(*constructor_args(stablecoin, admin, fee_bps=2_001), {"from": admin})


@pytest.mark.parametrize("delay", [HOUR - 1, 30 * DAY + 1])
def test_constructor_reverts_when_fee_delay_out_of_bounds(stablecoin, admin, delay):
    with reverts_with("DataUnionInvalidFeeDelay", delay, HOUR, 30 * DAY):
        DataUnion.deploy(*constructor_args(stablecoin, admin, fee_delay=delay), {"from": admin})


@pytest.mark.parametrize("delay", [0, HOUR - 1, 30 * DAY + 1])
def test_constructor_reverts_when_attribution_delay_out_of_bounds(stablecoin, admin, delay):
    args = constructor_args(stablecoin, admin, attribution_delay=delay)
    with reverts_with("DataUnionInvalidAttributionDelay", delay, HOUR, 30 * DAY):
        DataUnion.deploy(*args, {"from": admin})


@pytest.mark.parametrize("delay", [HOUR, 30 * DAY])
def test_constructor_accepts_the_attribution_delay_bounds(stablecoin, admin, delay):
    union = DataUnion.deploy(
        *constructor_args(stablecoin, admin, attribution_delay=delay), {"from": admin}
    )
    assert union.ATTRIBUTION_DELAY() == delay
