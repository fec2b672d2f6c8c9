"""`make demo`'s program, run whole as a subprocess on its own anvil chain and relayer, so the
main job cannot rot: it must exit 0 with every figure reconciled, and leave its outputs."""

import json
import os
import subprocess
import sys

from relayer.attribution import verify_report
from scripts.helpers import ROOT


def test_demo_runs_end_to_end_and_every_figure_reconciles(tmp_path):
    output = tmp_path / "demo-output"
    ports = ["--port", "0", "--relayer-port", "0"]
    finished = subprocess.run(
        [sys.executable, "-m", "scripts.demo", *ports, "--output", str(output)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert "every figure reconciles" in finished.stdout
    summary = json.loads((output / "summary.json").read_text())
    assert summary["ok"] is True
    assert len(summary["checks"]) >= 14
    assert all(check["ok"] for check in summary["checks"])
    assert len(summary["members"]) == 20
    assert [d["method"] for d in summary["deposits"]] == [
        "permit",
        "approve",
        "transfer",
        "approve",
    ]
    assert sum(summary["earnings_by_type"].values()) == sum(m["earned"] for m in summary["members"])
    assert (output / "earnings_by_type.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for epoch in summary["epochs"]:
        report = (output / f"epoch-{epoch['number']}-report.json").read_bytes()
        assert verify_report(report).report_hash == epoch["report_hash"] == epoch["hash_on_chain"]
    deployment = json.loads((output / "deployment.json").read_text())
    assert deployment["chainId"] == 31337
    assert deployment == summary["deployment"]
