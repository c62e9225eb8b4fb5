"""A very short run of the opening-minute benchmark, checked through its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "opening_minute.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("opening-minute") / "report.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--seconds",
            "3",
            "--pool",
            "4",
            "--workers",
            "2",
            "--baseline-seconds",
            "0",
            "--json",
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(path.read_text())


def test_runs_both_setups(report):
    setups = [run["setup"] for run in report["runs"]]

    assert setups == ["sqlite", "redis"]
    assert [run["instances"] for run in report["runs"]] == [1, 2]


@pytest.mark.parametrize("index", [0, 1], ids=["sqlite", "redis"])
def test_run_has_no_server_error(report, index):
    run = report["runs"][index]

    assert run["total"]["5xx"] == 0, run["unexpected_samples"]
    assert run["total"]["requests"] > 0


@pytest.mark.parametrize("index", [0, 1], ids=["sqlite", "redis"])
def test_run_has_no_double_success(report, index):
    run = report["runs"][index]

    assert run["double_successes"] == 0


@pytest.mark.parametrize("index", [0, 1], ids=["sqlite", "redis"])
def test_run_verifies_some_tokens(report, index):
    run = report["runs"][index]

    assert run["tokens_verified"] > 0


@pytest.mark.parametrize("index", [0, 1], ids=["sqlite", "redis"])
def test_run_replays_never_succeed(report, index):
    replays = report["runs"][index]["outcomes"].get("replay-verify", {})

    assert replays.get("success", 0) == 0


@pytest.mark.parametrize("index", [0, 1], ids=["sqlite", "redis"])
def test_run_records_worker_memory(report, index):
    run = report["runs"][index]

    assert len(run["worker_peak_rss_mib"]) == 2 * run["instances"]
    assert all(size > 0 for size in run["worker_peak_rss_mib"])
