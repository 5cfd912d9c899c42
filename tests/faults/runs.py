"""Short ``ingestbench run`` subprocesses for the fault suite, started side by side and read back from files.

Every run is the real CLI (``python -m ingestbench run``) with a short scenario at time scale 0.1 and a
one-tier SLO written next to it; several can run at once (the fault suite starts its runs together and waits
for all, to keep within the CI budget)::

    run = FaultRun.start(tmp / "throttled", url=fake.url)
    run.wait(timeout_s=150)
    run.code, run.doc["invalid_reasons"], run.judged()
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.procs import descendants, kill_if_alive

ROOT = Path(__file__).resolve().parents[2]

# One analytical tier at any rate: every canary is steady (no warm-up or transition window to reason
# about), judged on p95 <= 0.5 s at time scale 0.1, lost after 2 s (20 s unscaled), 1 % error budget.
SLO = """\
lost_after = 20
[[tier]]
name = "any"
path = "analytical"
target_s = 5
percentile = 95
min_samples = 20
"""


def scenario(*, rate_eps: float = 500, duration_s: float = 150, batch_size: int = 10, lag_bound_s: float = 0.05,
             max_behind_s: float = 1.0, flush_max_wait_s: float = 3.0, slo: str = "slo.toml") -> str:
    """A one-step scenario at time scale 0.1 (``duration_s`` unscaled: 150 s is 15 s of load).

    A run that must end with a verdict on the target (exit 1) passes a generous ``lag_bound_s`` and
    ``max_behind_s``: on a busy machine its step must not be invalid for the generator's own lag."""
    return (f'description = "fault suite"\ntime_scale = 0.1\nslo = "{slo}"\n'
            f"[load]\nbatch_size = {batch_size}\nseed = 5\nlag_bound_s = {lag_bound_s}\n"
            f"max_behind_s = {max_behind_s}\n"
            f"steps = [{{ rate_eps = {rate_eps}, duration_s = {duration_s} }}]\n"
            f"[pipeline]\nflush_rows = 200\nflush_max_wait_s = {flush_max_wait_s}\n"
            "[probe]\ninterval_s = 1.0\npoll_interval_s = 0.25\ntransactional = false\n")


@dataclass
class FaultRun:
    """One ``ingestbench run`` in a subprocess; ``out`` holds the scenario, the SLO and the results root."""

    out: Path
    proc: subprocess.Popen[str]
    started: float
    code: int | None = None
    output: str = ""
    elapsed_s: float = 0.0
    seen: set[int] = field(default_factory=set)  # every process seen below the run while it went on

    @classmethod
    def start(cls, out: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None,
              scenario_text: str | None = None, slo_text: str = SLO) -> FaultRun:
        out.mkdir(parents=True, exist_ok=True)
        (out / "slo.toml").write_text(slo_text)
        (out / "scenario.toml").write_text(scenario_text or scenario())
        cmd = [sys.executable, "-m", "ingestbench", "run", "--scenario", str(out / "scenario.toml"),
               "--out", str(out / "results"), "--no-progress", *args]
        if url is not None:
            cmd += ["--target", "pipeline", "--url", url]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **(env or {})})
        return cls(out=out, proc=proc, started=time.monotonic())

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def run_dir(self) -> Path:
        dirs = [p for p in (self.out / "results").iterdir() if p.is_dir() and not p.is_symlink()]
        assert len(dirs) == 1, dirs
        return dirs[0]

    def watch(self) -> None:
        """Note the processes below the run now (call while it goes on)."""
        self.seen |= descendants(self.pid)

    def wait_for(self, condition: Any, timeout_s: float, what: str) -> None:
        """Poll ``condition()`` until true, noting the run's processes meanwhile; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.watch()
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended before {what}: {self.proc.communicate()[0][-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"not within {timeout_s} s: {what}")

    def wait(self, timeout_s: float = 180) -> FaultRun:
        """Wait for the run to end by itself (it must: a run that hangs fails here, and is killed)."""
        try:
            self.output, _ = self.proc.communicate(timeout=max(1.0, timeout_s - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            kill_if_alive(self.pid, signal.SIGKILL)
            self.output, _ = self.proc.communicate(timeout=30)
            raise AssertionError(f"ingestbench run did not end within {timeout_s} s: {self.output[-3000:]}") from None
        self.code = self.proc.returncode
        self.elapsed_s = time.monotonic() - self.started
        return self

    def stop(self) -> None:
        """Kill a run still going (a failed test's clean-up)."""
        if self.proc.poll() is None:
            kill_if_alive(self.pid, signal.SIGKILL)
            self.proc.communicate(timeout=30)

    # --- what it wrote ---------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "run.json").read_text())

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        path = self.run_dir / name
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def judged(self) -> list[dict[str, Any]]:
        return self.jsonl("judged.jsonl")

    def seconds(self) -> list[dict[str, Any]]:
        return [r for r in self.jsonl("rates.jsonl") if r.get("type") == "second"]

    def steps(self) -> list[dict[str, Any]]:
        return [r for r in self.jsonl("rates.jsonl") if r.get("type") == "step"]

    def report(self) -> str:
        return (self.run_dir / "report.md").read_text()

    def children(self) -> dict[str, int]:
        """The run's own children by name (from ``run.json``)."""
        return {c["name"]: c["pid"] for c in self.doc.get("children", []) if c.get("pid")}


def rerender(run_dir: Path) -> subprocess.CompletedProcess[str]:
    """``ingestbench report DIR``."""
    return subprocess.run([sys.executable, "-m", "ingestbench", "report", str(run_dir)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def gate(run_dir: Path) -> subprocess.CompletedProcess[str]:
    """``ingestbench gate DIR``."""
    return subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(run_dir)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
