"""``ingestbench history`` on real runs: six short runs of a scenario whose time to availability is the embedded
pipeline's flush wait (0.3 s at time scale 0.1), then six with a longer one (0.8 s), all added to one history.
The check finds the change at the first slowed run and nowhere else; the six unchanged runs alone show no change;
cut just after the shift, the history fails the gate.

Runs go three at a time (each lasts about 15 s), a batch never mixing the two settings, so that the start times
order them as they were made."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.runs import ROOT, SLO, FaultRun

pytestmark = [pytest.mark.slow, pytest.mark.server]

PER_SIDE = 6
AT_ONCE = 3


def scenario(flush_max_wait_s: float) -> str:
    """100 events/s for 6 s; flush_rows so high that only the wait flushes (the knee is far above the rate)."""
    return ('description = "history"\ntime_scale = 0.1\nslo = "slo.toml"\n'
            "[load]\nbatch_size = 10\nseed = 5\nlag_bound_s = 0.5\nmax_behind_s = 3.0\n"
            "steps = [{ rate_eps = 100, duration_s = 60 }]\n"
            f"[pipeline]\nflush_rows = 100000\nflush_max_wait_s = {flush_max_wait_s}\n"
            "[probe]\ninterval_s = 1.0\npoll_interval_s = 0.25\ntransactional = false\n")


def history(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", "history", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    """(name, results directory) of every run, oldest first: fast-0..5 (wait 3 s), then slow-0..5 (wait 8 s)."""
    tmp = tmp_path_factory.mktemp("history")
    names = [f"fast-{i}" for i in range(PER_SIDE)] + [f"slow-{i}" for i in range(PER_SIDE)]
    done: list[tuple[str, Path]] = []
    for at in range(0, len(names), AT_ONCE):
        batch = []
        try:
            for name in names[at:at + AT_ONCE]:
                text = scenario(3.0 if name.startswith("fast") else 8.0)
                batch.append(FaultRun.start(tmp / name, "--run-id", name, scenario_text=text, slo_text=SLO))
            for run in batch:
                run.wait(timeout_s=150)
        finally:
            for run in batch:
                run.stop()
        done += [(name, run.run_dir) for name, run in zip(names[at:at + AT_ONCE], batch, strict=True)]
    return done


def _store(path: Path, runs: list[tuple[str, Path]]) -> list[str]:
    """Add the runs; the names of the valid ones (an invalid run is stored flagged and left out)."""
    for _, run_dir in runs:
        added = history("add", str(run_dir), "--store", str(path))
        assert added.returncode == 0, added.stdout + added.stderr
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT run_id FROM runs WHERE valid = 1 ORDER BY started_unix_s")]


def _changes(markdown: Path) -> list[list[str]]:
    rows = [line.strip("|").split(" | ") for line in markdown.read_text().splitlines() if line.startswith("| ")]
    return [[c.strip() for c in r] for r in rows[1:]]  # without the header


def test_the_injected_shift_is_found_at_the_first_slowed_run_and_nowhere_else(runs, tmp_path) -> None:
    valid = _store(tmp_path / "h.db", runs)
    slow = [n for n in valid if n.startswith("slow")]
    assert len(slow) >= 3 and len(valid) - len(slow) >= 3, f"too few valid runs to test with: {valid}"
    assert valid == sorted(valid, key=lambda n: n.startswith("slow"))  # every unchanged run started first
    done = history("check", "--store", str(tmp_path / "h.db"), "--markdown", str(tmp_path / "h.md"),
                   "--junit", str(tmp_path / "h.xml"))
    # the shift is among the newest 2 x 3 runs of each latency series: it fails the gate
    assert done.returncode == 1, done.stdout + done.stderr
    changes = _changes(tmp_path / "h.md")
    assert {(c[2], c[3]) for c in changes} >= {("any", "tta_p50_s"), ("any", "tta_p95_s")}, changes
    for c in changes:  # only latency series, and each changes at the first slowed run, upwards
        assert c[3].startswith("tta_") and c[4] == slow[0], changes
        assert float(c[7]) > 1.5 * float(c[6]) and c[10] == "REGRESSION (fails the gate)", c
    assert done.stdout.count(slow[0]) == len(changes), done.stdout
    xml = (tmp_path / "h.xml").read_text()
    assert f'failures="{len(changes)}"' in xml and "changed +" in xml and f"from run {slow[0]}" in xml
    # with only the newest 5 runs counted as recent, the same change is an older regression: no failure
    older = history("check", "--store", str(tmp_path / "h.db"), "--recent", str(len(slow) - 1))
    assert older.returncode == 0 and older.stdout.count("regression, older") == len(changes), older.stdout


def test_cut_just_after_the_shift_the_history_fails_the_gate(runs, tmp_path) -> None:
    valid = _store(tmp_path / "h.db", runs[:PER_SIDE + 3])
    first_slow = next(n for n in valid if n.startswith("slow"))
    done = history("check", "--store", str(tmp_path / "h.db"), "--markdown", str(tmp_path / "h.md"))
    assert done.returncode == 1, done.stdout + done.stderr
    failing = [c for c in _changes(tmp_path / "h.md") if "fails the gate" in c[10]]
    assert failing and all(c[4] == first_slow and c[3].startswith("tta_") for c in failing), failing
    assert "❌" in (tmp_path / "h.md").read_text()


def test_a_flat_history_has_no_change_point(runs, tmp_path) -> None:
    valid = _store(tmp_path / "h.db", runs[:PER_SIDE])
    done = history("check", "--store", str(tmp_path / "h.db"), "--markdown", str(tmp_path / "h.md"))
    if len(valid) < 6:
        assert done.returncode == 3 and "cannot conclude" in done.stdout, done.stdout
        pytest.fail(f"only {len(valid)} of the unchanged runs were valid: {valid}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no change point in any series" in done.stdout and _changes(tmp_path / "h.md") == []


def test_a_run_is_added_once(runs, tmp_path) -> None:
    name, run_dir = runs[0]
    assert history("add", str(run_dir), "--store", str(tmp_path / "h.db")).returncode == 0
    again = history("add", str(run_dir), "--store", str(tmp_path / "h.db"))
    assert again.returncode == 2 and f"run {name} is already in" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    doc = json.loads((run_dir / "run.json").read_text())
    with sqlite3.connect(tmp_path / "h.db") as db:
        (p95,) = db.execute("SELECT value FROM history WHERE run_id = ? AND metric = 'tta_p95_s'", (name,)).fetchone()
        assert p95 == doc["tiers"][0]["p95_s"]
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
