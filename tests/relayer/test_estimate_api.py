"""GET /v1/estimate: shares by the attribution method, times the union's revenue per share of the
last 30 days; said plainly to be an estimate; null earnings (with the reason) when there is
nothing to project from; unknown data types and bad numbers refused in the one error shape."""

from brownie import chain

from fixtures.api import index
from fixtures.union import pay, post
from relayer.attribution import DEFAULT_PARAMETERS, estimate_shares
from relayer.estimator import NO_REVENUE, NO_SHARES

AMOUNT = 1_000_000  # 5% fee: 950_000 net
UNION_SHARES = 4_000_000_000
QUERY = {"data_type": "health", "records_per_month": 100, "quality": "0.9", "uniqueness": "0.5"}


def estimate(api, **overrides):
    response = api.get("/v1/estimate", params={**QUERY, **overrides})
    assert response.status_code == 200, response.text
    return response.json()


def test_earnings_are_the_shares_times_the_recent_revenue_per_share(
    api, context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: UNION_SHARES})
    pay(stablecoin, union, buyer, AMOUNT)
    pay(stablecoin, union, buyer, 3 * AMOUNT)
    index(context)

    body = estimate(api)

    shares = estimate_shares("health", 100, 900_000, 500_000, DEFAULT_PARAMETERS)
    assert shares == 1_125_000_000  # 100 x 10 x 0.9 x (1 + 0.5 x 0.5), in micro-units
    assert body["shares"] == str(shares)
    assert body["monthly_earnings"] == {
        "units": str(shares * 3_800_000 // UNION_SHARES),
        "formatted": "1.068750",
    }
    assert body["reason"] is None
    assert body["estimate"] is True
    assert "estimate" in body["disclaimer"]
    assert body["basis"]["net_revenue"]["units"] == "3800000"
    assert body["basis"]["total_shares"] == str(UNION_SHARES)
    assert body["basis"]["revenue_per_share"] == "0.00095"


def test_revenue_older_than_30_days_is_left_out(
    api, context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: UNION_SHARES})
    pay(stablecoin, union, buyer, 10 * AMOUNT)
    chain.sleep(31 * 24 * 3600)
    chain.mine()
    index(context)

    stale = estimate(api)
    pay(stablecoin, union, buyer, AMOUNT)
    index(context)
    recent = estimate(api)

    assert (stale["monthly_earnings"], stale["reason"]) == (None, NO_REVENUE)
    assert stale["shares"] == recent["shares"] != "0"
    assert recent["basis"]["net_revenue"]["units"] == "950000"
    assert recent["monthly_earnings"]["units"] == str(1_125_000_000 * 950_000 // UNION_SHARES)


def test_without_shares_the_estimate_gives_shares_and_null_earnings_with_the_reason(
    api, context, union, stablecoin, buyer
):
    pay(stablecoin, union, buyer, AMOUNT)
    index(context)

    body = estimate(api)

    assert body["shares"] == "1125000000"
    assert (body["monthly_earnings"], body["reason"]) == (None, NO_SHARES)
    assert body["basis"]["revenue_per_share"] is None
    assert body["estimate"] is True


def test_an_unknown_data_type_is_422_naming_the_known_ones(api):
    response = api.get("/v1/estimate", params={**QUERY, "data_type": "dna"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "'dna'" in error["message"]
    assert all(known in error["message"] for known in DEFAULT_PARAMETERS.rates_micro)


def test_bad_numbers_are_422_in_the_one_error_shape(api):
    bad = [
        {"records_per_month": -1},
        {"records_per_month": 1.5},
        {"records_per_month": "many"},
        {"records_per_month": 10**13},
        {"quality": "1.5"},
        {"quality": "-0.1"},
        {"quality": "nan"},
        {"quality": "0.1234567"},  # more than six decimals
        {"uniqueness": "2"},
    ]
    for overrides in bad:
        response = api.get("/v1/estimate", params={**QUERY, **overrides})

        assert response.status_code == 422, overrides
        assert set(response.json()["error"]) == {"code", "message", "details"}
    missing = api.get("/v1/estimate", params={"data_type": "health"})
    assert missing.status_code == 422
    assert {d["loc"][-1] for d in missing.json()["error"]["details"]} == {
        "records_per_month",
        "quality",
    }
