"""Harness faults: ``kill -9`` of the Locust master, of a Locust worker, of the probe and of ``ingestbench run``,
SIGTERM of Locust, and a Locust that fails as it starts (with the exit code a finished test also gives).

Five real runs against the embedded pipeline go side by side (Locust with two worker processes where a
worker or the master is killed). While each runs, the test notes every process below it; 4 s into the load
it kills one with SIGKILL (or SIGTERM). Then: the run ends by itself (or, killed itself, leaves its children
to stop), no process it started is left (the test walks the process tree it noted), the results directory
stays readable (every complete line of ``samples.jsonl`` and ``rates.jsonl`` parses) and ``ingestbench
report DIR`` renders it as an invalid run that says what happened.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.runs import FaultRun, rerender, scenario
from tests.procs import cmdline, descendants, kill_if_alive, wait_gone

pytestmark = [pytest.mark.slow, pytest.mark.server]

RUN_TIMEOUT_S = 150
GONE_WITHIN_S = 30


def _locust_master(run: FaultRun) -> int:
    return run.children()["locust"]


def _locust_worker(run: FaultRun) -> int:
    workers = sorted(p for p in descendants(_locust_master(run)) if "locust" in cmdline(p))
    assert workers, "Locust started its worker processes"
    return workers[0]


VICTIMS: dict[str, tuple[Callable[[FaultRun], int], tuple[str, ...]]] = {
    "master": (_locust_master, ("--processes", "2")),
    "worker": (_locust_worker, ("--processes", "2")),
    "probe": (lambda run: run.children()["probe"], ()),
    "run": (lambda run: run.pid, ("--processes", "2")),
    "master-sigterm": (_locust_master, ()),  # SIGTERM: a stop asked for, not a crash; still not the end
}


def _load_running(run: FaultRun) -> bool:
    try:
        return len(run.seconds()) >= 3 and len(run.children()) == 3
    except (OSError, AssertionError, ValueError):
        return False


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[FaultRun, int]]:
    base = tmp_path_factory.mktemp("harness-faults")
    text = scenario(duration_s=200, flush_max_wait_s=0.5)
    runs = {name: FaultRun.start(base / name, *args, scenario_text=text) for name, (_, args) in VICTIMS.items()}
    out = {}
    with contextlib.ExitStack() as stack:
        for run in runs.values():
            stack.callback(run.stop)
        for name, run in runs.items():
            run.wait_for(lambda run=run: _load_running(run), 90, "the load was running")
            victim = VICTIMS[name][0](run)
            run.watch()
            kill_if_alive(victim, signal.SIGTERM if name.endswith("sigterm") else signal.SIGKILL)
            out[name] = (run, victim)
        for run in runs.values():
            run.wait(RUN_TIMEOUT_S)
    return out


def _readable_lines(path) -> int:
    """Every complete line is JSON (a torn last line is allowed); returns how many there are."""
    data = path.read_bytes()
    complete = data.split(b"\n")[:-1]
    for line in complete:
        json.loads(line)
    return len(complete)


@pytest.mark.parametrize("name", list(VICTIMS))
def test_no_orphan_and_a_readable_invalid_run(killed: dict[str, tuple[FaultRun, int]], name: str) -> None:
    run, victim = killed[name]
    assert victim in run.seen or victim == run.pid
    assert len(run.seen) >= (5 if VICTIMS[name][1] else 3), run.seen  # pipeline, probe, Locust (and its workers)
    left = wait_gone(run.seen, GONE_WITHIN_S)
    assert not left, {p: cmdline(p) for p in left}
    if name == "run":
        assert run.code == -signal.SIGKILL
    else:
        assert run.code == 3, run.output[-3000:]
        assert "Traceback" not in run.output
    assert _readable_lines(run.run_dir / "samples.jsonl") > 0
    assert _readable_lines(run.run_dir / "rates.jsonl") >= 3
    rendered = rerender(run.run_dir)
    assert rendered.returncode == 0 and "Traceback" not in rendered.stderr, rendered.stderr
    doc = run.doc
    assert doc["exit_code"] == 3
    # a killed worker's share is re-split by the master and the run goes on to its end: invalid, not cut short
    statuses = {"run": ("incomplete",), "worker": ("finished", "interrupted")}.get(name, ("interrupted",))
    assert doc["status"] in statuses, doc["status"]
    report = run.report()
    assert "**Result: run invalid** (exit code 3)" in report
    assert (run.run_dir / "report.html").stat().st_size > 0 and (run.run_dir / "junit.xml").stat().st_size > 0
    said = " ".join(doc["invalid_reasons"])
    expected = {"master": "locust exited with -9", "worker": "was not reached", "probe": "probe exited with -9",
                "run": "did not finish", "master-sigterm": "locust exited with -15"}[name]
    assert expected in said, said
    print(f"{name}: exit {doc['exit_code']}, status {doc['status']}, {len(run.seen)} processes, none left; "
          f"{doc['invalid_reasons'][0].splitlines()[0]}")


def test_a_load_generator_that_fails_at_start_makes_the_run_invalid(tmp_path: Path) -> None:
    """Locust refuses to start (a bad value in its own environment variable, which no plan overrides) and exits
    at once: the run must say the load ended before its schedule could."""
    run = FaultRun.start(tmp_path, scenario_text=scenario(duration_s=150), env={"LOCUST_STOP_TIMEOUT": "x"})
    run.wait(RUN_TIMEOUT_S)
    assert run.code == 3, run.output[-3000:]
    doc = run.doc
    assert doc["status"] == "interrupted"
    assert any("locust exited with 2 during the run" in r for r in doc["invalid_reasons"]), \
        doc["invalid_reasons"]
    assert not wait_gone(run.seen | descendants(run.pid), GONE_WITHIN_S)
