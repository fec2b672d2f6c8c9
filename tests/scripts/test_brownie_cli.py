"""The README's recipe for a real network, followed on the test chain: a network added with
`brownie networks add`, then `brownie run scripts/…` from the command line. Brownie runs with a
throw-away HOME, so the recipe touches nobody's network list."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import DataUnion, web3

from scripts.helpers import ROOT

BROWNIE = str(Path(sys.executable).with_name("brownie"))


@pytest.fixture
def cli(tmp_path):
    """Run `brownie …` with its own HOME; returns (exit status, output).

    On a live network brownie keeps what it deploys under build/deployments/<chain id>; the
    test chain is reverted after each test, so those records go with it."""
    records = ROOT / "build" / "deployments" / "31337"
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
    status, output = run(
        "networks", "add", "Ethereum", "union-test", f"host={rpc}", "chainid=31337"
    )
    assert status == 0, output
    yield run
    shutil.rmtree(records, ignore_errors=True)


def test_operator_runs_the_scripts_with_brownie_run_on_an_added_network(
    cli, tmp_path, admin, attester, pauser, fee_recipient
):
    roles = {
        "UNION_ADMIN": admin.address,
        "UNION_ATTESTER": attester.address,
        "UNION_PAUSER": admin.address,
        "UNION_FEE_RECIPIENT": fee_recipient.address,
    }

    status, output = cli(
        "run", "scripts/deploy.py", "--network", "union-test", UNION_ACCOUNT=admin.address, **roles
    )
    assert status == 0, output
    record = json.loads((tmp_path / "d.json").read_text())
    union = DataUnion.at(record["union"])
    assert union.hasRole(union.ATTESTER_ROLE(), attester)

    status, output = cli(
        "run", "scripts/pause.py", "pause", "--network", "union-test", UNION_ACCOUNT=admin.address
    )
    assert status == 0, output
    assert union.paused()

    status, output = cli("run", "scripts/status.py", "--network", "union-test")
    assert status == 0, output
    assert "paused            True" in output
    assert "solvent" in output


def test_brownie_run_reports_a_refusal_and_fails(cli, tmp_path, rando):
    status, output = cli(
        "run",
        "scripts/deploy.py",
        "--network",
        "union-test",
        UNION_ACCOUNT=rando.address,
        UNION_FEE_BPS="2500",
    )

    assert status != 0
    assert "error: fee must be between 0 and 2000, got 2500" in output
    assert not (tmp_path / "d.json").exists()


def test_operator_signs_with_a_brownie_account_alias(cli, tmp_path, admin, attester, rando):
    from eth_account import Account

    status, output = cli(
        "run", "scripts/deploy.py", "--network", "union-test", UNION_ACCOUNT=admin.address
    )
    assert status == 0, output
    union = DataUnion.at(json.loads((tmp_path / "d.json").read_text())["union"])
    guardian = Account.create()
    keystore = tmp_path / "guardian.json"
    keystore.write_text(json.dumps(Account.encrypt(guardian.key, "correct horse battery")))
    status, output = cli(
        "accounts", "import", "guardian", str(keystore), stdin="correct horse battery\n"
    )
    assert status == 0, output
    union.grantRole(union.PAUSER_ROLE(), guardian.address, {"from": admin})
    web3.provider.make_request("anvil_setBalance", [guardian.address, hex(10**18)])

    status, output = cli(
        "run",
        "scripts/pause.py",
        "pause",
        "--network",
        "union-test",
        UNION_ACCOUNT="guardian",
        UNION_ACCOUNT_PASSWORD="correct horse battery",
    )

    assert status == 0, output
    assert union.paused()
    assert web3.eth.get_transaction_count(guardian.address) == 1
