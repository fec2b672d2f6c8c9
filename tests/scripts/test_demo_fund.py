"""scripts/demo_fund: another buyer on the demo's local chain gets ether for gas and mock
stablecoins without a key, and a chain that is not a local one is refused."""

import json
import subprocess
import sys

from brownie import web3
from eth_account import Account

from scripts.helpers import ROOT


def fund(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "scripts.demo_fund", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_new_buyer_gets_gas_and_stablecoins_and_can_spend_them(stablecoin, union, tmp_path):
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({"token": stablecoin.address, "tokenSymbol": "mUSD"}))
    buyer = Account.create()

    done = fund(
        buyer.address.lower(),
        "--eth",
        "2",
        "--tokens",
        "12.5",
        "--rpc",
        web3.provider.endpoint_uri,
        "--deployment",
        str(deployment),
    )

    assert done.returncode == 0, done.stderr
    assert web3.eth.get_balance(buyer.address) == 2 * 10**18
    assert stablecoin.balanceOf(buyer.address) == 12_500_000  # 6 decimals
    assert f"{buyer.address}: 2 ETH" in done.stdout


def test_a_malformed_address_is_refused():
    done = fund("0x1234", "--rpc", web3.provider.endpoint_uri)
    assert done.returncode != 0
    assert "not an address" in done.stderr
