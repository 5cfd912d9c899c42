"""A run that nothing scrapes, pushing its metrics (``ingestbench run --remote-write``): every dashboard panel,
variable and annotation has data from the pushed series alone.

A real Prometheus (Debian's) with its remote-write receiver on and a config that scrapes nothing; a real run of
the dashboards' sweep (embedded pipeline, Locust, probe: ``sweep.toml``, the scenario that gives every panel
data) pushing every second, as often as the scraped live test scrapes (the panels' rate windows are four
intervals). The pushed series carry the ``job`` and ``instance`` a scrape would give them, the last push carries
the drain's final outcomes, and the series end with the run.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboards.prom import start_prometheus
from tests.dashboards.runs import ROOT, Live, panel_failures

pytestmark = pytest.mark.server
SWEEP = Path(__file__).with_name("sweep.toml")
# nothing to scrape: every series in this Prometheus was pushed
CONFIG = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
JOBS = {"ingestbench-pipeline", "ingestbench-generator", "ingestbench-probe"}


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("remote-write")
    config = tmp / "prometheus"
    config.mkdir()
    (config / "prometheus.yml").write_text(CONFIG)
    with start_prometheus(config, tmp, flags=("--web.enable-remote-write-receiver",)) as prom:
        work = tmp / "sweep"
        work.mkdir()
        start = time.time()
        cmd = [sys.executable, "-m", "ingestbench", "run", "--scenario", str(SWEEP), "--out", str(work / "out"),
               "--no-progress", "--remote-write", f"{prom.url}/api/v1/write", "--remote-write-interval-s", "1"]
        with (work / "run.log").open("wb") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, timeout=240).returncode
        (run_dir,) = [p for p in (work / "out").iterdir() if p.is_dir() and not p.is_symlink()]
        yield Live(prom, run_dir.name, run_dir, start, time.time(), code, sd_path=work / "no-discovery-file")


def _pushed_summary(live: Live) -> dict:
    return dict(json.loads((live.run_dir / "run.json").read_text())["settings"]["remote_write"])


def test_the_run_pushed_every_second_and_every_push_arrived(pushed: Live) -> None:
    assert pushed.exit_code == 3, pushed.log[-3000:]  # the sweep is invalid by design (an impossible lag bound)
    assert pushed.prom.api("targets")["activeTargets"] == []  # this Prometheus scrapes nothing
    summary = _pushed_summary(pushed)
    assert summary["failed_pushes"] == 0 and summary["last_error"] is None, summary
    assert summary["pushes"] >= 0.6 * (pushed.end - pushed.start), (summary, pushed.end - pushed.start)
    with urllib.request.urlopen(f"{pushed.prom.url}/metrics", timeout=10) as resp:
        own = resp.read().decode()
    received = sum(s.value for f in text_string_to_metric_families(own) for s in f.samples
                   if s.name == "prometheus_http_requests_total" and s.labels.get("handler") == "/api/v1/write"
                   and s.labels.get("code") == "204")
    assert received == summary["requests"] > 0, (received, summary)


def test_every_panel_variable_and_annotation_has_data_from_pushed_series(pushed: Live) -> None:
    failures, checked = panel_failures(pushed)
    assert failures == [], "\n".join(failures)
    assert checked >= 30


def test_series_carry_the_job_and_instance_a_scrape_gives_them(pushed: Live) -> None:
    plan = json.loads((pushed.run_dir / "plan.json").read_text())
    instances = {"ingestbench-probe": f"127.0.0.1:{plan['probe']['metrics_port']}",
                 "ingestbench-generator": f"127.0.0.1:{plan['generator_metrics_port']}",
                 "ingestbench-pipeline": f"127.0.0.1:{plan['pipeline']['port']}"}
    found = pushed.prom.query_range(f'count by (job, instance) ({{run_id="{pushed.run_id}"}})', pushed.start,
                                    pushed.end, 1)
    assert {r["metric"]["job"]: r["metric"]["instance"] for r in found} == instances
    up = pushed.prom.query_range(f'max by (job) (up{{run_id="{pushed.run_id}"}})', pushed.start, pushed.end, 1)
    assert {r["metric"]["job"] for r in up if any(v == "1" for _, v in r["values"])} == JOBS


def test_the_final_push_carries_the_drain_s_outcomes(pushed: Live) -> None:
    """The pushed canary counts at the end are the probe's samples, every one: the drain's last outcomes too."""
    recorded = collections.Counter()
    for line in (pushed.run_dir / "samples.jsonl").read_text().splitlines():
        doc = json.loads(line)
        recorded[(doc["outcome"], doc["path"])] += 1
    last = pushed.prom.query(f'sum by (outcome, path) (last_over_time(ingestbench_canaries_total'
                             f'{{run_id="{pushed.run_id}"}}[1h]))', pushed.end + 1)
    counts = {(r["metric"]["outcome"], r["metric"]["path"]): int(float(r["value"][1])) for r in last}
    assert {k: v for k, v in counts.items() if v} == dict(recorded)


def test_series_end_with_the_run(pushed: Live) -> None:
    """Every series of the run (the pipeline's too, up until the last push) is marked stale as it ends, as a
    scrape marks an endpoint that is gone: nothing lingers as a current value; the history stays."""
    current = f'count by (job) ({{run_id="{pushed.run_id}"}})'
    assert pushed.prom.query(current, time.time()) == []
    assert {r["metric"]["job"] for r in pushed.prom.query(f'count by (job) (last_over_time({{run_id='
                                                          f'"{pushed.run_id}"}}[1h]))', time.time())} == JOBS
