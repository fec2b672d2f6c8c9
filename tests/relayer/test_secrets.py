"""The operator token and the relayer's private key never reach a log record, a response body, a
repr or a str, whatever the relayer does and whatever a client pastes where."""

import logging
from functools import partial

from brownie import chain

from fixtures.api import contribution, index
from fixtures.epochs import finish_when_due
from fixtures.union import CLAIM_FIELDS, pay, sign_typed

REVENUE = 1_000_000


#: This module's contributions (content hashes salted as they always were here).
item = partial(contribution, salt="secrets test ")


def secrets_of(operator_token, relayer_account):
    """Every form of the two secrets, lower-cased: compare against lower-cased text."""
    key = relayer_account.private_key.lower().removeprefix("0x")
    return {"operator token": operator_token.lower(), "key": key, "0x key": "0x" + key}


def assert_free_of(text, secrets, where):
    lowered = text.lower()
    for name, secret in secrets.items():
        assert secret not in lowered, f"the {name} is in {where}"


def test_secrets_never_reach_a_log_record_or_a_response_body(
    api,
    context,
    operator_token,
    operator_headers,
    relayer_account,
    union,
    stablecoin,
    buyer,
    alice,
    bob,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="relayer")
    key = relayer_account.private_key
    responses = []

    def call(method, path, expected, **kwargs):
        response = api.request(method, path, **kwargs)
        assert response.status_code == expected, response.text
        responses.append(response)
        return response

    contributions = {"contributions": [item(alice, "a"), item(bob, "b")]}
    call("POST", "/v1/contributions", 201, json=contributions, headers=operator_headers)
    number = call("POST", "/v1/epochs/close", 202, headers=operator_headers).json()["number"]
    assert call("GET", f"/v1/epochs/{number}", 200).json()["status"] == "pending"
    finish_when_due(context, number)
    assert call("GET", f"/v1/epochs/{number}", 200).json()["status"] == "finished"
    pay(stablecoin, union, buyer, REVENUE)
    index(context)
    call("GET", f"/v1/members/{alice.address}", 200)

    too_much = union.claimable(alice) + 1
    deadline = chain.time() + 3600
    message = {
        "member": alice.address,
        "to": alice.address,
        "amount": too_much,
        "nonce": 0,
        "deadline": deadline,
    }
    domain = ("DataUnion", "1", chain.id, union.address)
    signature = sign_typed(alice.private_key, domain, "Claim", CLAIM_FIELDS, message).signature
    claim = {**message, "signature": "0x" + bytes(signature).hex()}
    del claim["nonce"]
    refused = call("POST", "/v1/claims", 422, json=claim)
    assert "DataUnionInsufficientEarnings" in refused.json()["error"]["message"]

    for headers in (
        {"Authorization": operator_token},
        {"Authorization": f"Bearer {operator_token}!"},
        {"Authorization": f"Bearer {key}"},
    ):
        call("POST", "/v1/epochs/close", 401, headers=headers)
    pasted = [
        {"contributions": [item(alice, "c", member=operator_token)]},
        {"contributions": [item(alice, "d", data_type=operator_token)]},
        {"contributions": [item(alice, "e", content_hash=operator_token)]},
        {"contributions": [item(alice, "f", signature=key)]},
        {"contributions": [item(alice, "g", operator_token=operator_token)]},
    ]
    for body in pasted:
        call("POST", "/v1/contributions", 422, json=body, headers=operator_headers)
    call("POST", "/v1/claims", 422, json={**claim, "signature": key})
    call("POST", "/v1/claims", 422, json={**claim, "amount": operator_token})
    call(
        "POST",
        "/v1/contributions",
        422,
        content=f'{{"contributions": [{operator_token}]}}',
        headers={**operator_headers, "content-type": "application/json"},
    )

    logged = [record.getMessage() for record in caplog.records]
    assert any(f"epoch {number} closed" in line for line in logged)
    assert any("eth_sendRawTransaction" in line for line in logged)  # the node's traffic too
    assert any(r.levelno == logging.DEBUG and r.name.startswith("relayer") for r in caplog.records)
    secrets = secrets_of(operator_token, relayer_account)
    assert_free_of(caplog.text, secrets, "the captured log")
    for line in logged:
        assert_free_of(line, secrets, f"a log record: {line[:80]}")
    for response in responses:
        assert_free_of(response.text, secrets, f"the response to {response.request.url}")
        assert_free_of(str(response.headers), secrets, f"the headers of {response.request.url}")


def test_settings_and_context_never_show_a_secret(
    settings, context, operator_token, relayer_account
):
    secrets = secrets_of(operator_token, relayer_account)
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(context),
        str(context),
    ):
        assert_free_of(shown, secrets, shown[:60])
    assert context.settings.operator_token.get_secret_value() == operator_token  # still usable
