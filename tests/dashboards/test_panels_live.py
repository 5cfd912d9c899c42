"""Every panel, variable, annotation and alert rule proven on real data.

A real Prometheus (Debian's) runs the shipped config, pointed at the discovery file of a real ``ingestbench run
--metrics-sd`` (embedded pipeline, Locust, probe) of a short sweep across 1k/s built so that every alert has
something to fire on (``sweep.toml``). Then every expression is evaluated through the HTTP API, variables
substituted with the values the variable queries return, and must give a non-empty, finite result.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.dashboards.exprs import (
    Expr,
    annotation_exprs,
    dashboards,
    panel_exprs,
    regex_of,
    rule_exprs,
    substitute,
    variable_queries,
)
from tests.dashboards.prom import Prometheus, need, start_prometheus

pytestmark = [pytest.mark.slow, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
SWEEP = Path(__file__).with_name("sweep.toml")
RATE_INTERVAL = "20s"  # Grafana's $__rate_interval at the shipped 5 s scrape interval: 4 x 5 s
STEP_S = 2.0
JOBS = {"ingestbench-pipeline", "ingestbench-generator", "ingestbench-probe"}


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
        return {"run_id": self.run_id, "__range": span, "__rate_interval": RATE_INTERVAL, "__interval": "5s"}


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


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("live")
    config = tmp / "prometheus"
    shutil.copytree(ROOT / "dashboards" / "prometheus", config)
    sd_path = config / "sd" / "run.json"
    with start_prometheus(config, tmp) as prom:
        start = time.time()
        out = tmp / "out"
        cmd = [sys.executable, "-m", "ingestbench", "run", "--scenario", str(SWEEP), "--out", str(out),
               "--no-progress", "--metrics-sd", str(sd_path)]
        with (tmp / "run.log").open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        scrapes: dict[str, str] = {}
        try:
            deadline = time.monotonic() + 180
            while proc.poll() is None and time.monotonic() < deadline:
                _scrape_each_endpoint(sd_path, scrapes)
                time.sleep(0.5)
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
        yield Live(prom, run_dir.name, run_dir, start, time.time(), code, sd_path, scrapes)


def test_the_sweep_ran_and_every_component_was_discovered(live: Live) -> None:
    log = (live.run_dir.parent.parent / "run.log").read_text(errors="replace")
    assert live.exit_code == 3, log[-3000:]  # invalid: no step met the sweep's impossible lag bound
    doc = json.loads((live.run_dir / "run.json").read_text())
    assert doc["steps"] and not any(s["valid"] for s in doc["steps"]), doc["steps"]
    assert set(live.scrapes) == JOBS
    assert json.loads(live.sd_path.read_text()) == []  # every endpoint gone with the run
    jobs = live.prom.query_range(f'count by (job) (up{{run_id="{live.run_id}"}} == 1)', live.start, live.end,
                                 STEP_S)
    assert {r["metric"]["job"] for r in jobs} == JOBS


def test_promtool_check_metrics_is_clean_on_every_component(live: Live) -> None:
    promtool = need("promtool")
    for job, text in live.scrapes.items():
        proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), (job, proc)


def _variable_values(live: Live, doc: dict) -> dict[str, str]:
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


def _finite(series: list[dict], instant: bool) -> bool:
    if not series:
        return False
    points = [[s["value"]] if instant else s["values"] for s in series]
    return all(any(math.isfinite(float(v)) for _, v in p) for p in points)


def test_every_panel_and_annotation_has_finite_data(live: Live) -> None:
    failures, checked = [], 0
    for name, doc in dashboards().items():
        values = _variable_values(live, doc)
        for e in [*panel_exprs(name, doc), *annotation_exprs(name, doc)]:
            expr = substitute(e.expr, values)
            result = (live.prom.query(expr, live.end) if e.instant
                      else live.prom.query_range(expr, live.start, live.end, STEP_S))
            checked += 1
            if not _finite(result, e.instant):
                failures.append(f"{e.where}: {expr} -> {result}")
    assert failures == [], "\n".join(failures)
    assert checked >= 30


def test_every_alert_rule_fires_on_the_sweep(live: Live) -> None:
    """The sweep breaks the promise on purpose (late high tier, lost canaries, invalid steps): every rule's
    expression must select this run."""
    rules: list[Expr] = rule_exprs()
    assert len(rules) >= 3
    failures = []
    for rule in rules:
        result = live.prom.query_range(rule.expr, live.start, live.end, STEP_S)
        if not _finite(result, False) or not all(r["metric"].get("run_id") == live.run_id for r in result):
            failures.append(f"{rule.where}: {result}")
    assert failures == [], "\n".join(failures)


def test_tta_exemplars_are_the_run_s_canary_ids(live: Live) -> None:
    found = live.prom.exemplars(f'ingestbench_tta_seconds_bucket{{run_id="{live.run_id}"}}', live.start, live.end)
    ids = {e["labels"]["canary_id"] for series in found for e in series["exemplars"]}
    recorded = {json.loads(line)["canary_id"] for line in (live.run_dir / "samples.jsonl").read_text().splitlines()}
    assert ids and ids <= recorded, (len(ids), list(ids)[:3])


def test_series_end_with_the_run(live: Live) -> None:
    """Endpoints leave the discovery file as their processes stop: Prometheus marks their series stale, so
    nothing of a finished run lingers as a current value (it stays in the history)."""
    current = f'ingestbench_run_info{{run_id="{live.run_id}"}}'
    deadline = time.monotonic() + 30
    while live.prom.query(current, time.time()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert live.prom.query(current, time.time()) == []
    assert live.prom.query(f"last_over_time({current}[10m])", time.time())
