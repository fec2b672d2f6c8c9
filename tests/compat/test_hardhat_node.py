"""The union and the relayer on a second EVM implementation: Hardhat Network (EDR), from the npm
registry, with interval mining (a block every second, never on a transaction) and cancun rules.

One story, as on anvil: deploy, contributions, an epoch closed and posted, a deposit, a direct
claim, a gasless claim relayed by the relayer, and the indexer following it all. Everything is
sent as signed raw transactions from well-known Hardhat development keys, so nothing depends on
the node's own accounts or on brownie. `make compat` runs this file alone.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from eth_account import Account
from fastapi.testclient import TestClient
from web3 import Web3

from fixtures.api import contribution
from fixtures.evm import KEYS, Wallet
from fixtures.postgres import free_loopback_port
from relayer import eip712, epochs, lifecycle, migrate
from relayer.api.app import create_app
from relayer.context import Context
from relayer.db import ChainEvent
from relayer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"
CONFIG = Path(__file__).with_name("hardhat.config.js")
CHAIN_ID = 31337
BLOCK_SECONDS = 1
TOKEN = 10**6

pytestmark = pytest.mark.skipif(not HARDHAT.exists(), reason="hardhat is not installed (npm ci)")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """`hardhat node` on a free loopback port, mining a block every second."""
    port = free_loopback_port()
    workdir = tmp_path_factory.mktemp("hardhat")
    log = (workdir / "node.log").open("w")
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    process = subprocess.Popen(
        # Run from the project, whose node_modules holds hardhat (it refuses a global one).
        [
            str(HARDHAT),
            "--config",
            str(CONFIG),
            "node",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    deadline = time.monotonic() + 60
    while True:
        try:
            if w3.eth.chain_id == CHAIN_ID:
                break
        except requests.exceptions.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"hardhat node did not start: {(workdir / 'node.log').read_text()}")
        time.sleep(0.25)
    yield w3, url
    process.terminate()
    process.wait(10)
    log.close()


def wait_for_block_after(w3, number, timeout=10):
    deadline = time.monotonic() + timeout
    while w3.eth.block_number <= number:
        assert time.monotonic() < deadline, "the node stopped mining"
        time.sleep(0.1)


def test_deploy_epoch_deposit_claims_and_index_on_hardhat_with_interval_mining(node, tmp_path):
    w3, url = node
    admin, relayer, alice, bob, buyer = (Wallet(w3, key) for key in KEYS)
    assert w3.eth.get_block("latest").get("baseFeePerGas") is not None

    # Interval mining: a transaction does not make a block by itself.
    before = w3.eth.block_number
    time.sleep(BLOCK_SECONDS * 2.5)
    assert w3.eth.block_number >= before + 2

    token = admin.deploy("MockStablecoin")
    union = admin.deploy_union(token, relayer)
    started_at = w3.eth.get_block("latest")["number"]
    database_url = f"sqlite:///{tmp_path / 'relayer.db'}"
    migrate.upgrade(database_url)
    settings = Settings(
        rpc_url=url,
        chain_id=CHAIN_ID,
        contract_address=union.address,
        start_block=started_at - 2,
        database_url=database_url,
        private_key=KEYS[1],
        operator_token="compat-" + "9f3c2a7b4e1d6f80" * 3,
        confirmations=1,
        poll_interval=0.2,
        tx_timeout=20,
        confirm_timeout=60,
        read_cache_seconds=0,
    )
    context = Context.from_settings(settings)
    operator = {"Authorization": f"Bearer {settings.operator_token.get_secret_value()}"}
    with TestClient(create_app(context)) as api:
        # Contributions and an epoch, posted by the relayer's own sender.
        batch = {
            "contributions": [
                contribution(alice.address, "alice-1", records=300),
                contribution(bob.address, "bob-1", records=100),
            ]
        }
        assert api.post("/v1/contributions", json=batch, headers=operator).status_code == 201
        with context.db.session() as session:
            number = epochs.close(session, context.chain, context.outbox, context.settings).number
        posted = epochs.post(context.db, context.outbox, number)
        assert posted.status == "pending", posted.error
        # The epoch waits out the attribution delay: move the node's clock, then finish it.
        w3.provider.make_request("evm_increaseTime", [3600])
        w3.provider.make_request("evm_mine", [])
        finished = lifecycle.finish(context.db, context.chain, context.outbox, number)
        assert finished == "finished"
        assert (
            union.functions.sharesOf(alice.address).call()
            == 3 * union.functions.sharesOf(bob.address).call()
        )

        # A deposit, split by the posted shares.
        buyer.call(token, "mint", buyer.address, 1_000 * TOKEN)
        buyer.call(token, "approve", union.address, 1_000 * TOKEN)
        buyer.call(union, "deposit", 1_000 * TOKEN, b"compat-license".ljust(32, b"\0"))
        earned_alice = union.functions.claimable(alice.address).call()
        earned_bob = union.functions.claimable(bob.address).call()
        assert earned_alice + earned_bob > 0.94 * 1_000 * TOKEN  # the 5% fee aside, minus dust

        # A direct claim from alice's wallet.
        alice.call(union, "claim", alice.address, 2**256 - 1)
        assert token.functions.balanceOf(alice.address).call() == earned_alice

        # A gasless claim: bob signs, the relayer sends and pays.
        deadline = w3.eth.get_block("latest")["timestamp"] + 3600
        message = {
            "member": bob.address,
            "to": bob.address,
            "amount": earned_bob,
            "nonce": 0,
            "deadline": deadline,
        }
        document = eip712.typed_data(CHAIN_ID, union.address, "Claim", message)
        signature = Account.sign_typed_data(bob.account.key, full_message=document).signature
        body = {**message, "amount": str(earned_bob), "signature": "0x" + signature.hex()}
        del body["nonce"]
        accepted = api.post("/v1/claims", json=body)
        assert accepted.status_code == 202, accepted.text
        assert api.post("/v1/claims", json=body).status_code == 200  # the record, not a resend
        [done] = context.outbox.confirm_pending()
        assert done.status == "confirmed", done.error
        assert token.functions.balanceOf(bob.address).call() == earned_bob
        claim = api.get(f"/v1/claims/{accepted.json()['id']}").json()
        assert claim["status"] == "confirmed"
        assert w3.eth.get_transaction(claim["tx_hash"])["from"] == relayer.address

        # The indexer follows it all, one block behind the head.
        wait_for_block_after(w3, done.block_number + 1)
        context.indexer.run_once()
        with context.db.session() as session:
            names = [e.name for e in session.query(ChainEvent).order_by(ChainEvent.id)]
        assert names.count("SharesSet") == 2
        assert names.count("RevenueDeposited") == 1
        assert names.count("Claimed") == 2
        member = api.get(f"/v1/members/{bob.address}").json()
        assert member["claimed"]["units"] == str(earned_bob)
    context.close()
