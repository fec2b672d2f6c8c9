"""POST /v1/claims: a member's EIP-712 Claim relayed with claimWithSig. A claim the relayer can
tell is wrong (signer, nonce, deadline, recipient, shape) is refused before any gas is spent, and
one the contract refuses surfaces its custom error; nothing is sent or recorded for either.
(The happy path, from contributions to a claimed payout, is in test_flow.py.)"""

import pytest
from brownie import chain, web3
from sqlalchemy import func, select

from fixtures.api import assert_error
from fixtures.union import claim_body, pay, post
from relayer.db import OutboxTx

REVENUE = 2_000_000  # 2 tokens of 6 decimals; alice holds half the shares


@pytest.fixture
def earned(union, stablecoin, attester, buyer, alice, bob):
    """What alice can claim after one epoch and one deposit."""
    post(union, attester, 1, {alice: 100, bob: 100})
    pay(stablecoin, union, buyer, REVENUE)
    amount = union.claimable(alice)
    assert amount > 0
    return amount


class Sent:
    """Watches the relayer's key: how many transactions it signed, and the outbox rows."""

    def __init__(self, context, relayer_account):
        self.context = context
        self.address = relayer_account.address
        self.nonce = self.chain_nonce()

    def chain_nonce(self):
        return web3.eth.get_transaction_count(self.address, "pending")

    def rows(self):
        with self.context.db.session() as session:
            return session.scalar(select(func.count()).select_from(OutboxTx))

    def assert_nothing(self):
        assert (self.chain_nonce(), self.rows()) == (self.nonce, 0)


@pytest.fixture
def sent(context, relayer_account):
    return Sent(context, relayer_account)


def test_claim_signed_by_another_key_is_forbidden_and_sends_nothing(
    api, sent, union, earned, alice, bob
):
    body = claim_body(union, alice, alice, earned, signer=bob)

    error = assert_error(api.post("/v1/claims", json=body), 403, "forbidden")

    assert bob.address in error["message"]
    sent.assert_nothing()
    assert (union.claimable(alice), union.nonces(alice)) == (earned, 0)


def test_claim_signed_for_a_nonce_the_member_revoked_is_a_conflict(api, sent, union, earned, alice):
    body = claim_body(union, alice, alice, earned)
    union.invalidateNonce({"from": alice})  # the member revokes the signature

    error = assert_error(api.post("/v1/claims", json=body), 409, "conflict")

    assert "nonce 0" in error["message"]
    assert "already used on-chain" in error["message"]
    assert error["details"] == [{"member": alice.address, "nonce": "0", "current_nonce": "1"}]
    sent.assert_nothing()
    assert union.claimable(alice) == earned


def test_claim_signed_for_a_nonce_ahead_of_the_current_one_is_forbidden(
    api, sent, union, earned, alice
):
    body = claim_body(union, alice, alice, earned, nonce=5)

    error = assert_error(api.post("/v1/claims", json=body), 403, "forbidden")

    assert "current 0" in error["message"]
    sent.assert_nothing()


def test_claim_whose_deadline_has_passed_is_invalid(api, sent, union, earned, alice):
    # The contract compares with the block's time, which on a test chain is not the wall clock.
    body = claim_body(union, alice, alice, earned, deadline=chain[-1].timestamp - 1)

    error = assert_error(api.post("/v1/claims", json=body), 422, "invalid_input")

    assert "deadline" in error["message"]
    sent.assert_nothing()


def test_claim_above_claimable_surfaces_the_contracts_error_and_records_nothing(
    api, sent, union, earned, alice
):
    body = claim_body(union, alice, alice, earned + 1)

    error = assert_error(api.post("/v1/claims", json=body), 422, "contract_reverted")

    assert f"DataUnionInsufficientEarnings({earned + 1}, {earned})" in error["message"]
    sent.assert_nothing()
    assert (union.claimable(alice), union.nonces(alice)) == (earned, 0)


def bad_checksum(address):
    """`address` with one letter's case flipped: lower case is accepted, a broken EIP-55 is not."""
    letter = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    return address[:letter] + address[letter].swapcase() + address[letter + 1 :]


def test_malformed_claims_are_rejected_with_the_field_named(api, sent, union, earned, alice):
    valid = claim_body(union, alice, alice, earned)
    cases = [
        ({"amount": 0}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": float(earned)}, "amount"),
        ({"amount": f"{earned}.0"}, "amount"),
        ({"amount": f" {earned}"}, "amount"),
        ({"amount": "1e6"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": str(2**256)}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 2**256}, "amount"),
        ({"member": bad_checksum(alice.address)}, "member"),
        ({"to": bad_checksum(alice.address)}, "to"),
        ({"to": "alice"}, "to"),
        ({"deadline": -1}, "deadline"),
        ({"deadline": "soon"}, "deadline"),
        ({"signature": valid["signature"][:-2]}, "signature"),
        ({"memo": "for rent"}, "memo"),
        ({"signature": None}, "signature"),
    ]
    for overrides, field in cases:
        response = api.post("/v1/claims", json={**valid, **overrides})
        error = assert_error(response, 422, "invalid_request")
        assert any(d["loc"][-1] == field for d in error["details"]), (overrides, error)
    missing = {k: v for k, v in valid.items() if k != "amount"}
    error = assert_error(api.post("/v1/claims", json=missing), 422, "invalid_request")
    assert error["details"][0]["loc"] == ["body", "amount"]
    sent.assert_nothing()
    assert union.claimable(alice) == earned


def test_claim_to_the_union_itself_is_invalid(api, sent, union, earned, alice):
    body = claim_body(union, alice, union.address, earned)

    error = assert_error(api.post("/v1/claims", json=body), 422, "invalid_input")

    assert "union" in error["message"]
    sent.assert_nothing()


def test_partial_claim_pays_its_amount_keeps_the_rest_and_uses_the_nonce(
    api, sent, union, stablecoin, earned, alice, rando
):
    part = earned // 3
    body = claim_body(union, alice, rando, part)

    response = api.post("/v1/claims", json=body)

    assert response.status_code == 202, response.text
    receipt = web3.eth.get_transaction_receipt(response.json()["tx_hash"])
    assert receipt["status"] == 1
    assert stablecoin.balanceOf(rando) == part
    assert union.claimable(alice) == earned - part
    assert union.nonces(alice) == 1
    assert sent.chain_nonce() == sent.nonce + 1

    replayed = api.post("/v1/claims", json=body)
    assert replayed.status_code == 200, replayed.text  # the record, not a second transaction
    assert replayed.json()["tx_hash"] == response.json()["tx_hash"]
    assert sent.chain_nonce() == sent.nonce + 1
    assert union.claimable(alice) == earned - part

    rest = api.post("/v1/claims", json=claim_body(union, alice, alice, earned - part))
    assert rest.status_code == 202, rest.text
    assert stablecoin.balanceOf(alice) == earned - part
    assert (union.claimable(alice), union.nonces(alice)) == (0, 2)
    assert sent.rows() == 2
