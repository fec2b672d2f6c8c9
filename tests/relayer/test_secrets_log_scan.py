"""A log scan: the relayer run as an operator runs it — `relayer serve` and CLI commands, each a
process of its own, at verbose logging — with a sentinel in its RPC URL's path and query, in its
operator token and in its keystore's password, driven through a node that fails (HTTP 503,
dropped connections, down), bad tokens, bad requests and a start-up that cannot reach the node.
None of the sentinels, nor the key, may appear in any output or in any response body."""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import brownie
import httpx
import pytest
from eth_account import Account

from fixtures.api import contribution
from fixtures.relayer import free_port

RELAYER = Path(sys.executable).with_name("relayer")
PATH_SENTINEL = "pathsentinel" + secrets.token_hex(8)
QUERY_SENTINEL = "querysentinel" + secrets.token_hex(8)
PASSWORD_SENTINEL = "pwsentinel" + secrets.token_hex(8)


@pytest.fixture
def node(fault_proxy):
    """The fault proxy, which serves any path, as providers do (/v3/<key>)."""
    return fault_proxy


def rpc_url(node):
    return f"{node.url}/v3/{PATH_SENTINEL}?apikey={QUERY_SENTINEL}"


@pytest.fixture
def env(node, union, relayer_account, tmp_path, operator_token):
    keystore = tmp_path / "relayer-keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(relayer_account.private_key, PASSWORD_SENTINEL)))
    values = {name: value for name, value in os.environ.items() if not name.startswith("RELAYER_")}
    values.update(
        RELAYER_RPC_URL=rpc_url(node),
        RELAYER_CHAIN_ID=str(brownie.chain.id),
        RELAYER_CONTRACT_ADDRESS=union.address,
        RELAYER_DATABASE_URL=f"sqlite:///{tmp_path / 'relayer.db'}",
        RELAYER_KEYSTORE_FILE=str(keystore),
        RELAYER_KEYSTORE_PASSWORD=PASSWORD_SENTINEL,
        RELAYER_OPERATOR_TOKEN=operator_token,
        RELAYER_CONFIRMATIONS="0",
        RELAYER_POLL_INTERVAL="0.1",
        PYTHONUNBUFFERED="1",
    )
    return values


def run(env, *args, timeout=120):
    return subprocess.run(
        [str(RELAYER), "-v", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_until_up(url, process, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            pytest.fail(f"relayer serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/v1/epochs", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("relayer serve did not come up")


def test_no_secret_reaches_any_output_or_response_of_a_real_relayer(
    env, node, operator_token, relayer_account, alice, bob
):
    sentinels = {
        "RPC URL path": PATH_SENTINEL,
        "RPC URL query": QUERY_SENTINEL,
        "operator token": operator_token,
        "keystore password": PASSWORD_SENTINEL,
        "key": relayer_account.private_key.lower().removeprefix("0x"),
    }
    outputs = []
    upgraded = run(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    outputs += [upgraded.stdout, upgraded.stderr]

    # Start-up against a node that is down, and with a wrong keystore password.
    down = {**env, "RELAYER_RPC_URL": f"http://127.0.0.1:{free_port()}/v3/{PATH_SENTINEL}"}
    failed = run(down, "epoch", "close")
    assert failed.returncode != 0
    assert "cannot reach the chain at http://127.0.0.1:" in failed.stderr
    outputs += [failed.stdout, failed.stderr]
    wrong = run(
        {**env, "RELAYER_KEYSTORE_PASSWORD": "wrong-" + PASSWORD_SENTINEL}, "index", "--once"
    )
    assert wrong.returncode != 0
    outputs += [wrong.stdout, wrong.stderr]

    port = free_port()
    serve = subprocess.Popen(
        [str(RELAYER), "-v", "serve", "--port", str(port), "--access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    bodies = []
    try:
        wait_until_up(url, serve)
        op = {"Authorization": f"Bearer {operator_token}"}
        with httpx.Client(base_url=url, timeout=30) as client:

            def call(method, path, **kwargs):
                response = client.request(method, path, **kwargs)
                bodies.append(response.text)
                return response

            item = {"contributions": [contribution(alice, "scan a"), contribution(bob, "scan b")]}
            assert call("POST", "/v1/contributions", json=item, headers=op).status_code == 201
            for headers in (
                {"Authorization": operator_token},
                {"Authorization": f"Bearer {operator_token}x"},
                {"Authorization": f"Bearer {PASSWORD_SENTINEL}"},
            ):
                assert call("POST", "/v1/epochs/close", headers=headers).status_code == 401
            pasted = {"contributions": [contribution(alice, "x", member=operator_token)]}
            assert call("POST", "/v1/contributions", json=pasted, headers=op).status_code == 422
            assert call("GET", f"/v1/members/{PASSWORD_SENTINEL}").status_code == 422

            for mode in ("503", "drop"):
                node.mode = mode
                time.sleep(1.5)  # the indexer and the outbox loop meet the failure and retry
                read = call("GET", f"/v1/members/{alice.address}")
                assert read.status_code in (502, 503), read.text
                closing = call("POST", "/v1/epochs/close", headers=op)
                assert closing.status_code in (502, 503), closing.text
            node.mode = "pass"
            time.sleep(1)

            closed = call("POST", "/v1/epochs/close", headers=op)
            assert closed.status_code == 202, closed.text
            number = closed.json()["number"]
            end = time.monotonic() + 60
            while call("GET", f"/v1/epochs/{number}").json()["status"] != "pending":
                assert time.monotonic() < end, "the epoch was not posted (pending)"
                time.sleep(0.2)
    finally:
        serve.terminate()
        try:
            served, _ = serve.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            served, _ = serve.communicate()
    outputs.append(served)
    # The failures were met and logged.
    assert "indexer: " in served
    assert "retrying" in served

    status = run(env, "epoch", "status", str(number))
    assert status.returncode == 0, status.stderr
    indexed = run(env, "index", "--once")
    assert indexed.returncode == 0, indexed.stderr
    outputs += [status.stdout, status.stderr, indexed.stdout, indexed.stderr]

    for text in outputs + bodies:
        lowered = text.lower()
        for name, sentinel in sentinels.items():
            assert sentinel.lower() not in lowered, f"the {name} leaked: {text[-2000:]}"
