"""The stolen-key drill (`make drill`), run whole as a subprocess on its own anvil chain, relayer
and watcher: it must exit 0 with every check holding, and say so in its summary."""

import json
import os
import signal
import subprocess
import sys

from scripts.helpers import ROOT


def test_stolen_attester_key_drill_ends_with_the_theft_vetoed_and_members_paid_honestly(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.drill", "--output", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        printed, _ = process.communicate()

    assert process.returncode == 0, printed[-6000:]
    assert "every check holds" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is True
    assert summary["failure"] is None
    checks = {c["check"]: c for c in summary["checks"]}
    assert all(c["ok"] for c in checks.values())
    assert checks["finishing the theft at once is refused"]["detail"].startswith(
        "DataUnionAttributionNotDue(2, "
    )
    assert checks["the vetoed epoch can never take effect"]["ok"]
    assert checks["the thief can claim 0"]["ok"]
    assert [name for name in checks if name.endswith("earned the honest pro-rata split")] == [
        "amara earned the honest pro-rata split",
        "bruno earned the honest pro-rata split",
        "chen earned the honest pro-rata split",
    ]
    assert summary["facts"]["veto_seconds_after_theft"] <= 3
    watcher_log = (tmp_path / "watcher.log").read_text()
    assert "ALARM epoch 2" in watcher_log
    assert "ALARM epoch 1" not in watcher_log
    assert "ALARM epoch 3" not in watcher_log
