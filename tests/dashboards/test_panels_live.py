"""Every panel, variable, annotation and alert rule proven on real data, and watching a run does not change it.

A real Prometheus (Debian's) runs the shipped config and rules, scraping every second (five times as often as
shipped), pointed at the discovery files of two real ``ingestbench run --metrics-sd`` runs (embedded pipeline,
Locust, probe), one after the other:

- ``--scenario quick``, which passes: scraped every second, it must still pass (exit 0, every step valid: a
  scrape that stalled the generator's users made it invalid), and no alert fires on it;
- a short sweep across 1k/s built so that every alert about a run has something to fire on (``sweep.toml``).

Every expression is evaluated through the HTTP API, variables substituted with the values the variable queries
return, and must give a non-empty, finite result; every share stays within 0..1 whatever the time range.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.dashboards.exprs import Expr, dashboards, rule_exprs, substitute
from tests.dashboards.prom import need, start_prometheus
from tests.dashboards.runs import SCRAPE_S, Live, Server, finite, panel_failures, run

pytestmark = [pytest.mark.slow, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
SWEEP = Path(__file__).with_name("sweep.toml")
STEP_S = 1.0
JOBS = {"ingestbench-pipeline", "ingestbench-generator", "ingestbench-probe"}
# Alerts no run here can provoke: checked quiet during a run (ProbeAbsent: firing once the probe is gone);
# promtool's unit tests make each fire.
NOT_ON_A_RUN = {"IngestbenchTargetDown", "IngestbenchProbeAbsent", "IngestbenchEndpointDown"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The shipped Prometheus config and rules, scraping every second."""
    tmp = tmp_path_factory.mktemp("live")
    config = tmp / "prometheus"
    shutil.copytree(ROOT / "dashboards" / "prometheus", config)
    text = (config / "prometheus.yml").read_text()
    assert "scrape_interval: 5s" in text
    (config / "prometheus.yml").write_text(text.replace("scrape_interval: 5s", f"scrape_interval: {SCRAPE_S}s"))
    with start_prometheus(config, tmp) as prom:
        yield Server(prom, config, tmp)


@pytest.fixture(scope="module")
def healthy(server: Server) -> Live:
    return run(server, "quick", "quick")


@pytest.fixture(scope="module")
def live(server: Server, healthy: Live) -> Live:  # after the healthy run: one run at a time on the machine
    return run(server, "sweep", str(SWEEP))


def test_a_run_scraped_every_second_stays_valid(healthy: Live) -> None:
    """Every endpoint scraped each second, the quick scenario still passes with every step valid: serving
    /metrics does not stall the generator's users (it did, with the lag histogram walked at each scrape)."""
    assert healthy.exit_code == 0, healthy.log[-3000:]
    doc = json.loads((healthy.run_dir / "run.json").read_text())
    assert doc["steps"] and all(s["valid"] for s in doc["steps"]), doc["steps"]
    assert set(healthy.scrapes) == JOBS
    scrapes = healthy.prom.query_range(f'sum by (job) (count_over_time(up{{run_id="{healthy.run_id}"}}[10s]))',
                                       healthy.start + 15, healthy.end - 15, 5)
    assert {r["metric"]["job"] for r in scrapes} == JOBS
    per_10s = [float(v) for r in scrapes for _, v in r["values"]]
    assert per_10s and min(per_10s) >= 8, per_10s  # about ten scrapes in ten seconds: scraped every second


def test_no_alert_fires_on_a_run_that_passes(healthy: Live) -> None:
    """The rules run in the Prometheus itself (``for:`` included): nothing fired while the passing run lasted."""
    firing = healthy.prom.query_range('ALERTS{alertstate="firing"}', healthy.start, healthy.end, STEP_S)
    # the shipped config's docker-compose targets cannot be reached here: only endpoints on loopback count
    firing = [r for r in firing if r["metric"].get("instance", "127.0.0.1").startswith("127.0.0.1")]
    assert firing == [], [r["metric"] for r in firing]


def test_the_probe_absent_alert_holds_while_a_probe_is_up_and_not_after(healthy: Live) -> None:
    (rule,) = [r for r in rule_exprs() if r.where.endswith(": IngestbenchProbeAbsent")]
    during = healthy.prom.query_range(rule.expr, healthy.start + 15, healthy.end - 15, STEP_S)
    assert during == [], during
    after = healthy.end + 2
    while time.time() < after:
        time.sleep(0.2)
    assert healthy.prom.query(rule.expr, after), "the probe is gone, yet its absence does not show"


def _share_exprs() -> list[Expr]:
    """Every panel expression shown as a share (unit percentunit)."""
    out = []
    for name, doc in dashboards().items():
        for panel in doc["panels"]:
            if panel.get("fieldConfig", {}).get("defaults", {}).get("unit") == "percentunit":
                out += [Expr(f"{name}: {panel['title']!r}", t["expr"]) for t in panel["targets"]]
    return out


@pytest.mark.parametrize("which", ["healthy", "live"])
def test_every_share_stays_within_0_and_1_for_any_time_range(which: str, request: pytest.FixtureRequest) -> None:
    """Each share panel as if the time range ended at every second of the run and lasted 5 s, 30 s or the
    whole run: never below 0, never above 1 (a share of increases of series that started at different
    scrapes read up to 155 %)."""
    run: Live = request.getfixturevalue(which)
    exprs = _share_exprs()
    assert any("Share of canaries within target" in e.where for e in exprs), exprs
    doc_values = {"datasource": "", "scenario": ".*", "target": ".*", "tier": ".*"}
    failures, seen = [], 0
    for window in ("5s", "30s", f"{math.ceil(run.end - run.start)}s"):
        for e in exprs:
            expr = substitute(e.expr, {**run.values, **doc_values, "__range": window})
            for series in run.prom.query_range(expr, run.start, run.end + 5, STEP_S):
                values = [float(v) for _, v in series["values"]]
                seen += len(values)
                bad = [v for v in values if not 0 <= v <= 1]
                if bad:
                    failures.append(f"{e.where} over {window} {series['metric']}: {bad[:5]}")
    assert failures == [], "\n".join(failures)
    assert seen > 50


def test_the_sweep_ran_and_every_component_was_discovered(live: Live) -> None:
    assert live.exit_code == 3, live.log[-3000:]  # invalid: no step met the sweep's impossible lag bound
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


def test_every_panel_and_annotation_has_finite_data(live: Live) -> None:
    failures, checked = panel_failures(live)
    assert failures == [], "\n".join(failures)
    assert checked >= 30


def test_every_alert_rule_fires_on_the_sweep(live: Live) -> None:
    """The sweep breaks the promise on purpose (late high tier, lost canaries, invalid steps): every rule's
    expression about a run must select this run; the others must stay empty while it runs."""
    rules: list[Expr] = rule_exprs()
    assert len(rules) >= 7
    failures = []
    for rule in rules:
        if rule.where.split(": ")[1] in NOT_ON_A_RUN:
            result = live.prom.query_range(rule.expr, live.start + 15, live.end - 15, STEP_S)
            # the shipped config's docker-compose targets (no run_id) are down here: only this run's count
            result = [r for r in result if r["metric"].get("run_id", live.run_id) == live.run_id
                      and r["metric"].get("instance", "127.0.0.1").startswith("127.0.0.1")]
            if result:
                failures.append(f"{rule.where} (must stay quiet): {result}")
            continue
        result = live.prom.query_range(rule.expr, live.start, live.end, STEP_S)
        if not finite(result, False) or not all(r["metric"].get("run_id") == live.run_id for r in result):
            failures.append(f"{rule.where}: {result}")
    assert failures == [], "\n".join(failures)


def test_the_step_alerts_fire_in_prometheus_during_the_sweep(live: Live) -> None:
    """Evaluated by the Prometheus itself, ``for:`` included: the alerts meant for a benchmark step fire within
    the sweep (the 10-minute TTA alert cannot, by design)."""
    firing = live.prom.query_range(f'ALERTS{{alertstate="firing", run_id="{live.run_id}"}}', live.start,
                                   live.end + 20, STEP_S)
    names = {r["metric"]["alertname"] for r in firing}
    assert {"IngestbenchTtaAboveTargetInStep", "IngestbenchLossBudgetExceeded",
            "IngestbenchLoadStepInvalid"} <= names, names


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
