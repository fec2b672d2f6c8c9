"""The API abuse corpus: hundreds of generated malformed requests across every route, each
answered 4xx in the one error shape, with the database and the chain exactly as before.

The corpus is built from a few families (bad addresses, bad amounts, bad fractions, bad
hashes, unknown fields, oversized and duplicated batches, signatures over another chain or by
another key, bodies over the size limit, missing or wrong operator token) crossed with the
routes and fields they apply to.
"""

import itertools
import json
from functools import partial

import brownie
import pytest
from eth_account import Account
from sqlalchemy import select

from fixtures.api import contribution as shared_contribution
from fixtures.api import index
from fixtures.union import pay, post
from relayer.claims import claim_document
from relayer.contributions import consent_document, deletion_document
from relayer.db import Base
from relayer.schemas import ClaimIn, ContributionIn

GOOD_HASH = "0x" + "ab" * 32

BAD_ADDRESSES = [
    "",
    "0x",
    "alice",
    "0X" + "ab" * 20,  # upper-case prefix
    "0x5FbDB2315678afecb367f032d93F642f64180aA3",  # one letter's case flipped
    "0x5fbDB2315678afecb367f032d93F642f64180aa3",  # another
    "0x" + "ab" * 19,  # 19 bytes
    "0x" + "ab" * 21,  # 21 bytes
    "5FbDB2315678afecb367f032d93F642f64180aa3ab",  # no 0x
    "0xZZbDB2315678afecb367f032d93F642f64180aa3",
    12345,
    None,
    ["0x5FbDB2315678afecb367f032d93F642f64180aa3"],
]
BAD_AMOUNTS = [-1, 0, 1.5, 2**256, "12", "1e6", "0x10", None, True, [], {}]
BAD_FRACTIONS = [-0.1, 1.0000001, 2, "half", None, [], 0.1234567, "NaN", "Infinity"]
BAD_HASHES = ["", "0x", "0x1234", "0x" + "zz" * 32, "ab" * 32, "0x" + "ab" * 33, 7, None]
BAD_SIGNATURES = ["", "0x", "0x" + "00" * 64, "0x" + "gg" * 65, 5, None]
BAD_SLUGS = ["", "Upper", "-lead", "a" * 32, "sp ace", "é", 7, None, "a\x00b"]
#: Text no database can store: a NUL, unpaired surrogates.
UNSTORABLE_TEXT = ["nul\x00byte", "\x00", "lone \ud800 surrogate", "\udfff"]
ZERO_ADDRESS = "0x" + "00" * 20
#: Epoch numbers the database cannot hold (2^63 and past) up to past uint64.
HUGE_EPOCHS = [2**63 - 1 + 1, 2**63 + 1, 2**64 - 1, 2**64, 10**30]


@pytest.fixture
def seeded(api, context, operator_headers, union, stablecoin, attester, buyer, alice):
    """Some state for the corpus to leave alone: a contribution, a license, a posted epoch with
    revenue, and an indexed chain."""
    response = api.post(
        "/v1/contributions",
        json={"contributions": [contribution(alice, "seed")]},
        headers=operator_headers,
    )
    assert response.status_code == 201
    license_body = {"id": "seed", "title": "Seed", "terms_hash": GOOD_HASH, "price": 5}
    assert api.post("/v1/licenses", json=license_body, headers=operator_headers).status_code == 201
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    index(context)


#: The corpus's well-formed contribution: a small one of middling quality and uniqueness.
contribution = partial(shared_contribution, records=10, quality=0.5, uniqueness=0.5)


def snapshot(context, union, stablecoin, relayer_account):
    """Every row of every table, and the chain's figures that any write would move."""
    with context.db.session() as session:
        rows = {
            table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }
    chain = (
        brownie.web3.eth.block_number,
        brownie.web3.eth.get_transaction_count(relayer_account.address),
        union.totalShares(),
        union.totalDeposited(),
        union.totalClaimed(),
        union.currentEpoch(),
        stablecoin.balanceOf(union),
    )
    return rows, chain


def corpus(context, operator_headers, alice, bob, union, rando):
    """(description, method, path, kwargs) for every malformed request."""
    op = operator_headers
    good = contribution(alice, "fresh")
    requests = []

    def add(label, method, path, **kwargs):
        requests.append((label, method, path, kwargs))

    # Contributions: every field with every bad value of its kind, first, middle and last in a
    # batch whose other items are valid.
    for field, values in [
        ("member", BAD_ADDRESSES),
        ("records", [v for v in BAD_AMOUNTS if v != "12"]),  # a decimal string is a count
        ("quality", BAD_FRACTIONS),
        ("uniqueness", BAD_FRACTIONS),
        ("content_hash", BAD_HASHES),
        ("data_type", ["", "dna", "x" * 33, 5, None, *UNSTORABLE_TEXT]),
        ("signature", BAD_SIGNATURES[:-1]),
    ]:
        for value, position in itertools.product(values, range(3)):
            batch = [contribution(alice, f"p{position}-{i}") for i in range(3)]
            batch[position] = {**batch[position], field: value}
            add(
                f"contribution {position} {field}={value!r}",
                "POST",
                "/v1/contributions",
                json={"contributions": batch},
                headers=op,
            )
        for value in values:  # the member-signed path, without the operator token
            signed = {**good, "signature": "0x" + "11" * 65, field: value}
            add(
                f"self-submitted contribution {field}={value!r}",
                "POST",
                "/v1/contributions",
                json={"contributions": [signed]},
            )
    for label, overrides in [
        ("for the zero address", {"member": ZERO_ADDRESS}),
        ("for the union", {"member": union.address}),
        ("for the union, lower case", {"member": union.address.lower()}),
        ("worth more than a member may hold", {"records": 2 * 10**11, "quality": 1}),
        ("at the schema's largest record count", {"records": 10**12, "quality": 1}),
        ("with a NUL in a field name", {"data_type\x00": "health"}),
    ]:
        add(
            f"contribution {label}",
            "POST",
            "/v1/contributions",
            json={"contributions": [{**good, **overrides}]},
            headers=op,
        )
    for field in ("name", "email", "raw_data", "ssn"):
        add(
            f"contribution unknown field {field}",
            "POST",
            "/v1/contributions",
            json={"contributions": [{**good, field: "x"}]},
            headers=op,
        )
    for missing in good:
        add(
            f"contribution missing {missing}",
            "POST",
            "/v1/contributions",
            json={"contributions": [{k: v for k, v in good.items() if k != missing}]},
            headers=op,
        )
    limit = context.settings.max_contributions_per_request
    add(
        "oversized batch",
        "POST",
        "/v1/contributions",
        json={"contributions": [contribution(alice, f"o{i}") for i in range(limit + 1)]},
        headers=op,
    )
    add("empty batch", "POST", "/v1/contributions", json={"contributions": []}, headers=op)
    add(
        "duplicate items",
        "POST",
        "/v1/contributions",
        json={"contributions": [good, good]},
        headers=op,
    )
    add(
        "already contributed hash",
        "POST",
        "/v1/contributions",
        json={"contributions": [contribution(alice, "seed")]},
        headers=op,
    )
    for body in [None, [], "x", 5, {"contributions": None}, {"contributions": [good], "x": 1}]:
        add(f"contributions body {body!r}", "POST", "/v1/contributions", json=body, headers=op)
    add(
        "contributions not json",
        "POST",
        "/v1/contributions",
        content=b"{not json",
        headers={**op, "content-type": "application/json"},
    )
    add(
        "body over the size limit",
        "POST",
        "/v1/contributions",
        content=b" " * (context.settings.max_body_bytes + 1),
        headers={**op, "content-type": "application/json"},
    )
    add(
        "size limit lied about",
        "POST",
        "/v1/contributions",
        content=b"{}",
        headers={**op, "content-type": "application/json", "content-length": "-5"},
    )
    # Signatures: another chain id, another deployment, another signer, no operator token.
    item = ContributionIn(**good)
    for label, chain_id, verifier, signer in [
        ("other chain", context.settings.chain_id + 1, union.address, alice),
        ("other deployment", context.settings.chain_id, rando.address, alice),
        ("other signer", context.settings.chain_id, union.address, bob),
    ]:
        document = consent_document(chain_id, verifier, item)
        signature = Account.sign_typed_data(signer.private_key, full_message=document).signature
        add(
            f"consent signed for {label}",
            "POST",
            "/v1/contributions",
            json={"contributions": [{**good, "signature": "0x" + signature.hex()}]},
        )
    for headers in [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic x"},
        {"Authorization": op["Authorization"] + "x"},
        {"Authorization": op["Authorization"].lower()},
    ]:
        add(
            f"unsigned contribution with {headers}",
            "POST",
            "/v1/contributions",
            json={"contributions": [good]},
            headers=headers,
        )
    add(
        "idempotency key reused with another body",
        "POST",
        "/v1/contributions",
        json={"contributions": [contribution(alice, "other")]},
        headers={**op, "Idempotency-Key": "seeded-key"},
    )
    for key in ["k\x00", "k\x7f", "k\n"]:
        add(
            f"idempotency key {key!r}",
            "POST",
            "/v1/contributions",
            json={"contributions": [good]},
            headers={**op, "Idempotency-Key": key},
        )
    add(
        "idempotency key too long",
        "POST",
        "/v1/contributions",
        json={"contributions": [good]},
        headers={**op, "Idempotency-Key": "k" * 129},
    )

    # Claims.
    deadline = brownie.chain.time() + 3600
    claim = {
        "member": alice.address,
        "to": alice.address,
        "amount": 10,
        "deadline": deadline,
        "signature": "0x" + "11" * 65,
    }
    for field, values in [
        ("member", BAD_ADDRESSES),
        ("to", BAD_ADDRESSES),
        ("amount", BAD_AMOUNTS),
        ("deadline", [-1, 1.5, 2**256, "x", None]),
        ("signature", BAD_SIGNATURES),
    ]:
        for value in values:
            add(f"claim {field}={value!r}", "POST", "/v1/claims", json={**claim, field: value})
    add("claim unknown field", "POST", "/v1/claims", json={**claim, "fee": 1})
    add("claim to the union", "POST", "/v1/claims", json={**claim, "to": union.address})
    add("claim past deadline", "POST", "/v1/claims", json={**claim, "deadline": 1})
    for label, chain_id, verifier, signer, amount in [
        ("other chain", context.settings.chain_id + 1, union.address, alice, 10),
        ("other deployment", context.settings.chain_id, rando.address, alice, 10),
        ("other signer", context.settings.chain_id, union.address, bob, 10),
        ("more than claimable", context.settings.chain_id, union.address, alice, 10**15),
    ]:
        body = ClaimIn(**{**claim, "amount": amount})
        document = claim_document(chain_id, verifier, body, union.nonces(alice))
        signature = Account.sign_typed_data(signer.private_key, full_message=document).signature
        add(
            f"claim signed for {label}",
            "POST",
            "/v1/claims",
            json={**claim, "amount": amount, "signature": "0x" + signature.hex()},
        )

    # Deletion.
    for address in BAD_ADDRESSES[:10]:
        add(f"delete data of {address!r}", "DELETE", f"/v1/members/{address}/data", headers=op)
    document = deletion_document(context.settings.chain_id, union.address, alice.address, deadline)
    by_bob = Account.sign_typed_data(bob.private_key, full_message=document).signature
    for label, body in [
        ("no signature or token", None),
        ("signed by another key", {"deadline": deadline, "signature": "0x" + by_bob.hex()}),
        ("expired", {"deadline": 1, "signature": "0x" + by_bob.hex()}),
        ("too far ahead", {"deadline": deadline + 10**6, "signature": "0x" + by_bob.hex()}),
        ("unknown field", {"deadline": deadline, "signature": "0x" + by_bob.hex(), "x": 1}),
        ("bad signature", {"deadline": deadline, "signature": "0x12"}),
    ]:
        add(
            f"delete alice's data: {label}",
            "DELETE",
            f"/v1/members/{alice.address}/data",
            json=body,
        )

    # Licenses.
    offer = {"id": "fresh", "title": "Fresh", "terms_hash": GOOD_HASH, "price": 5}
    for field, values in [
        ("id", BAD_SLUGS),
        ("title", ["", " ", "x" * 201, 5, None, *UNSTORABLE_TEXT]),
        ("terms_hash", BAD_HASHES),
        ("price", BAD_AMOUNTS),
    ]:
        for value in values:
            if field == "price" and value == "12":
                continue  # a decimal string is a valid price (JS-safe big integers)
            add(
                f"license {field}={value!r}",
                "POST",
                "/v1/licenses",
                json={**offer, field: value},
                headers=op,
            )
            add(
                f"license {field}={value!r} without token",
                "POST",
                "/v1/licenses",
                json={**offer, field: value},
            )
    add("license duplicate id", "POST", "/v1/licenses", json={**offer, "id": "seed"}, headers=op)
    add("license unknown field", "POST", "/v1/licenses", json={**offer, "x": 1}, headers=op)
    for headers in [{}, {"Authorization": "Bearer wrong"}]:
        add(f"license without token {headers}", "POST", "/v1/licenses", json=offer, headers=headers)
    for slug in ["Upper", "a" * 32, "missing"]:
        add(f"get license {slug}", "GET", f"/v1/licenses/{slug}")

    # Epochs.
    for headers in [{}, {"Authorization": "Bearer wrong"}]:
        add(f"close epoch without token {headers}", "POST", "/v1/epochs/close", headers=headers)
        add(f"post epoch without token {headers}", "POST", "/v1/epochs/1/post", headers=headers)
        add(f"finish epoch without token {headers}", "POST", "/v1/epochs/1/finish", headers=headers)
        add(
            f"abandon epoch without token {headers}",
            "POST",
            "/v1/epochs/1/abandon",
            headers=headers,
        )
    for number in ["0", "-1", "x", "1.5", "99", "1e3", "%00", *map(str, HUGE_EPOCHS)]:
        add(f"get epoch {number}", "GET", f"/v1/epochs/{number}")
        add(f"get report {number}", "GET", f"/v1/epochs/{number}/report")
        add(f"post epoch {number}", "POST", f"/v1/epochs/{number}/post", headers=op)
        add(f"abandon epoch {number}", "POST", f"/v1/epochs/{number}/abandon", headers=op)
        add(f"finish epoch {number}", "POST", f"/v1/epochs/{number}/finish", headers=op)
    add("abandon the posted epoch", "POST", "/v1/epochs/1/abandon", headers=op)

    # Members, statements, estimates.
    for address in BAD_ADDRESSES[:10]:
        add(f"member {address!r}", "GET", f"/v1/members/{address}")
        add(
            f"statement {address!r}",
            "GET",
            f"/v1/members/{address}/statement",
            params={"year": 2026},
        )
    for params in [
        {},
        {"year": 1999},
        {"year": 2101},
        {"year": "x"},
        {"year": 2026, "format": "xml"},
        {"year": 2026.5},
    ]:
        add(f"statement {params}", "GET", f"/v1/members/{alice.address}/statement", params=params)
    estimate = {"data_type": "health", "records_per_month": 100, "quality": 0.5}
    for field, values in [
        ("data_type", ["", "dna", "x" * 33]),
        ("records_per_month", [-1, 1.5, 10**13, "x"]),
        ("quality", [-0.1, 1.5, "x", "NaN"]),
        ("uniqueness", [-0.1, 1.5, "x", "Infinity"]),
    ]:
        for value in values:
            add(
                f"estimate {field}={value!r}",
                "GET",
                "/v1/estimate",
                params={**estimate, field: value},
            )
    for missing in estimate:
        add(
            f"estimate missing {missing}",
            "GET",
            "/v1/estimate",
            params={k: v for k, v in estimate.items() if k != missing},
        )
    # Every POST route with bodies of the wrong shape or type.
    for path, body in itertools.product(
        ["/v1/contributions", "/v1/claims", "/v1/licenses"],
        [None, [], "x", 5, True, {"a": {"b": [1, 2]}}, [{"member": alice.address}]],
    ):
        add(f"{path} body {body!r}", "POST", path, json=body, headers=op)
    for path, content_type in itertools.product(
        ["/v1/contributions", "/v1/claims", "/v1/licenses"],
        ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16"],
    ):
        add(
            f"{path} as {content_type}",
            "POST",
            path,
            content=b"member=x",
            headers={**op, "content-type": content_type},
        )

    # Routes and methods that do not exist.
    for method, path in itertools.product(
        ["GET", "POST", "PUT", "PATCH"], ["/v1/nothing", "/v2/members", "/admin"]
    ):
        add(f"{method} {path}", method, path)
    for method, path in [
        ("PUT", "/v1/contributions"),
        ("GET", "/v1/claims"),
        ("DELETE", "/v1/licenses"),
        ("POST", "/v1/estimate"),
    ]:
        add(f"wrong method {method} {path}", method, path)
    return requests


def as_ascii_json(kwargs):
    """The request with its JSON body escaped to ASCII (`\\ud800`), as a client would send a
    lone surrogate; httpx's own encoding cannot encode one."""
    if kwargs.get("json") is None:
        return kwargs
    kwargs = dict(kwargs)
    body = json.dumps(kwargs.pop("json")).encode()
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return {**kwargs, "content": body, "headers": headers}


@pytest.mark.both_databases
def test_every_malformed_request_is_refused_in_one_shape_and_changes_nothing(
    api,
    context,
    operator_headers,
    seeded,
    union,
    stablecoin,
    relayer_account,
    alice,
    bob,
    rando,
):
    key = {**operator_headers, "Idempotency-Key": "seeded-key"}
    body = {"contributions": [contribution(alice, "keyed")]}
    assert api.post("/v1/contributions", json=body, headers=key).status_code == 201
    before = snapshot(context, union, stablecoin, relayer_account)
    requests = corpus(context, operator_headers, alice, bob, union, rando)
    assert len(requests) >= 580, len(requests)

    accepted = []
    for label, method, path, kwargs in requests:
        response = api.request(method, path, **as_ascii_json(kwargs))
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else None
        )
        shaped = (
            isinstance(body, dict)
            and set(body) == {"error"}
            and set(body["error"]) == {"code", "message", "details"}
            and isinstance(body["error"]["code"], str)
            and body["error"]["message"]
        )
        if not (400 <= response.status_code < 500 and shaped):
            accepted.append((label, response.status_code, response.text[:200]))
    assert accepted == [], f"{len(accepted)} of {len(requests)} not refused properly: {accepted}"
    assert snapshot(context, union, stablecoin, relayer_account) == before
