"""Whole runs that sample the target's own CPU and memory: the embedded pipeline, and a pipeline started on
its own with ``--observe-pid``, whose figures are checked against what the kernel says of it before and after
the run; an SLO limit below the measured memory fails the run, and ``gate`` agrees from the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestbench.orchestrate.resources import read_stat
from ingestbench.records.slo import DEFAULT_SLO_PATH
from tests.runs import ROOT, ib_run
from tests.servers import start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _usage(run_dir: Path) -> tuple[dict, dict]:
    doc = json.loads((run_dir / "run.json").read_text())
    (target,) = doc["resources"]["targets"]
    return doc, target


def test_a_quick_run_records_the_embedded_pipeline_s_cpu_and_memory(tmp_path: Path) -> None:
    code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", "quick")
    assert code == 0, output
    doc, target = _usage(run_dir)
    pipeline_pid = next(c["pid"] for c in doc["children"] if c["name"] == "pipeline")
    assert target["name"] == "pipeline" and target["source"] == f"pid {pipeline_pid} and its descendants"
    s = target["summary"]
    # sampled once a second through the load (its schedule: about 33 s) and the drain
    assert s["samples"] >= 0.8 * doc["scenario"]["load_duration_s"], s
    assert s["cpu_s"] > 0.2 and 0 < s["cpu_cores_mean"] <= s["cpu_cores_max"] <= os.cpu_count(), s
    assert 20 < s["rss_mib_mean"] <= s["rss_mib_max"] < 1000 and s["pss_mib_max"] is not None, s
    report = (run_dir / "report.md").read_text()
    assert "## Target resources" in report
    assert f"| pipeline | pid {pipeline_pid} and its descendants; RSS of the tree | {s['samples']} |" in report
    html = (run_dir / "report.html").read_text()
    assert "<h2>Target resources</h2>" in html and 'aria-label="Target resident memory"' in html


def test_observe_pid_measures_a_separate_pipeline_and_a_memory_limit_fails_the_run(tmp_path: Path) -> None:
    slo = tmp_path / "slo.toml"
    slo.write_text(DEFAULT_SLO_PATH.read_text() + "\n[resources]\nmax_rss_mib = 1\n")
    # flushes as the embedded pipeline does at quick's time scale (200 events or 3 s)
    with start_pipeline(tmp_path, flush_rows=200, flush_max_wait_s=3.0) as p:
        assert p.proc is not None
        pid = p.proc.pid
        before = read_stat(pid)
        code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", "quick", "--url", p.url,
                                          "--observe-pid", str(pid), "--slo", str(slo))
        after = read_stat(pid)
        hwm = _vm_hwm_mib(pid)
    assert before is not None and after is not None
    doc, target = _usage(run_dir)
    s = target["summary"]
    assert target["name"] == f"pid {pid}"
    # what the kernel says the pipeline used over the whole run, sampled or not (set-up before the load)
    used = after.cpu_s - before.cpu_s
    assert 0.7 * used <= s["cpu_s"] <= used + 0.05, (s, used)
    assert s["rss_mib_max"] <= hwm + 0.5 and s["rss_mib_max"] > 20, (s, hwm)
    reason = f"pid {pid}: RSS max {s['rss_mib_max']:g} MiB is over the limit max_rss_mib = 1"
    assert code == 1, output
    assert reason in doc["gate"]["reason"] and reason in (run_dir / "report.md").read_text()
    assert f"| pid {pid} | pid {pid} and its descendants; RSS of the tree |" in (run_dir / "report.md").read_text()
    gate = subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(run_dir)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert reason in gate.stdout + gate.stderr
