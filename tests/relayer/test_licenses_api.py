"""License offers: created by the operator only, unique by id, refused whole when malformed, and
listed with every deposit made against them, each traced to the epoch whose shares split it."""

from sqlalchemy import func, select

from fixtures.api import index
from fixtures.union import LICENSE, NO_LICENSE, pay, post
from relayer.db import License

AMOUNT = 1_000_000
TERMS = "0x" + "7e" * 32


def offer(**overrides):
    body = {
        "id": "license-001",
        "title": "Health records 2026",
        "terms_hash": TERMS,
        "price": 25_000_000,
    }
    body.update(overrides)
    return body


def licenses_stored(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(License))


def test_the_operator_creates_a_license_with_its_onchain_id(api, operator_headers):
    response = api.post("/v1/licenses", json=offer(), headers=operator_headers)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == "license-001"
    assert created["license_id"] == "0x" + LICENSE.hex()  # what buyers pass to deposit()
    assert created["terms_hash"] == TERMS
    assert created["price"] == {"units": "25000000", "formatted": "25.000000"}
    assert api.get("/v1/licenses").json() == {"licenses": [created]}
    assert api.get("/v1/licenses/license-001").json()["deposits"] == []


def test_a_price_may_be_a_decimal_string_beyond_javascript_integers(api, operator_headers):
    price = str(2**256 - 1)

    response = api.post("/v1/licenses", json=offer(price=price), headers=operator_headers)

    assert response.status_code == 201, response.text
    assert response.json()["price"]["units"] == price


def test_creating_without_the_operator_token_is_401_and_writes_nothing(api, context):
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdefghij"},
        {"Authorization": "Basic bGljZW5zZTpsaWNlbnNl"},
    ):
        response = api.post("/v1/licenses", json=offer(), headers=headers)

        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
    assert api.post("/v1/licenses", json=offer(price=-1)).status_code == 401  # auth comes first
    assert licenses_stored(context) == 0


def test_a_duplicate_id_is_409_and_keeps_the_first(api, context, operator_headers):
    api.post("/v1/licenses", json=offer(), headers=operator_headers)

    response = api.post("/v1/licenses", json=offer(title="Another"), headers=operator_headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert api.get("/v1/licenses/license-001").json()["title"] == "Health records 2026"
    assert licenses_stored(context) == 1


MALFORMED = [
    {"id": "License-001"},
    {"id": "-leading-dash"},
    {"id": "a" * 32},
    {"id": ""},
    {"id": "with space"},
    {"title": ""},
    {"title": "   "},
    {"title": "t" * 201},
    {"terms_hash": "0x1234"},
    {"terms_hash": "7e" * 32},
    {"price": 0},
    {"price": -1},
    {"price": 1.5},
    {"price": "1.5"},
    {"price": "0x10"},
    {"price": str(2**256)},
    {"price": True},
    {"unexpected": 1},
]


def test_a_malformed_offer_is_422_in_the_one_error_shape_and_writes_nothing(
    api, context, operator_headers
):
    for overrides in MALFORMED:
        response = api.post("/v1/licenses", json=offer(**overrides), headers=operator_headers)

        assert response.status_code == 422, overrides
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["details"][0]["loc"][:2] == ["body", next(iter(overrides))], overrides
    assert licenses_stored(context) == 0


def test_an_unknown_license_is_404_and_a_malformed_id_422(api):
    assert api.get("/v1/licenses/no-such-license").json()["error"]["code"] == "not_found"
    assert api.get("/v1/licenses/no-such-license").status_code == 404
    assert api.get("/v1/licenses/Bad%20Id").status_code == 422


def test_deposits_are_traced_to_the_epoch_whose_shares_split_them(
    api, context, operator_headers, union, stablecoin, attester, buyer, alice, bob
):
    api.post("/v1/licenses", json=offer(), headers=operator_headers)
    before_any_epoch = pay(stablecoin, union, buyer, AMOUNT)
    index(context)
    held = api.get("/v1/licenses/license-001").json()["deposits"]
    assert [(d["tx_hash"], d["epoch"]) for d in held] == [(before_any_epoch.txid, None)]

    post(union, attester, 1, {alice: 1})  # releases the held deposit, split by epoch 1
    in_epoch_1 = pay(stablecoin, union, buyer, 2 * AMOUNT)
    pay(stablecoin, union, buyer, 5 * AMOUNT, NO_LICENSE)  # another license: not listed
    post(union, attester, 2, {bob: 1})
    in_epoch_2 = pay(stablecoin, union, buyer, 3 * AMOUNT)
    index(context)

    body = api.get("/v1/licenses/license-001").json()

    assert [(d["tx_hash"], d["epoch"]) for d in body["deposits"]] == [
        (before_any_epoch.txid, 1),
        (in_epoch_1.txid, 1),
        (in_epoch_2.txid, 2),
    ]
    first = body["deposits"][0]
    assert first["payer"] == buyer.address
    assert first["amount"] == {"units": "1000000", "formatted": "1.000000"}
    assert first["fee"]["units"] == "50000"
    assert first["net"]["units"] == "950000"
    assert first["block_number"] == before_any_epoch.block_number
    assert body["total_paid"]["units"] == str(6 * AMOUNT)
