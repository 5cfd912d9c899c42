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

from tests.dashboards.exprs import annotation_exprs, dashboards, panel_exprs, regex_of, substitute, variable_queries
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


def variable_values(live: Live, doc: dict) -> dict[str, str]:
    """Each query variable's values, queried as Grafana does (label values matching the selector), in order."""
    values = dict(live.values)
    for name, selector, label in variable_queries(doc):
        found = live.prom.label_values(label, substitute(selector, values), live.start, live.end)
        assert found, f"variable ${name}: no values for {label} of {selector}"
        if name == "run_id":
            assert live.run_id in found, found
        else:
            values[name] = regex_of(found)
    return values


def finite(series: list[dict], instant: bool) -> bool:
    if not series:
        return False
    points = [[s["value"]] if instant else s["values"] for s in series]
    return all(any(math.isfinite(float(v)) for _, v in p) for p in points)


def panel_failures(live: Live, step_s: float = 1.0) -> tuple[list[str], int]:
    """Every panel and annotation of every dashboard evaluated over the run, its variables substituted with the
    values their queries return: the ones without finite data, and how many were checked."""
    failures, checked = [], 0
    for name, doc in dashboards().items():
        values = variable_values(live, doc)
        for e in [*panel_exprs(name, doc), *annotation_exprs(name, doc)]:
            expr = substitute(e.expr, values)
            result = (live.prom.query(expr, live.end) if e.instant
                      else live.prom.query_range(expr, live.start, live.end, step_s))
            checked += 1
            if not finite(result, e.instant):
                failures.append(f"{e.where}: {expr} -> {result}")
    return failures, checked
