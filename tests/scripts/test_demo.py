"""`make demo`'s program, run whole as a subprocess on its own anvil chain and relayer, so the
main job cannot rot: it must exit 0 with every figure reconciled, and leave its outputs."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys

from relayer.attribution import verify_report
from scripts.helpers import ROOT


def run_demo(*arguments, timeout=300):
    """The demo in its own process group, so a timeout stops its chain and relayer too."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo", "--port", "0", "--relayer-port", "0", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return process.returncode, output


def test_demo_runs_end_to_end_and_every_figure_reconciles(tmp_path):
    output = tmp_path / "demo-output"

    status, printed = run_demo("--output", str(output))

    assert status == 0, printed[-6000:]
    assert "every figure reconciles" in printed
    summary = json.loads((output / "summary.json").read_text())
    assert summary["ok"] is True
    assert len(summary["checks"]) == 14
    assert all(check["ok"] for check in summary["checks"])
    assert len(summary["members"]) == 20
    assert [d["method"] for d in summary["deposits"]] == [
        "permit",
        "approve",
        "transfer",
        "approve",
    ]
    assert "the watcher, from the chain and the reports alone" in summary["checks"][-1]["check"]
    assert "pending until" in printed
    assert "evm_increaseTime" in printed
    assert (output / "earnings_by_type.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for epoch in summary["epochs"]:
        report = (output / f"epoch-{epoch['number']}-report.json").read_bytes()
        assert verify_report(report).report_hash == epoch["report_hash"] == epoch["hash_on_chain"]
    # A buyer's key for a wallet, and how to fund another buyer.
    for name in ("Helix Labs", "Shopwise", "Cartograph"):
        assert re.search(rf"{name} +0x[0-9a-fA-F]{{40}} (0x)?[0-9a-f]{{64}}", printed), name
    assert "python -m scripts.demo_fund 0xTheirAddress --rpc http://127.0.0.1:" in printed
    # The relayer's own database: 20 first contributions, 3 more, the deleted member's 1 gone.
    with sqlite3.connect(output / "relayer.db") as db:
        assert db.execute("SELECT COUNT(*) FROM contributions").fetchone() == (22,)
    # The short run of a root-mode union: reconciled too, one claim made with the relayer gone.
    roots = json.loads((output / "roots" / "roots.json").read_text())
    assert roots["ok"] is True
    assert len(roots["members"]) == 6
    assert 0 <= roots["solvent_by"] <= len(roots["members"])
    assert "with the relayer stopped: proof rebuilt from epoch-2-report.json" in printed
    assert roots["root_gas"][1] <= 150_000  # a later epoch: one root, whatever the member count


def test_demo_refuses_to_empty_a_folder_it_did_not_make(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")

    status, printed = run_demo("--output", str(tmp_path), timeout=60)

    assert status != 0
    assert "is not a demo's output" in printed
    assert precious.read_text() == "keep me"
