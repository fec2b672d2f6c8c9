"""`relayer watch`, run as an outsider runs it: a process of its own given only an RPC URL, the
union's address and a report source (files here; the relayer's HTTP route in test_drill.py), and
for the veto the guardian's key in its environment. Every way a report can disagree with the
chain is caught: it alarms (error log line, status file, exit 1 for --once) and vetoes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import brownie
import pytest
import requests
from brownie import chain
from web3 import Web3

from fixtures.accounts import local_account
from fixtures.union import grant_delayed_role, wait_until
from relayer.attribution import (
    DEFAULT_PARAMETERS,
    ContributionInput,
    build_report,
    canonical,
    report_hash,
)
from relayer.chain import UnionChain
from relayer.watch_io import ReportSource, StatusBoard
from relayer.watcher import Watcher

RELAYER = Path(sys.executable).with_name("relayer")
GUARDIAN_ROLE = Web3.keccak(text="GUARDIAN_ROLE")
MARGIN = 600
SECRET = "sk-watch-test-0123456789"


@pytest.fixture(scope="module")
def watch_guardian(union, admin):
    """The watcher's own guardian key (the guardian role is granted after the delay)."""
    account = local_account("watcher guardian")
    admin.transfer(account, "1 ether")
    grant_delayed_role(union, GUARDIAN_ROLE, account, admin)
    return account


def report(union, epoch, members, records=(300, 100)):
    """An honest report for `members`: health records, full quality, no uniqueness."""
    contributions = [
        ContributionInput(m.address, "health", n, 1_000_000, 0)
        for m, n in zip(members, records, strict=True)
    ]
    built = build_report(
        chain_id=chain.id,
        union=union.address,
        epoch=epoch,
        contributions=contributions,
        params=DEFAULT_PARAMETERS,
    )
    return canonical(built)


def table(raw):
    return {m["address"]: int(m["shares"]) for m in json.loads(raw)["members"]}


def post(union, attester, epoch, raw, shares, digest=None):
    digest = digest or report_hash(raw)
    union.postAttribution(
        epoch, bytes.fromhex(digest[2:]), list(shares), list(shares.values()), {"from": attester}
    )


def watch(union, reports, tmp_path, *args, guardian=None, rpc_url=None, source=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
    if guardian is not None:
        env["RELAYER_WATCH_GUARDIAN_KEY"] = guardian.private_key
    command = [
        str(RELAYER),
        "-v",
        "watch",
        "--once",
        "--rpc-url",
        rpc_url or brownie.web3.provider.endpoint_uri,
        "--union",
        union.address,
        "--reports",
        source or str(reports / "epoch-{epoch}.json"),
        "--status-file",
        str(tmp_path / "status.json"),
        "--margin",
        str(MARGIN),
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def status(tmp_path):
    return json.loads((tmp_path / "status.json").read_text())


def state(union):
    return [int(v) for v in union.attributionState()]


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


def test_an_honest_epoch_passes_and_is_finished_once_due(
    union, attester, watch_guardian, alice, bob, reports, tmp_path
):
    raw = report(union, 1, [alice, bob])
    (reports / "epoch-1.json").write_bytes(raw)
    post(union, attester, 1, raw, table(raw))

    early = watch(union, reports, tmp_path, "--finish", guardian=watch_guardian)

    assert early.returncode == 0, early.stderr
    assert "ALARM" not in early.stderr
    checked = status(tmp_path)
    assert (checked["alarm"], checked["state"]) == (False, "ok")
    assert [(e["epoch"], e["result"], e["state"]) for e in checked["epochs"]] == [
        (1, "ok", "pending")
    ]
    assert state(union)[:2] == [1, 1]

    wait_until(state(union)[2])
    done = watch(union, reports, tmp_path, "--finish", guardian=watch_guardian)

    assert done.returncode == 0, done.stderr
    assert state(union)[:2] == [1, 0]
    assert not union.attributionInProgress()
    assert status(tmp_path)["epochs"][0]["finish_tx"] is not None


MISMATCHES = [
    "wrong hash",
    "one share off",
    "extra address",
    "report missing",
    "source down near the due time",
]
#: A report source that never answers: nothing listens on port 9 of the loopback.
DOWN = "http://127.0.0.1:9/v1/epochs/{epoch}/report"


@pytest.mark.parametrize("mismatch", MISMATCHES)
def test_a_report_that_disagrees_with_the_chain_is_vetoed_with_an_alarm(
    union, attester, watch_guardian, alice, bob, rando, reports, tmp_path, mismatch
):
    raw = report(union, 1, [alice, bob])
    shares = table(raw)
    served, digest = raw, None
    if mismatch == "wrong hash":  # a report that verifies, but is not the one on-chain
        served = report(union, 1, [alice, bob], records=(300, 101))
    elif mismatch == "one share off":
        shares[alice.address] += 1
    elif mismatch == "extra address":
        shares[rando.address] = 99 * sum(shares.values())
    if mismatch not in ("report missing", "source down near the due time"):
        (reports / "epoch-1.json").write_bytes(served)
    post(union, attester, 1, raw, shares, digest)
    source = None
    if mismatch == "source down near the due time":  # still down when the veto must go out
        wait_until(state(union)[2] - MARGIN + 60)
        source = DOWN

    done = watch(union, reports, tmp_path, guardian=watch_guardian, source=source)

    assert done.returncode == 1, done.stderr
    expected = {
        "wrong hash": "hash_mismatch",
        "one share off": "shares_mismatch",
        "extra address": "shares_outside_report",
        "report missing": "report_unavailable",
        "source down near the due time": "report_unavailable",
    }[mismatch]
    alarm = [line for line in done.stderr.splitlines() if "ERROR" in line and "ALARM" in line]
    assert any(expected in line for line in alarm), done.stderr
    assert state(union)[:2] == [1, 2]  # vetoed
    watched = status(tmp_path)
    assert (watched["alarm"], watched["state"]) == (True, "alarm")
    (epoch,) = watched["epochs"]
    assert (epoch["epoch"], epoch["result"], epoch["state"]) == (1, "mismatch", "vetoed")
    assert epoch["veto_tx"] is not None
    assert any(p.startswith(expected) for p in epoch["problems"])
    receipt = brownie.web3.eth.get_transaction_receipt(epoch["veto_tx"])
    assert receipt["from"] == watch_guardian.address
    wait_until(state(union)[2])
    with brownie.reverts():
        union.finishAttribution(1, {"from": rando})
    assert union.attributionInProgress()  # never in force; revenue stays held


def test_without_the_guardian_key_the_watcher_alarms_but_cannot_veto(
    union, attester, alice, bob, rando, reports, tmp_path
):
    raw = report(union, 1, [alice, bob])
    (reports / "epoch-1.json").write_bytes(raw)
    post(union, attester, 1, raw, {**table(raw), rando.address: 10**15})

    done = watch(union, reports, tmp_path)

    assert done.returncode == 1
    assert "no guardian key given" in done.stderr
    assert state(union)[:2] == [1, 1]
    assert status(tmp_path)["alarm"] is True


def test_a_source_that_does_not_answer_is_retried_not_vetoed_while_the_due_time_is_far(
    union, attester, watch_guardian, alice, bob, reports, tmp_path
):
    raw = report(union, 1, [alice, bob])
    post(union, attester, 1, raw, table(raw))

    done = watch(union, reports, tmp_path, guardian=watch_guardian, source=DOWN)

    assert done.returncode == 3, done.stderr
    assert state(union)[:2] == [1, 1]
    assert status(tmp_path)["epochs"][0]["result"] == "waiting"


def test_a_missing_report_waits_out_the_grace_given_for_a_mirror_to_sync(
    union, attester, watch_guardian, alice, bob, reports, tmp_path
):
    raw = report(union, 1, [alice, bob])
    post(union, attester, 1, raw, table(raw))

    early = watch(union, reports, tmp_path, "--missing-grace", "300", guardian=watch_guardian)

    assert early.returncode == 3, early.stderr
    assert state(union)[:2] == [1, 1]
    wait_until(state(union)[2] - union.ATTRIBUTION_DELAY() + 301)
    late = watch(union, reports, tmp_path, "--missing-grace", "300", guardian=watch_guardian)
    assert late.returncode == 1, late.stderr
    assert state(union)[:2] == [1, 2]


def test_the_rpc_url_and_the_guardian_key_never_reach_the_output(
    union, attester, watch_guardian, alice, bob, rando, reports, tmp_path
):
    raw = report(union, 1, [alice, bob])
    (reports / "epoch-1.json").write_bytes(raw)
    post(union, attester, 1, raw, {**table(raw), rando.address: 1})
    rpc_url = f"{brownie.web3.provider.endpoint_uri}/?apikey={SECRET}"

    done = watch(union, reports, tmp_path, guardian=watch_guardian, rpc_url=rpc_url)

    assert done.returncode == 1, done.stderr
    assert state(union)[:2] == [1, 2]
    everything = done.stdout + done.stderr + (tmp_path / "status.json").read_text()
    assert SECRET not in everything
    assert watch_guardian.private_key.removeprefix("0x") not in everything
    assert "127.0.0.1" in done.stderr  # the host is shown, the rest is not


def test_the_status_endpoint_on_loopback_answers_503_while_in_alarm_and_200_when_all_agree(
    union, attester, alice, bob, rando, reports
):
    raw = report(union, 1, [alice, bob])
    (reports / "epoch-1.json").write_bytes(raw)
    board = StatusBoard(port=0)
    try:
        watcher = Watcher(
            UnionChain(brownie.web3, union.address),
            ReportSource(str(reports / "epoch-{epoch}.json")),
            status=board,
            from_block=0,
        )
        post(union, attester, 1, raw, table(raw))
        watcher.poll()
        healthy = requests.get(f"http://127.0.0.1:{board.port}/status", timeout=10)
        assert (healthy.status_code, healthy.json()["alarm"]) == (200, False)

        union.postAttribution(
            1, bytes.fromhex(report_hash(raw)[2:]), [rando], [1], {"from": attester}
        )
        watcher.poll()
        alarmed = requests.get(f"http://127.0.0.1:{board.port}/status", timeout=10)
        assert (alarmed.status_code, alarmed.json()["alarm"]) == (503, True)
        assert alarmed.json()["epochs"][0]["problems"][0].startswith("shares_outside_report")
    finally:
        board.close()
