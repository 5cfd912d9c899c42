"""``ingestbench run`` end to end: real pipeline, real Locust, real probe, on loopback."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.procs import descendants
from tests.servers import start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]


def ib_run(out: Path, *args: str, timeout: float = 150) -> tuple[int, Path, float, str]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ingestbench", "run", "--out", str(out), "--no-progress", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    elapsed = time.monotonic() - started
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return proc.returncode, run_dir, elapsed, proc.stdout + proc.stderr


def ib_run_watched(out: Path, *args: str, env: dict[str, str], timeout: float = 150
                   ) -> tuple[int, Path, float, str, list[str]]:
    """Like :func:`ib_run`, also reading the command line of every child while the run goes on."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--out", str(out), "--no-progress", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, **env})
    cmdlines: dict[int, str] = {}
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            for pid in descendants(proc.pid) - set(cmdlines):
                try:
                    line = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if line:  # empty for a process that has already exited
                    cmdlines[pid] = line
            time.sleep(0.2)
        output, _ = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
    finally:
        if proc.poll() is None:
            proc.kill()
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return proc.returncode, run_dir, time.monotonic() - started, output, list(cmdlines.values())


def tiers(run_dir: Path) -> dict[str, dict]:
    return {t["tier"]: t for t in json.loads((run_dir / "run.json").read_text())["tiers"]}


def pids_gone(run_dir: Path, timeout_s: float = 30) -> bool:
    doc = json.loads((run_dir / "run.json").read_text())
    pids = [c["pid"] for c in doc.get("children", []) if c.get("pid")]
    assert pids, "run.json lists the children it started"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False


WRITE_KEY = "ib-test-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def good_run_watched(tmp_path_factory):
    """The main job, with a write key that the embedded pipeline then requires on every request."""
    return ib_run_watched(tmp_path_factory.mktemp("good"), "--scenario", "quick",
                          env={"INGESTBENCH_WRITE_KEY": WRITE_KEY})


@pytest.fixture(scope="module")
def good_run(good_run_watched):
    return good_run_watched[:4]


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """The same scenario against a pipeline whose flush-rows is 100x what the scenario's embedded one uses."""
    tmp = tmp_path_factory.mktemp("bad")
    with start_pipeline(tmp, flush_rows=20_000, flush_max_wait_s=3.0) as p:
        return ib_run(tmp / "out", "--scenario", "quick", "--target", "pipeline", "--url", p.url)


def test_quick_passes_and_shows_the_knee(good_run):
    code, run_dir, elapsed, output = good_run
    assert code == 0, output[-3000:]
    assert elapsed < 90
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["schema_version"] == 1 and doc["exit_code"] == 0 and doc["status"] == "finished"
    assert all(s["valid"] for s in doc["steps"]) and len(doc["steps"]) == 4
    t = tiers(run_dir)
    low, high = t["low"], t["high"]
    assert low["n"] >= 20 and high["n"] >= 20
    wait_s = doc["target"]["pipeline"]["flush_max_wait_s"]  # 3 s at time scale 0.1
    assert 0.5 * wait_s <= low["p95_s"] <= 1.1 * wait_s, low
    assert high["p95_s"] < 0.25 * low["p95_s"], (high, low)
    for name in ("report.md", "report.html", "junit.xml", "samples.jsonl", "rates.jsonl"):
        assert (run_dir / name).stat().st_size > 0, name
    assert pids_gone(run_dir)


def test_the_write_key_is_in_no_file_log_or_command_line(good_run_watched):
    code, run_dir, _, output, cmdlines = good_run_watched
    assert code == 0, output[-3000:]  # the pipeline refuses requests without the key: it reached every child
    assert len(cmdlines) >= 3 and any(" probe " in c for c in cmdlines) and any("locust" in c for c in cmdlines)
    assert not [c for c in cmdlines if WRITE_KEY in c]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.parent.name == "logs" for p in files)
    assert not [p for p in files if WRITE_KEY.encode() in p.read_bytes()]
    assert WRITE_KEY not in output


def test_gate_reproduces_the_finished_run(good_run):
    _, run_dir, _, _ = good_run
    doc = json.loads((run_dir / "run.json").read_text())
    again = subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(run_dir)], capture_output=True,
                           text=True, cwd=ROOT)
    assert again.returncode == doc["exit_code"] == 0
    for t in doc["tiers"]:
        assert f"{t['status']}: {t['reason']}" in again.stdout
    probe = next(c for c in doc["children"] if c["name"] == "probe")
    assert probe["exit_code"] == doc["exit_code"]  # the probe's own verdict agrees


def test_bad_setting_fails_the_high_tier(bad_run):
    code, run_dir, _, output = bad_run
    assert code == 1, output[-3000:]
    t = tiers(run_dir)
    assert t["high"]["status"] == "fail" and t["low"]["status"] == "pass"
    report = (run_dir / "report.md").read_text()
    assert "❌ fail" in report and "| high |" in report
    assert "exceeds the 0.3 s target" in t["high"]["reason"]


def test_compare_flags_the_regression_not_the_rerun(good_run, tmp_path):
    _, base_dir, _, _ = good_run
    code, again_dir, _, output = ib_run(tmp_path / "again", "--scenario", "quick")
    assert code == 0, output[-3000:]
    same = subprocess.run([sys.executable, "-m", "ingestbench", "compare", str(base_dir), str(again_dir)],
                          capture_output=True, text=True, cwd=ROOT)
    assert same.returncode == 0, same.stdout + same.stderr


def test_compare_flags_a_real_regression(good_run, bad_run):
    worse = subprocess.run([sys.executable, "-m", "ingestbench", "compare", str(good_run[1]), str(bad_run[1])],
                           capture_output=True, text=True, cwd=ROOT)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION" in worse.stdout and "high" in worse.stdout


def test_unreachable_step_makes_the_run_invalid(tmp_path):
    scenario = tmp_path / "too-much.toml"
    scenario.write_text('description = "asks for far more single events than one generator core can send"\n'
                        "time_scale = 0.1\n[load]\nbatch_size = 1\nsteps = [{rate_eps = 50000, duration_s = 40}]\n"
                        "[pipeline]\nflush_rows = 2000\nflush_max_wait_s = 30\n")
    code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", str(scenario))
    assert code == 3, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["steps"][0]["valid"] is False
    assert any("not reached" in r for r in doc["invalid_reasons"])
    assert "INVALID" in (run_dir / "report.html").read_text()


def test_killed_run_leaves_a_renderable_results_dir(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        samples = None
        while time.monotonic() < deadline:
            found = list(out.glob("*/samples.jsonl"))
            # half-way through the low-volume step: canaries decided (flushes there take ~3 s)
            lines = found[0].read_text().splitlines() if found else []
            if sum('"path":"analytical","outcome":"available"' in line for line in lines) >= 30:
                samples = found[0]
                break
            time.sleep(0.2)
        assert samples is not None, "the run recorded samples as it went"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = samples.parent
    assert pids_gone(run_dir), "children stop when the run is killed"
    rendered = subprocess.run([sys.executable, "-m", "ingestbench", "report", str(run_dir)], capture_output=True,
                              text=True, cwd=ROOT)
    assert rendered.returncode == 0, rendered.stderr
    md = (run_dir / "report.md").read_text()
    assert "did not finish" in md and "| low |" in md
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()


def test_ctrl_c_stops_everything_and_writes_results(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out.glob("*/rates.jsonl")):
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, output[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["status"] == "interrupted" and doc["exit_code"] == 3
    assert any("interrupted" in r for r in doc["invalid_reasons"])
    # the probe stopped without a drain: what it had not decided yet is recorded, and said
    undecided = doc["probe"]["undecided"]
    assert undecided > 0 and any(f"{undecided} canaries were never decided" in r for r in doc["invalid_reasons"])
    assert (run_dir / "report.md").exists()
    assert pids_gone(run_dir, timeout_s=5)
