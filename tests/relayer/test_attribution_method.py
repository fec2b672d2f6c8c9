"""Attribution is pure arithmetic on integers: deterministic, verifiable from the report alone,
and faithful to the explainer's ordering of data types."""

import json
import os
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.attribution import (
    DEFAULT_PARAMETERS,
    DEFAULT_RATES,
    MAX_SHARES,
    PPM,
    ROUNDING,
    SHARE_CAP,
    ContributionInput,
    ReportMismatch,
    build_report,
    canonical,
    checksummed,
    estimate_shares,
    report_hash,
    verify_report,
)
from relayer.errors import InvalidInput

UNION = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
MEMBERS = [f"0x{i:040x}" for i in range(1, 9)]
EXAMPLES = int(os.environ.get("ATTRIBUTION_EXAMPLES", "150"))

contribution = st.builds(
    ContributionInput,
    member=st.sampled_from(MEMBERS),
    data_type=st.sampled_from(sorted(DEFAULT_RATES)),
    records=st.integers(min_value=0, max_value=10**7),
    quality_ppm=st.integers(min_value=0, max_value=PPM),
    uniqueness_ppm=st.integers(min_value=0, max_value=PPM),
)
#: Contributions up to the API's largest record count (10^12), which overflow the cap often.
large_contribution = st.builds(
    ContributionInput,
    member=st.sampled_from(MEMBERS),
    data_type=st.sampled_from(sorted(DEFAULT_RATES)),
    records=st.one_of(st.integers(0, 10**7), st.integers(10**10, 10**12)),
    quality_ppm=st.integers(min_value=0, max_value=PPM),
    uniqueness_ppm=st.integers(min_value=0, max_value=PPM),
)


def report(contributions, epoch=1, zeroed=()):
    return build_report(
        chain_id=31337,
        union=UNION,
        epoch=epoch,
        contributions=contributions,
        params=DEFAULT_PARAMETERS,
        zeroed=zeroed,
    )


def shares_of(built):
    return {m["address"].lower(): int(m["shares"]) for m in built["members"]}


def test_value_is_records_times_rate_times_quality_times_uniqueness_bonus():
    # 100 health records (rate 10) at quality 0.9 and uniqueness 0.5 with bonus 0.5:
    # 100 x 10 x 0.9 x 1.25 = 1125 units of value = 1,125,000,000 micro-unit shares.
    built = report([ContributionInput(MEMBERS[0], "health", 100, 900_000, 500_000)])
    (member,) = built["members"]
    assert member["value"] == "1125.000000"
    assert member["shares"] == "1125000000"
    assert built["totals"] == {"value": "1125.000000", "shares": "1125000000"}


def test_rates_follow_the_explainers_ordering():
    rate = {t: estimate_shares(t, 1000, PPM, 0, DEFAULT_PARAMETERS) for t in DEFAULT_RATES}
    assert rate["health"] == rate["financial"]
    assert rate["financial"] > rate["location"] > rate["purchases"] > rate["social"]
    assert rate["social"] > rate["browsing"] > rate["device_metadata"] > 0


def test_unknown_data_type_is_refused_with_the_known_ones():
    with pytest.raises(InvalidInput, match=r"unknown data type 'dna'.*health"):
        report([ContributionInput(MEMBERS[0], "dna", 1, PPM, 0)])


def test_member_with_no_contributions_left_is_reported_with_zero_shares():
    built = report([ContributionInput(MEMBERS[0], "social", 10, PPM, 0)], zeroed=[MEMBERS[1]])
    assert shares_of(built) == {MEMBERS[0]: 20_000_000, MEMBERS[1]: 0}
    assert built["inputs"]["members"] == 1


def test_one_member_over_the_contracts_cap_is_scaled_to_the_cap_and_still_verifies():
    built = report(
        [
            ContributionInput(MEMBERS[0], "health", MAX_SHARES, PPM, PPM),
            ContributionInput(MEMBERS[1], "browsing", 10**6, PPM, 0),
        ]
    )
    raw_values = [15 * MAX_SHARES * 10**6, 10**12]  # micro-units: rate x 1.5 x records
    assert built["scale"] == {"numerator": str(SHARE_CAP), "denominator": str(sum(raw_values))}
    shares = shares_of(built)
    assert shares == {
        MEMBERS[0]: raw_values[0] * SHARE_CAP // sum(raw_values),
        MEMBERS[1]: raw_values[1] * SHARE_CAP // sum(raw_values),
    }
    assert shares[MEMBERS[1]] > 0
    assert sum(shares.values()) <= SHARE_CAP
    assert verify_report(canonical(built)).shares[checksummed(MEMBERS[1])] == shares[MEMBERS[1]]


def test_members_each_under_the_cap_but_together_over_it_are_scaled_alike():
    half_cap_records = (SHARE_CAP // 2 + 1) // (10 * 10**6) + 1  # health: 10 units a record
    built = report([ContributionInput(m, "health", half_cap_records, PPM, 0) for m in MEMBERS[:3]])
    shares = shares_of(built)
    assert len(set(shares.values())) == 1  # equal inputs, equal shares after scaling
    assert sum(shares.values()) <= SHARE_CAP < 3 * half_cap_records * 10 * 10**6
    assert int(built["totals"]["shares"]) == sum(shares.values())


def test_an_epoch_within_the_cap_is_not_scaled():
    built = report([ContributionInput(MEMBERS[0], "health", 100, PPM, 0)])
    assert built["scale"] == {"numerator": "1", "denominator": "1"}
    assert shares_of(built) == {MEMBERS[0]: 1_000_000_000}


def test_tampered_report_does_not_verify():
    raw = canonical(report([ContributionInput(MEMBERS[0], "health", 100, PPM, 0)]))
    tampered = json.loads(raw)
    tampered["members"][0]["shares"] = "1000000001"
    with pytest.raises(ReportMismatch, match="weights give 1000000000"):
        verify_report(canonical(tampered))
    with pytest.raises(ReportMismatch, match="canonical"):
        verify_report(json.dumps(json.loads(raw), indent=1).encode())


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(contribution, max_size=40), st.integers(min_value=1, max_value=2**32))
def test_report_is_deterministic_and_verifies_from_itself(contributions, epoch):
    first = canonical(report(contributions, epoch))
    again = canonical(report(list(reversed(contributions)), epoch))
    assert first == again
    verified = verify_report(first)
    assert verified.report_hash == report_hash(first)
    assert verified.epoch == epoch
    assert {a.lower(): s for a, s in verified.shares.items()} == shares_of(json.loads(first))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(contribution, max_size=40))
def test_shares_are_never_negative_and_only_contributors_hold_any(contributions):
    shares = shares_of(report(contributions))
    assert all(s >= 0 for s in shares.values())
    contributors = {c.member for c in contributions}
    assert set(shares) == contributors
    assert sum(shares.values()) == int(report(contributions)["totals"]["shares"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(contribution, min_size=1, max_size=30), st.integers(min_value=2, max_value=1000))
def test_scaling_every_input_scales_every_members_shares_alike(contributions, k):
    """Multiplying every record count by k multiplies each member's exact value by k; shares are
    its floor, so k x s <= s' < k x (s + 1): relative shares do not move beyond rounding."""
    base = shares_of(report(contributions))
    scaled = shares_of(
        report(
            [
                ContributionInput(
                    c.member, c.data_type, c.records * k, c.quality_ppm, c.uniqueness_ppm
                )
                for c in contributions
            ]
        )
    )
    for member, s in base.items():
        assert k * s <= scaled[member] < k * (s + 1)


def test_configured_rates_change_the_value_and_are_stated_in_the_report():
    from relayer.attribution import Parameters

    params = Parameters.from_decimals({"health": Decimal("2.5")}, Decimal(0))
    built = build_report(
        chain_id=1,
        union=UNION,
        epoch=1,
        contributions=[ContributionInput(MEMBERS[0], "health", 4, PPM, PPM)],
        params=params,
    )
    assert built["parameters"] == {
        "rates": {"health": "2.500000"},
        "uniquenessBonus": "0.000000",
        "valueDecimals": 6,
        "weightScale": "1000000000000000000",
        "shareCap": str(SHARE_CAP),
        "rounding": ROUNDING,
    }
    assert built["members"][0]["shares"] == "10000000"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(large_contribution, min_size=1, max_size=40))
def test_any_epoch_fits_the_contracts_caps_and_keeps_every_members_part(contributions):
    """Whatever the inputs, every member and the total stay within 2^60 - 1, the report verifies,
    and each member's shares are their exact part of the cap (or their value) rounded down."""
    built = report(contributions)
    shares = shares_of(built)
    assert sum(shares.values()) <= SHARE_CAP
    assert all(0 <= s <= MAX_SHARES for s in shares.values())
    assert verify_report(canonical(built)).shares == {checksummed(m): s for m, s in shares.items()}
    values = {m["address"].lower(): int(m["value"].replace(".", "")) for m in built["members"]}
    total = sum(values.values())
    for member, value in values.items():
        if total <= SHARE_CAP:
            assert shares[member] == value
        else:  # s = floor(value x cap / total): within one share of the exact part
            assert shares[member] * total <= value * SHARE_CAP < (shares[member] + 1) * total


def test_a_report_whose_scale_was_edited_does_not_verify():
    built = report([ContributionInput(MEMBERS[0], "health", 10**12, PPM, PPM)] * 2)
    assert built["scale"]["numerator"] == str(SHARE_CAP)
    built["scale"] = {"numerator": "1", "denominator": "1"}
    with pytest.raises(ReportMismatch, match="scale"):
        verify_report(canonical(built))


def test_a_report_states_the_sums_its_weights_follow_from():
    built = report(
        [
            ContributionInput(MEMBERS[0], "health", 100, 900_000, 500_000),
            ContributionInput(MEMBERS[0], "health", 50, 200_000, 0),
        ]
    )
    (by_type,) = built["members"][0]["byType"]
    quality_records = 100 * 900_000 + 50 * 200_000
    unique_records = 100 * 900_000 * 500_000
    assert by_type["qualityRecords"] == str(quality_records)
    assert by_type["uniqueQualityRecords"] == str(unique_records)
    assert int(by_type["weight"]) == 10**12 * quality_records + 500_000 * unique_records
    assert (by_type["contributions"], by_type["records"]) == (2, 150)


def test_a_report_whose_sums_were_edited_does_not_verify():
    built = report([ContributionInput(MEMBERS[0], "health", 100, 900_000, 500_000)])
    built["members"][0]["byType"][0]["qualityRecords"] = str(100 * PPM)
    with pytest.raises(ReportMismatch, match="sums give weight"):
        verify_report(canonical(built))


def test_a_version_1_report_still_verifies():
    """Reports frozen before version 2 (aggregated weights, no scale) keep verifying."""
    v1 = {
        "epoch": 1,
        "inputs": {"contributions": 1, "members": 1, "records": 100},
        "members": [
            {
                "address": checksummed(MEMBERS[0]),
                "byType": [
                    {
                        "contributions": 1,
                        "dataType": "health",
                        "records": 100,
                        "weight": str(100 * 900_000 * (10**12 + 500_000 * 500_000)),
                    }
                ],
                "shares": "1125000000",
                "value": "1125.000000",
            }
        ],
        "method": "records x rate x quality x (1 + bonus x uniqueness)",
        "parameters": DEFAULT_PARAMETERS.as_json(),
        "totals": {"shares": "1125000000", "value": "1125.000000"},
        "union": {"address": UNION, "chainId": 31337},
        "version": "1",
    }
    assert verify_report(canonical(v1)).shares == {checksummed(MEMBERS[0]): 1_125_000_000}
