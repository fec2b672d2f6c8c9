"""GET /v1/union: what a wallet or the member page needs to talk to the union directly."""

from fastapi.testclient import TestClient

from fixtures.tokens import deploy_token
from fixtures.union import deploy_union
from relayer.api.app import create_app
from relayer.attribution import DEFAULT_RATES
from relayer.context import Context


def test_union_names_the_chain_the_contract_and_the_permit_domain_of_its_token(
    api, union, stablecoin
):
    response = api.get("/v1/union")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "chain_id": api.app.state.context.settings.chain_id,
        "union": union.address,
        "token": {
            "address": stablecoin.address,
            "name": "Mock USD",
            "symbol": "mUSD",
            "decimals": 6,
            "permit": {"name": "Mock USD", "version": "1"},
        },
        "data_types": sorted(DEFAULT_RATES),
        "network": None,
        "claim_policy": {
            "relayer": api.app.state.context.signer.address,
            "min_amount": "10000",
            "max_per_member_per_day": 10,
            "daily_gas_budget": str(5 * 10**17),
            "gas_committed": "0",
        },
    }


def test_union_offers_its_network_to_wallets_when_a_public_rpc_is_configured(settings):
    offered = settings.model_copy(
        update={"public_rpc_url": "https://rpc.example/v1", "gas_currency": "POL"}
    )
    context = Context.from_settings(offered)
    try:
        with TestClient(create_app(context)) as client:
            network = client.get("/v1/union").json()["network"]
    finally:
        context.close()
    assert network == {
        "chain_name": f"Chain {settings.chain_id}",
        "rpc_url": "https://rpc.example/v1",
        "gas_currency": "POL",
    }


def test_union_offers_no_permit_when_the_token_declares_no_eip712_domain(
    settings, admin, attester, pauser, fee_recipient
):
    token = deploy_token("no_return", admin)
    plain = deploy_union(token, admin, attester, pauser, fee_recipient)
    context = Context.from_settings(settings.model_copy(update={"contract_address": plain.address}))
    try:
        with TestClient(create_app(context)) as client:
            token_info = client.get("/v1/union").json()["token"]
    finally:
        context.close()
    assert token_info["address"] == token.address
    assert token_info["permit"] is None
