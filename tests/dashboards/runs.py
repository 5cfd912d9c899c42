"""Real ``ingestbench run`` processes watched by a test Prometheus: the run, its scrapes, its time span."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.dashboards.prom import Prometheus

ROOT = Path(__file__).resolve().parents[2]
SCRAPE_S = 1
RATE_INTERVAL = f"{4 * SCRAPE_S}s"  # Grafana's $__rate_interval: 4 scrape intervals


@dataclass
class Live:
    prom: Prometheus
    run_id: str
    run_dir: Path
    start: float
    end: float
    exit_code: int
    sd_path: Path
    scrapes: dict[str, str] = field(default_factory=dict)  # job -> one plain-text /metrics body

    @property
    def values(self) -> dict[str, str]:
        span = f"{math.ceil(self.end - self.start)}s"
        return {"run_id": self.run_id, "__range": span, "__rate_interval": RATE_INTERVAL,
                "__interval": f"{SCRAPE_S}s"}

    @property
    def log(self) -> str:
        return (self.run_dir.parent.parent / "run.log").read_text(errors="replace")


def _scrape_each_endpoint(sd_path: Path, scrapes: dict[str, str]) -> None:
    """One plain-text scrape of every endpoint the discovery file lists now (for promtool check metrics)."""
    try:
        entries = json.loads(sd_path.read_text())
    except (OSError, ValueError):
        return
    for entry in entries:
        job = entry["labels"]["job"]
        if job not in scrapes:
            try:
                with urllib.request.urlopen(f"http://{entry['targets'][0]}/metrics", timeout=5) as resp:
                    scrapes[job] = resp.read().decode()
            except OSError:  # listed as the child starts: not listening yet, try again on the next round
                pass


@dataclass
class Server:
    prom: Prometheus
    config: Path
    tmp: Path



def run(server: Server, name: str, scenario: str) -> Live:
    """``ingestbench run`` of ``scenario`` with its discovery file where the Prometheus reads it, to the end."""
    sd_path = server.config / "sd" / f"{name}.json"
    start = time.time()
    work = server.tmp / name
    work.mkdir()
    out = work / "out"
    cmd = [sys.executable, "-m", "ingestbench", "run", "--scenario", scenario, "--out", str(out),
           "--no-progress", "--metrics-sd", str(sd_path)]
    with (work / "run.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    scrapes: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            _scrape_each_endpoint(sd_path, scrapes)
            time.sleep(0.5)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    return Live(server.prom, run_dir.name, run_dir, start, time.time(), code, sd_path, scrapes)


