"""A busy machine during a real run: one pause is a stall window, a sustained one still voids the step.

A run of one high-volume step (1,100 events/s for 12 s at time scale 0.1) against the embedded pipeline; while it
runs, a real-time CPU hog takes both cores (``tests/cpu_hog.py``), in the middle of the step. For about 1 s the
generator, the probe and the pipeline all stand still, as on a busy CI machine; the rate still holds, so the run
is valid, the stalled seconds are marked and their canaries are counted but not judged for TTA. For 6 s the
generator falls behind for good: the step is invalid and the run exits 3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestbench.records.timeline import read_timeline
from tests.cpu_hog import hog
from tests.runs import ROOT, pids_gone, tiers

pytestmark = [pytest.mark.slow, pytest.mark.server]

SCENARIO = """description = "one high-volume step, long enough for a pause in its middle"
time_scale = 0.1

[load]
batch_size = 10
seed = 42
steps = [{ rate_eps = 1100, duration_s = 120 }]

[pipeline]
flush_rows = 2000
flush_max_wait_s = 30

[probe]
interval_s = 1.0
poll_interval_s = 0.25
single_event = true
transactional = false
"""
HOG_AT_S = 5  # the hog starts once the timeline holds this second: about 6 s into the 12 s step


def run_with_hog(tmp_path: Path, hog_s: float) -> tuple[int, Path, str, list[str]]:
    scenario = tmp_path / "pause.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", str(scenario), "--out",
                             str(out), "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    how: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None and not how:
            found = list(out.glob("*/rates.jsonl"))
            if found and any(r.t_s >= HOG_AT_S for r in read_timeline(found[0]).seconds):
                how = hog(hog_s)
            time.sleep(0.05)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert how, "the hog ran while the load did"
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    return proc.returncode, run_dir, output, how


def test_one_pause_is_a_stall_window_and_the_run_stays_valid(tmp_path):
    code, run_dir, output, how = run_with_hog(tmp_path, 1.0)
    doc = json.loads((run_dir / "run.json").read_text())
    (step,) = doc["steps"]
    assert code == 0, (how, output[-3000:])
    assert step["valid"] and step["achieved_eps"] >= 0.97 * 1100, step
    assert 1 <= step["stalled_s"] <= step["allowed_stalled_s"], step
    stalled = [r.t_s for r in read_timeline(run_dir / "rates.jsonl").seconds if r.stalled]
    assert stalled and all(HOG_AT_S <= t <= HOG_AT_S + 4 for t in stalled), stalled  # where the hog was
    high = tiers(run_dir)["high"]
    assert high["status"] == "pass" and high["lost"] == 0, high
    assert sum(high["windows"].get("stall", {}).values()) > 0, high["windows"]  # counted, not judged
    assert high["n"] >= 20
    report = (run_dir / "report.md").read_text()
    assert "| generator | fell behind its schedule in" in report  # the stall, timed, in "what went wrong"
    assert f"| {step['stalled_s']} of 3 | yes |" in report  # the step table shows stalled seconds and allowance
    assert pids_gone(run_dir)


def test_a_sustained_shortfall_still_voids_the_step(tmp_path):
    code, run_dir, output, how = run_with_hog(tmp_path, 6.0)
    doc = json.loads((run_dir / "run.json").read_text())
    (step,) = doc["steps"]
    assert code == 3, (how, output[-3000:])
    assert not step["valid"], step
    assert step["stalled_s"] > step["allowed_stalled_s"] and "fell behind its schedule" in step["reason"], step
    assert any("load step 0 (1100 events/s) was not reached" in r for r in doc["invalid_reasons"]), doc
    assert pids_gone(run_dir)
