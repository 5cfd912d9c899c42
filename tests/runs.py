"""Running ``ingestbench run`` from tests: the command, the command lines of its children, its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.procs import cmdline, descendants

ROOT = Path(__file__).resolve().parents[1]


def ib_run(out: Path, *args: str, timeout: float = 150, env: dict[str, str] | None = None
           ) -> tuple[int, Path, float, str]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ingestbench", "run", "--out", str(out), "--no-progress", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})
    elapsed = time.monotonic() - started
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert (out / "latest").resolve() == run_dir.resolve()  # <out>/latest points at the run
    return proc.returncode, run_dir, elapsed, proc.stdout + proc.stderr


def ib_run_watched(out: Path, *args: str, env: dict[str, str], timeout: float = 150
                   ) -> tuple[int, Path, float, str, list[str]]:
    """Like :func:`ib_run`, also reading the command line of every child while the run goes on."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--out", str(out), "--no-progress", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, **env})
    cmdlines: set[str] = set()  # every line seen: a child read between fork and exec still shows its parent's
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            for pid in descendants(proc.pid):
                line = cmdline(pid)
                if line:  # empty for a process that has already exited
                    cmdlines.add(line)
            time.sleep(0.2)
        output, _ = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
    finally:
        if proc.poll() is None:
            proc.kill()
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    return proc.returncode, run_dir, time.monotonic() - started, output, sorted(cmdlines)


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


def assert_secret_nowhere(secret: str, run_dir: Path, output: str, cmdlines: list[str]) -> None:
    """The secret is in no child's command line, no file of the results (logs included) and not in the output."""
    assert secret and not [c for c in cmdlines if secret in c]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.parent.name == "logs" for p in files)
    assert not [p for p in files if secret.encode() in p.read_bytes()]
    assert secret not in output


LOCUST_WORDS = {"-f", "--headless", "--only-summary", "--processes", "--master-bind-host", "--master-bind-port",
                "--master-port"}  # Locust's own: which file, no web UI, its summary, how it forks its processes


def assert_plan_only(cmdlines: list[str], plan: Path) -> None:
    """Every child of a run was told its settings by the plan alone: besides the executable, ``--plan PATH``
    and Locust's own words, nothing on its command line."""
    children = [c.split() for c in cmdlines if " -m ingestbench " in c or " -m locust " in c]
    assert {c[c.index("-m") + 1] for c in children} >= {"ingestbench", "locust"}, cmdlines
    for words in children:
        module = words[words.index("-m") + 1]
        rest = words[words.index("-m") + 2:]
        if module == "ingestbench":
            assert rest[0] in ("probe", "pipeline") and rest[1:] == ["--plan", str(plan)], words
        else:
            flags = [w for w in rest if w.startswith("-")]
            assert set(flags) <= LOCUST_WORDS | {"--plan"} and rest[rest.index("--plan") + 1] == str(plan), words
