"""One whole ``ingestbench run`` (generator + probe) per vendor target against its loopback fake: the verdicts,
what the fake saw, and that every secret stays out of command lines, logs and results."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.runs import assert_secret_nowhere, ib_run_watched, tiers
from tests.vendor_fakes import FakeCollector, FakePostHog, FakeUserFlux

pytestmark = [pytest.mark.slow, pytest.mark.server]

# The sweep at time scale 0.1: 8 s at 50 events/s (low tier: 2 s steady after its 3 s warm-up and before its
# 3 s transition), 5 s at 1,500 events/s (high tier); a canary alone every 0.05 s.
SCENARIO = """description = "a short sweep across the 1k/s threshold for loopback fakes"
time_scale = 0.1
[load]
batch_size = 10
seed = 5
steps = [{ rate_eps = 50, duration_s = 80 }, { rate_eps = 1500, duration_s = 50 }]
[probe]
interval_s = 0.5
poll_interval_s = 0.25
single_event = true
"""


def key(name: str) -> str:
    return f"ib-{name}-{secrets.token_hex(10)}"


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SCENARIO)
    return path


def run_doc(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def test_userflux_ingest_profiles_and_metrics_api(tmp_path, scenario):
    write_key, client_secret = key("write"), key("client")
    env = {"INGESTBENCH_USERFLUX_WRITE_KEY": write_key, "INGESTBENCH_USERFLUX_CLIENT_SECRET": client_secret}
    with FakeUserFlux(write_key=write_key, client_secret=client_secret) as fake:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--target", "userflux", "--url", fake.url,
            "--target-opt", f"metrics_url={fake.url}", env=env)
    assert code == 0, output[-3000:]
    t = tiers(run_dir)
    assert {t["low"]["status"], t["high"]["status"], t["transactional"]["status"]} == {"pass"}
    assert t["low"]["n"] >= 20 and t["transactional"]["n"] >= 20
    assert len(fake.queries) > 50 and len(set(fake.queries)) == len(fake.queries) and fake.cache_hits == 0
    for secret in (write_key, client_secret):
        assert_secret_nowhere(secret, run_dir, output, cmdlines)


def test_posthog_polls_no_faster_than_its_query_limit_and_says_so(tmp_path, scenario):
    project_key, personal_key = "phc_" + key("project"), "phx_" + key("personal")
    env = {"INGESTBENCH_POSTHOG_PROJECT_KEY": project_key, "INGESTBENCH_POSTHOG_PERSONAL_KEY": personal_key}
    with FakePostHog(project_key=project_key, personal_key=personal_key, project_id=7, per_hour=36_000) as fake:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--target", "posthog", "--url", fake.url,
            "--target-opt", "project_id=7", "--target-opt", "max_queries_per_hour=36000", env=env)
    assert code == 0, output[-3000:]
    doc = run_doc(run_dir)
    assert doc["probe"]["poll_interval_s"] == pytest.approx(0.1)  # asked for 0.025 s: floored to the limit
    assert any("at most one canary query every 0.1 s" in n for n in doc["notes"])
    assert any("transactional tier skipped" in n for n in doc["notes"])
    assert fake.throttled == 0 and doc["probe"]["polls"] == len(fake.query_times)
    assert {t["tier"] for t in doc["tiers"]} == {"low", "high"}
    for secret in (project_key, personal_key):
        assert_secret_nowhere(secret, run_dir, output, cmdlines)


def test_segment_collector_written_here_read_there_through_http_templates(tmp_path, scenario):
    write_key = key("segment")
    with FakeCollector(flavour="rudderstack", write_key=write_key) as collector:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--target", "segment", "--url", collector.url,
            "--target-opt", "flavour=rudderstack", "--reader", "http", "--reader-url", collector.url,
            "--reader-opt", "query_path=/warehouse/query", "--reader-opt", 'query_body={"ids": {ids}}',
            "--reader-opt", "rows_path=result.rows", "--reader-opt", "canary_path=id",
            env={"INGESTBENCH_SEGMENT_WRITE_KEY": write_key})
    assert code == 0, output[-3000:]
    doc = run_doc(run_dir)
    assert {t["tier"]: t["status"] for t in doc["tiers"]} == {"low": "pass", "high": "pass"}
    delivered = sum(s["sent_events"] - s["failed_events"] for s in doc["steps"])
    assert collector.deduplicated == 0 and collector.events >= delivered and not collector.refused
    assert doc["settings"]["reader"]["kind"] == "http"
    assert_secret_nowhere(write_key, run_dir, output, cmdlines)


def test_a_writer_only_target_measures_acks_and_says_tta_was_not_measured(tmp_path):
    scenario = tmp_path / "short.toml"
    scenario.write_text(SCENARIO.replace("steps = [{ rate_eps = 50, duration_s = 80 }, { rate_eps = 1500, "
                                         "duration_s = 50 }]", "steps = [{ rate_eps = 200, duration_s = 40 }]"))
    write_key = key("segment")
    with FakeCollector(flavour="segment", write_key=write_key) as collector:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--target", "segment", "--url", collector.url,
            env={"INGESTBENCH_SEGMENT_WRITE_KEY": write_key})
    assert code == 3, output[-3000:]  # the SLO needs TTA: not a silent pass
    doc = run_doc(run_dir)
    assert doc["invalid_reasons"][0].startswith("TTA not measured: target 'segment' has no reader")
    assert "TTA not measured" in (run_dir / "report.md").read_text()
    probe = doc["probe"]
    assert probe["tta_measured"] is False and probe["acked"] >= 40 and 0 < probe["ack_p95_s"] < 1
    assert doc["steps"][0]["valid"] and collector.events >= doc["steps"][0]["sent_events"]
    assert len(collector.visible) >= probe["acked"]
    assert_secret_nowhere(write_key, run_dir, output, cmdlines)
