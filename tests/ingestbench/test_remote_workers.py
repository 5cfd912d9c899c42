"""``ingestbench run --workers N`` with ``ingestbench worker`` processes started on their own, each in an empty
directory with a bare environment, as they would be on other machines: the run waits for all of them, splits the
load, and names a worker that is missing or lost."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboards.prom import free_port
from tests.faults.runs import FaultRun, scenario
from tests.procs import alive, kill_if_alive, wait_gone

WORKER_ID = re.compile(r"ingestbench: worker (\S+) takes its load from the run at")


class Worker:
    """One ``ingestbench worker`` in its own empty directory; its output in ``log``."""

    def __init__(self, home: Path, master: str):
        home.mkdir(parents=True)
        self.log = home.parent / f"{home.name}.log"
        # nothing of the checkout, and no INGESTBENCH_* setting: the run gives it everything
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "worker", "--master", master],
                                         cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)

    @property
    def id(self) -> str | None:
        m = WORKER_ID.search(self.log.read_text())
        return m[1] if m else None

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_if_alive(self.proc.pid, signal.SIGKILL)
            raise AssertionError(f"the worker did not end by itself:\n{self.log.read_text()[-2000:]}") from None


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            kill_if_alive(w.proc.pid, signal.SIGKILL)
            w.proc.wait(timeout=30)


def start_run(tmp: Path, n: int, *args: str, scenario_text: str | None = None) -> tuple[FaultRun, str]:
    master = f"127.0.0.1:{free_port()}"
    run = FaultRun.start(tmp / "run", "--workers", str(n), "--master-bind", master, *args,
                         scenario_text=scenario_text)
    return run, master


def test_two_workers_from_empty_directories_pass_quick(tmp_path: Path, workers: list[Worker]) -> None:
    master = f"127.0.0.1:{free_port()}"
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--workers", "2",
                             "--master-bind", master, "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers += [Worker(tmp_path / f"w{i}", master) for i in (1, 2)]
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        kill_if_alive(proc.pid, signal.SIGKILL)
        raise AssertionError(f"the run did not end: {proc.communicate()[0][-3000:]}") from None
    assert proc.returncode == 0, output[-4000:]
    assert "2 of 2 worker(s) connected" in output
    for w in workers:  # the run's end ends them
        assert w.wait(60) == 0, w.log.read_text()[-2000:]
    run_dir = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    doc = json.loads((run_dir / "run.json").read_text())
    gens = {g["id"]: g for g in doc["generators"]}
    assert set(gens) == {w.id for w in workers}, (gens, [w.log.read_text()[-500:] for w in workers])
    sent = sum(g["ok_events"] for g in gens.values())
    for g in gens.values():  # the load was split, not sent by one of them
        assert g["lost_at_s"] is None and 0.4 * sent <= g["ok_events"] <= 0.6 * sent, gens
        assert g["cpu_peak"] is not None and g["cpu_peak"] > 0
    assert doc["settings"]["workers"] == 2
    report = (run_dir / "report.md").read_text()
    assert "## Generators" in report and all(f"`{w.id}`" in report for w in workers)


def test_fewer_workers_than_asked_end_the_run_invalid_within_the_timeout(tmp_path: Path,
                                                                      workers: list[Worker]) -> None:
    run, master = start_run(tmp_path, 3, "--workers-timeout-s", "6")
    workers += [Worker(tmp_path / f"w{i}", master) for i in (1, 2)]
    run.wait_for(lambda: all(w.id for w in workers), 60, "both workers connected")
    run.wait(timeout_s=90)
    assert run.code == 3, run.output[-3000:]
    line = next((ln for ln in run.output.splitlines() if "only 2 of the 3 generator workers" in ln), None)
    assert line is not None and "within 6 s" in line, run.output[-3000:]
    assert all(w.id in line for w in workers if w.id)  # which ones came
    assert any("only 2 of the 3" in r for r in run.doc["invalid_reasons"]), run.doc["invalid_reasons"]
    assert run.elapsed_s < 6 + 30, run.elapsed_s  # gave up at its timeout
    for w in workers:  # told to quit by the master that gave up (not left to miss its heartbeat for a minute)
        w.wait(20)
    assert not wait_gone(run.seen, timeout_s=30)


def test_a_worker_killed_mid_run_makes_the_run_invalid_naming_it(tmp_path: Path, workers: list[Worker]) -> None:
    run, master = start_run(tmp_path, 2, scenario_text=scenario(rate_eps=400, duration_s=200))
    workers += [Worker(tmp_path / f"w{i}", master) for i in (1, 2)]
    rates = tmp_path / "run" / "results"
    started = lambda: rates.is_dir() and any(p.is_dir() and not p.is_symlink() for p in rates.iterdir())  # noqa: E731
    run.wait_for(lambda: started() and len(run.seconds()) >= 4, 120, "4 s of load")
    victim, survivor = workers
    victim_id = victim.id
    assert victim_id, victim.log.read_text()
    kill_if_alive(victim.proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    run.wait(timeout_s=180)
    assert run.code == 3, run.output[-3000:]
    doc = run.doc
    lost = [r for r in doc["invalid_reasons"] if victim_id in r]
    assert lost and "lost" in lost[0], doc["invalid_reasons"]
    gens = {g["id"]: g for g in doc["generators"]}
    assert gens[victim_id]["lost_at_s"] is not None and gens[survivor.id]["lost_at_s"] is None, gens
    assert f"LOST at {gens[victim_id]['lost_at_s']:g} s" in run.report()
    assert time.monotonic() - killed_at < 170
    assert survivor.wait(60) == 0  # the survivor ends with the run
    assert not alive(victim.proc.pid) or victim.proc.wait(5) is not None
    assert not wait_gone(run.seen, timeout_s=30)  # nothing of the run outlives it
