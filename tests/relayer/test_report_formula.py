"""The README's formula (section "Recomputing a report") reproduces a report the relayer served,
exactly: written here from the README alone, with Python's Fraction and none of the relayer's
attribution code, from the contributions this test sent (their records, quality and uniqueness)
and from the report's own sums, for an epoch within the contract's cap and one scaled into it."""

import json
from fractions import Fraction
from functools import partial
from math import floor

import pytest

from fixtures.api import contribution
from fixtures.relayer import relayer_settings

CAP = 2**60 - 1
item = partial(contribution, salt="report formula ")


def millionths(text):
    """A report's six-decimal text as an integer number of millionths ("0.9" -> 900000)."""
    return int(Fraction(text) * 10**6)


def readme_values(report, sent):
    """value(member) by the README's formula, in millionths of a unit, rounded down per member;
    the report's sums are checked against the contributions `sent` ({address: [bodies]})."""
    parameters = report["parameters"]
    rates = {t: millionths(r) for t, r in parameters["rates"].items()}
    bonus = millionths(parameters["uniquenessBonus"])
    values = {}
    for member in report["members"]:
        total = 0
        for by_type in member["byType"]:
            mine = [c for c in sent[member["address"]] if c["data_type"] == by_type["dataType"]]
            q_sum = sum(int(c["records"]) * millionths(str(c["quality"])) for c in mine)
            u_sum = sum(
                int(c["records"]) * millionths(str(c["quality"])) * millionths(str(c["uniqueness"]))
                for c in mine
            )
            assert (by_type["qualityRecords"], by_type["uniqueQualityRecords"]) == (
                str(q_sum),
                str(u_sum),
            )
            assert by_type["records"] == sum(int(c["records"]) for c in mine)
            # Per contribution: records x q x (10^12 + b x u), summed over the member's type.
            w = sum(
                int(c["records"])
                * millionths(str(c["quality"]))
                * (10**12 + bonus * millionths(str(c["uniqueness"])))
                for c in mine
            )
            assert w == 10**12 * q_sum + bonus * u_sum
            assert str(w) == by_type["weight"]
            total += rates[by_type["dataType"]] * w
        values[member["address"]] = floor(Fraction(total, 10**18))
    return values


def readme_shares(values):
    """shares(member) by the README's formula, from the members' values."""
    total = sum(values.values())
    if total <= CAP:
        return dict(values)
    return {a: floor(Fraction(v * CAP, total)) for a, v in values.items()}


def close_and_fetch(api, headers, *items):
    """Send `items`, close and post the epoch; returns its report and {address: items}."""
    response = api.post("/v1/contributions", json={"contributions": list(items)}, headers=headers)
    assert response.status_code == 201, response.text
    closed = api.post("/v1/epochs/close", headers=headers)
    assert closed.status_code == 202, closed.text
    number = closed.json()["number"]
    assert api.get(f"/v1/epochs/{number}").json()["status"] == "pending"
    sent = {}
    for body in items:
        sent.setdefault(body["member"], []).append(body)
    return json.loads(api.get(f"/v1/epochs/{number}/report").content), sent


def assert_reproduced(report, sent, union):
    values = readme_values(report, sent)
    shares = readme_shares(values)
    for member in report["members"]:
        address = member["address"]
        assert millionths(member["value"]) == values[address], address
        assert int(member["shares"]) == shares[address] == union.sharesOf(address), address
    assert int(report["totals"]["shares"]) == sum(shares.values())
    assert millionths(report["totals"]["value"]) == sum(values.values())
    assert report["parameters"]["weightScale"] == str(10**18)
    assert report["parameters"]["shareCap"] == str(CAP)
    return shares


def test_the_readme_formula_reproduces_a_served_report(
    api, operator_headers, union, alice, bob, carol
):
    report, sent = close_and_fetch(
        api,
        operator_headers,
        item(alice, "a1", records=120, quality=0.9, uniqueness=0.5),
        item(alice, "a2", records=30, quality=0.9, uniqueness=0.5),  # as a1: sums add up
        item(alice, "a3", data_type="browsing", records=777, quality=0.333333, uniqueness=0.1),
        item(bob, "b1", data_type="device_metadata", records=3, quality=0.7, uniqueness=1),
        item(carol, "c1", data_type="location", records=10**6, quality=0.123457, uniqueness=0),
    )

    assert report["scale"] == {"numerator": "1", "denominator": "1"}
    shares = assert_reproduced(report, sent, union)
    (alice_member,) = [m for m in report["members"] if m["address"] == alice.address]
    (alice_health,) = [t for t in alice_member["byType"] if t["dataType"] == "health"]
    assert (alice_health["contributions"], alice_health["records"]) == (2, 150)
    # Bob's by hand: rate 0.5, 3 records, quality 0.7, uniqueness 1, bonus 0.5.
    bob_weight = 3 * 700_000 * (10**12 + 500_000 * 10**6)
    assert shares[bob.address] == 500_000 * bob_weight // 10**18 == 1_575_000


@pytest.fixture
def high_rates(union, relayer_account, database_url, operator_token):
    from fastapi.testclient import TestClient

    from relayer.api.app import create_app
    from relayer.context import Context

    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, rates={"health": "1000000"}
    )
    context = Context.from_settings(settings)
    with TestClient(create_app(context)) as client:
        yield client
    context.close()


def test_the_readme_formula_reproduces_a_report_scaled_into_the_cap(
    high_rates, operator_headers, union, alice, bob
):
    # 10^12 micro-units a record: each contribution under the cap, the epoch over it.
    big = 10**6
    report, sent = close_and_fetch(
        high_rates,
        operator_headers,
        item(alice, "big a", records=big),
        item(bob, "big b", records=big, quality=0.5),
    )

    assert report["scale"]["numerator"] == str(CAP)
    shares = assert_reproduced(report, sent, union)
    assert shares[alice.address] > shares[bob.address] > 0
    assert sum(shares.values()) <= CAP
