"""POST /v1/contributions and DELETE /v1/members/{address}/data: all-or-nothing, authenticated
by the operator token or by the member's own EIP-712 signature."""

import time
from functools import partial

import pytest
from eth_account import Account
from sqlalchemy import func, select

from fixtures.api import contribution
from relayer.contributions import consent_document, deletion_document
from relayer.db import Contribution
from relayer.schemas import ContributionIn

pytestmark = pytest.mark.both_databases


#: This module's contributions: the values its stored rows are checked against.
item = partial(contribution, salt="salt:", records=120, quality=0.9, uniqueness=0.25)


def signed(context, member, body):
    document = consent_document(
        context.settings.chain_id, context.chain.address, ContributionIn(**body)
    )
    signature = Account.sign_typed_data(member.private_key, full_message=document).signature
    return {**body, "signature": "0x" + signature.hex()}


def stored(context):
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Contribution))


def test_operator_records_a_batch(api, context, operator_headers, alice, bob):
    response = api.post(
        "/v1/contributions",
        json={"contributions": [item(alice, "a"), item(bob, "b", data_type="browsing")]},
        headers=operator_headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 2
    with context.db.session() as session:
        rows = session.scalars(select(Contribution).order_by(Contribution.id)).all()
        assert [
            (r.member, r.data_type, r.records, r.quality_ppm, r.uniqueness_ppm) for r in rows
        ] == [
            (alice.address, "health", 120, 900_000, 250_000),
            (bob.address, "browsing", 120, 900_000, 250_000),
        ]


def test_member_signed_contribution_needs_no_operator_token(api, context, alice):
    response = api.post(
        "/v1/contributions", json={"contributions": [signed(context, alice, item(alice, "a"))]}
    )
    assert response.status_code == 201, response.text
    assert stored(context) == 1


def test_signature_by_someone_else_is_forbidden_and_writes_nothing(api, context, alice, bob):
    forged = signed(context, bob, item(alice, "a"))
    response = api.post("/v1/contributions", json={"contributions": [forged]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert stored(context) == 0


def test_unsigned_contribution_without_operator_token_is_refused(api, context, alice):
    response = api.post("/v1/contributions", json={"contributions": [item(alice, "a")]})
    assert response.status_code == 403
    assert stored(context) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"member": "0x5FbDB2315678afecb367f032d93F642f64180aA3"}, "member"),  # bad checksum
        ({"member": "alice"}, "member"),
        ({"records": -1}, "records"),
        ({"records": 0}, "records"),
        ({"records": 1.5}, "records"),
        ({"records": 2**256}, "records"),
        ({"quality": 1.5}, "quality"),
        ({"quality": -0.1}, "quality"),
        ({"uniqueness": 0.1234567}, "uniqueness"),
        ({"content_hash": "0x1234"}, "content_hash"),
        ({"name": "Alice Smith"}, "name"),  # personal data has no field to go into
    ],
)
def test_bad_items_are_rejected_with_the_field_named(
    api, context, operator_headers, alice, overrides, field
):
    response = api.post(
        "/v1/contributions",
        json={"contributions": [item(alice, "a", **overrides)]},
        headers=operator_headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(field in d["loc"] for d in error["details"])
    assert stored(context) == 0


def test_a_lower_case_member_address_is_accepted_and_stored_checksummed(
    api, context, operator_headers, alice
):
    response = api.post(
        "/v1/contributions",
        json={"contributions": [item(alice, "a", member=alice.address.lower())]},
        headers=operator_headers,
    )
    assert response.status_code == 201, response.text
    with context.db.session() as session:
        assert list(session.scalars(select(Contribution.member))) == [alice.address]


def test_a_record_count_as_a_decimal_string_is_the_same_count(
    api, context, operator_headers, alice
):
    body = {"contributions": [item(alice, "a", records="250")]}
    response = api.post("/v1/contributions", json=body, headers=operator_headers)
    assert response.status_code == 201, response.text
    with context.db.session() as session:
        assert list(session.scalars(select(Contribution.records))) == [250]


def test_one_bad_item_rejects_the_whole_batch(api, context, operator_headers, alice, bob):
    batch = [item(alice, "a"), item(bob, "b", data_type="dna")]
    response = api.post(
        "/v1/contributions", json={"contributions": batch}, headers=operator_headers
    )
    assert response.status_code == 422
    assert "unknown data type" in response.json()["error"]["message"]
    assert stored(context) == 0


def test_duplicate_content_hash_is_a_conflict(api, context, operator_headers, alice, bob):
    first = api.post(
        "/v1/contributions", json={"contributions": [item(alice, "same")]}, headers=operator_headers
    )
    assert first.status_code == 201
    again = api.post(
        "/v1/contributions",
        json={"contributions": [item(bob, "x"), item(bob, "same")]},
        headers=operator_headers,
    )
    assert again.status_code == 409
    twice = api.post(
        "/v1/contributions",
        json={"contributions": [item(bob, "y"), item(bob, "y")]},
        headers=operator_headers,
    )
    assert twice.status_code == 409
    assert stored(context) == 1


def test_oversized_batch_and_body_are_refused(api, context, operator_headers, alice):
    limit = context.settings.max_contributions_per_request
    batch = [item(alice, str(i)) for i in range(limit + 1)]
    response = api.post(
        "/v1/contributions", json={"contributions": batch}, headers=operator_headers
    )
    assert response.status_code == 422
    assert f"at most {limit}" in response.json()["error"]["message"]
    padding = "x" * (context.settings.max_body_bytes + 1)
    response = api.post(
        "/v1/contributions",
        content=padding,
        headers={**operator_headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert stored(context) == 0


def test_retried_post_with_the_same_idempotency_key_is_a_no_op(
    api, context, operator_headers, alice
):
    headers = {**operator_headers, "Idempotency-Key": "batch-7"}
    body = {"contributions": [item(alice, "a")]}
    first = api.post("/v1/contributions", json=body, headers=headers)
    again = api.post("/v1/contributions", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replay"] == "true"
    assert stored(context) == 1
    other = api.post(
        "/v1/contributions", json={"contributions": [item(alice, "b")]}, headers=headers
    )
    assert other.status_code == 409
    assert stored(context) == 1


def test_member_deletes_their_data_with_a_signature_once(
    api, context, operator_headers, alice, bob
):
    api.post(
        "/v1/contributions",
        json={"contributions": [item(alice, "a"), item(alice, "b"), item(bob, "c")]},
        headers=operator_headers,
    )
    deadline = int(time.time()) + 600  # an off-chain deadline: the relayer's clock
    document = deletion_document(
        context.settings.chain_id, context.chain.address, alice.address, deadline
    )
    signature = (
        "0x" + Account.sign_typed_data(alice.private_key, full_message=document).signature.hex()
    )
    body = {"deadline": deadline, "signature": signature}
    response = api.request("DELETE", f"/v1/members/{alice.address}/data", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] == 2
    assert stored(context) == 1
    replay = api.request("DELETE", f"/v1/members/{alice.address}/data", json=body)
    assert replay.status_code == 409
    stolen = api.request("DELETE", f"/v1/members/{bob.address}/data", json=body)
    assert stolen.status_code == 403
    assert stored(context) == 1


def test_operator_deletes_a_members_data_without_a_signature(api, context, operator_headers, alice):
    api.post(
        "/v1/contributions", json={"contributions": [item(alice, "a")]}, headers=operator_headers
    )
    assert api.request("DELETE", f"/v1/members/{alice.address}/data").status_code == 403
    response = api.request("DELETE", f"/v1/members/{alice.address}/data", headers=operator_headers)
    assert response.json()["deleted"] == 1
    assert stored(context) == 0
