"""The README's recipe for a real network, followed on the test chain: a network added with
`brownie networks add` (a live network to brownie, so the scripts ask, need every parameter and
sign only with a keystore alias), a key imported into a brownie keystore, and `brownie run
scripts/…` from the command line. Brownie runs with a throw-away HOME, so the recipe touches
nobody's network list or keystore."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import DataUnion, chain, web3
from eth_account import Account

from scripts.helpers import ROOT

BROWNIE = str(Path(sys.executable).with_name("brownie"))
PASSWORD = "correct horse battery"


@pytest.fixture
def operator():
    """A fresh key with gas money: the operator's, imported into brownie's keystore below."""
    account = Account.create()
    web3.provider.make_request("anvil_setBalance", [account.address, hex(10**18)])
    return account


@pytest.fixture
def cli(tmp_path, operator):
    """Run `brownie …` with its own HOME; returns (exit status, output).

    On a live network brownie keeps what it deploys under build/deployments/<chain id>; the
    test chain is reverted after each test, so those records go with it."""
    records = ROOT / "build" / "deployments" / str(chain.id)
    shutil.rmtree(records, ignore_errors=True)
    home = tmp_path / "home"
    home.mkdir()
    environment = {**os.environ, "HOME": str(home), "UNION_DEPLOYMENT": str(tmp_path / "d.json")}

    def run(*arguments, stdin=None, **variables):
        finished = subprocess.run(
            [BROWNIE, *arguments],
            input=stdin,
            cwd=ROOT,
            env={**environment, **variables},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        return finished.returncode, finished.stdout + finished.stderr

    rpc = web3.provider.endpoint_uri
    for name, chain_id in (("union-test", chain.id), ("mislabelled", 1)):
        status, output = run(
            "networks", "add", "Ethereum", name, f"host={rpc}", f"chainid={chain_id}"
        )
        assert status == 0, output
    keystore = tmp_path / "operator.json"
    keystore.write_text(json.dumps(Account.encrypt(operator.key, PASSWORD)))
    status, output = run("accounts", "import", "operator", str(keystore), stdin=PASSWORD + "\n")
    assert status == 0, output
    yield run
    shutil.rmtree(records, ignore_errors=True)


@pytest.fixture
def parameters(stablecoin, operator, attester, fee_recipient):
    return {
        "UNION_TOKEN": stablecoin.address,
        "UNION_ADMIN": operator.address,
        "UNION_ATTESTER": attester.address,
        "UNION_PAUSER": operator.address,
        "UNION_GUARDIAN": operator.address,
        "UNION_FEE_RECIPIENT": fee_recipient.address,
        "UNION_FEE_BPS": "500",
        "UNION_FEE_DELAY": "172800",
        "UNION_ATTRIBUTION_DELAY": "86400",
        "UNION_ACCOUNT": "operator",
        "UNION_ACCOUNT_PASSWORD": PASSWORD,
    }


def test_operator_deploys_pauses_and_reads_status_with_brownie_run(
    cli, tmp_path, parameters, operator, attester
):
    status, output = cli(
        "run", "scripts/deploy.py", "--network", "union-test", UNION_YES="1", **parameters
    )
    assert status == 0, output
    assert (
        f"Deploying a DataUnion on 'union-test' (chain {chain.id}) from {operator.address}"
        in output
    )
    record = json.loads((tmp_path / "d.json").read_text())
    union = DataUnion.at(record["union"])
    assert union.hasRole(union.ATTESTER_ROLE(), attester)
    assert union.ATTRIBUTION_DELAY() == 86_400 == record["attributionDelay"]
    assert record["network"] == "union-test"

    status, output = cli(
        "run", "scripts/pause.py", "pause", "--network", "union-test", UNION_YES="1", **parameters
    )
    assert status == 0, output
    assert union.paused()

    status, output = cli("run", "scripts/status.py", "--network", "union-test")
    assert status == 0, output
    assert "paused            True" in output
    assert "attribution delay 86,400 s (24 h)" in output
    assert "solvent" in output


def test_live_deploy_without_a_yes_sends_nothing(cli, tmp_path, parameters, operator):
    status, output = cli("run", "scripts/deploy.py", "--network", "union-test", **parameters)

    assert status != 0
    assert "needs a yes" in output
    assert "fee             500 bps (5%)" in output  # the plan was shown
    assert web3.eth.get_transaction_count(operator.address) == 0
    assert not (tmp_path / "d.json").exists()


def test_live_deploy_refuses_a_fee_above_the_cap(cli, tmp_path, parameters, operator):
    status, output = cli(
        "run",
        "scripts/deploy.py",
        "--network",
        "union-test",
        **{**parameters, "UNION_FEE_BPS": "2500", "UNION_YES": "1"},
    )

    assert status != 0
    assert "error: fee must be between 0 and 2000, got 2500" in output
    assert web3.eth.get_transaction_count(operator.address) == 0


def test_live_network_needs_a_keystore_alias_not_an_address(cli, parameters, operator):
    status, output = cli(
        "run",
        "scripts/deploy.py",
        "--network",
        "union-test",
        **{**parameters, "UNION_ACCOUNT": operator.address, "UNION_YES": "1"},
    )

    assert status != 0
    assert "it must name a brownie account alias" in output
    assert web3.eth.get_transaction_count(operator.address) == 0


def test_network_added_with_another_chain_id_is_refused(cli, tmp_path, parameters, operator):
    status, output = cli(
        "run", "scripts/deploy.py", "--network", "mislabelled", UNION_YES="1", **parameters
    )

    assert status != 0
    assert f"was added with chain id 1, but its node serves chain {chain.id}" in output
    assert web3.eth.get_transaction_count(operator.address) == 0
