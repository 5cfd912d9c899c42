"""Mutation check of the judge: each of a fixed list of deliberate faults must make a test fail.

    python tests/mutation_check.py            # every fault; exits 1 if one survives or cannot be applied
    python tests/mutation_check.py --list     # the faults, without running anything
    python tests/mutation_check.py -k stall   # only the faults whose name contains "stall"

The source tree is copied to a temporary directory (``ingestbench/`` and ``tests/``, no bytecode) and every
fault is applied there, one at a time, by replacing one exact line; the tests that cover the mutated module run
against the copy (``PYTHONPATH`` and the working directory point at it; the check verifies that the copy is
what gets imported). The repository's own files are never written, so an interrupted check leaves nothing
mutated behind. A fault whose line is not found exactly once fails the check (the list cannot rot silently),
and so does a fault that breaks the import or the collection (it would be caught for the wrong reason), or a
copy on which the tests fail before any fault is applied.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutation_faults import FAULTS, C, Fault  # beside this file: run as ``python tests/mutation_check.py``

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 600


def apply(text: str, fault: Fault) -> str:
    """``text`` with the fault's line replaced (indentation kept); ValueError unless it occurs exactly once."""
    pattern = re.compile(rf"^([ \t]*){re.escape(fault.line)}[ \t]*$", re.MULTILINE)
    found = pattern.findall(text)
    if len(found) != 1:
        raise ValueError(f"{fault.path}: the line {fault.line!r} occurs {len(found)} times, not once")
    return pattern.sub(lambda m: m.group(1) + fault.becomes, text)


def copy_tree(into: Path) -> Path:
    for part in ("ingestbench", "tests"):
        shutil.copytree(ROOT / part, into / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.egg-info"))
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


class Interrupted(Exception):
    """The check was asked to stop (Ctrl-C, SIGTERM): running tests are ended, queued faults dropped."""


_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()
_STOP = threading.Event()


def pytest(copy: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    # a fault is caught by the first failing example: Hypothesis need not shrink it (run_strategies.PROPERTY)
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", "INGESTBENCH_NO_SHRINK": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rf", *tests]
    with _LOCK:
        if _STOP.is_set():
            raise Interrupted
        proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _RUNNING.add(proc)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        out += f"\ntimed out after {TIMEOUT_S} s"
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
    if _STOP.is_set():
        raise Interrupted
    return proc.returncode, out


def _stop_everything() -> None:
    with _LOCK:
        _STOP.set()
        for proc in _RUNNING:
            proc.terminate()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_fault(copy: Path, fault: Fault) -> tuple[str, str, float]:
    """``(outcome, detail, seconds)``: outcome is ``caught``, ``SURVIVED`` or ``BROKEN``."""
    started = time.monotonic()
    outcome, detail = _run_fault(copy, fault)
    return outcome, detail, time.monotonic() - started


def _run_fault(copy: Path, fault: Fault) -> tuple[str, str]:
    target = copy / fault.path
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(apply(original, fault), encoding="utf-8")
        code, out = pytest(copy, fault.tests)
    finally:
        target.write_text(original, encoding="utf-8")
    if code == 0:
        return "SURVIVED", ""
    failed = re.findall(r"^FAILED tests/\S+?::(\w+)", out, re.MULTILINE)
    if code == 1 and failed:
        return "caught", failed[0]
    return "BROKEN", f"pytest exited {code}: " + " | ".join(out.strip().splitlines()[-3:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument("-k", default="", help="only the faults whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="faults tried at once (one tree copy each)")
    args = parser.parse_args(argv)
    faults = [f for f in FAULTS if args.k in f.name]
    if not faults:
        print(f"mutation check: no fault's name contains {args.k!r}")
        return 1
    for fault in faults:  # every line must be there, exactly once, before anything runs
        try:
            apply((ROOT / fault.path).read_text(encoding="utf-8"), fault)
        except ValueError as exc:
            print(f"mutation check: fault {fault.name!r}: {exc}")
            return 1
    if args.list:
        for fault in faults:
            print(f"{fault.name}: {fault.path}: {fault.line}  ->  {fault.becomes}")
        return 0
    started = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="ingestbench-mutation-") as tmp:
            results = _check(faults, Path(tmp), args.jobs)
    except (KeyboardInterrupt, Interrupted):
        print("mutation check: interrupted; nothing was checked to the end (the sources were never touched)")
        return 130
    if isinstance(results, str):
        print(f"mutation check: {results}")
        return 1
    width = max(len(f.name) for f in faults)
    print(f"{'fault':<{width}}  {'module':<16}  {'time':>5}  caught by")
    for fault in faults:
        outcome, detail, seconds = results[fault.name]
        shown = detail if outcome == "caught" else f"{outcome} {detail}".strip()
        print(f"{fault.name:<{width}}  {fault.path.removeprefix(C):<16}  {seconds:4.0f}s  {shown}")
    bad = [f.name for f in faults if results[f.name][0] != "caught"]
    print(f"{len(faults) - len(bad)} of {len(faults)} faults caught in {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


def _check(faults: list[Fault], tmp: Path, jobs: int) -> dict[str, tuple[str, str, float]] | str:
    """Every fault's outcome, or why nothing could be checked."""
    copies = [copy_tree(tmp / f"copy{i}") for i in range(max(1, min(jobs, len(faults))))]
    for copy in copies:
        where = subprocess.run([sys.executable, "-c", "import ingestbench; print(ingestbench.__file__)"],
                               cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True,
                               text=True, timeout=60).stdout.strip()
        if not where.startswith(str(copy)):
            return f"the copy is not what is imported ({where}); nothing was checked"
    suites = sorted({f.tests for f in faults})
    free = list(copies)
    results: dict[str, tuple[str, str, float]] = {}

    def one(fault: Fault) -> None:
        copy = free.pop()
        try:
            results[fault.name] = run_fault(copy, fault)
        finally:
            free.append(copy)

    pool = ThreadPoolExecutor(len(copies))
    try:
        baseline = list(pool.map(pytest, itertools.islice(itertools.cycle(copies), len(suites)), suites))
        for suite, (code, out) in zip(suites, baseline, strict=True):
            if code != 0:
                return f"the tests fail without any fault ({' '.join(suite)}):\n{out[-2000:]}"
        list(pool.map(one, faults))
    except BaseException:
        _stop_everything()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return results


if __name__ == "__main__":
    sys.exit(main())
