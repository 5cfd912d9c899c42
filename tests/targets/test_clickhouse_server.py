"""The clickhouse target against a real ClickHouse server (Debian's 18.16) on loopback: setup, the knee of a
Buffer table across the 1k/s threshold, a real misconfiguration caught, clear errors, and a Segment-compatible
collector in front of it (write here, read there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clickhouse_server import ClickHouseServer, start_clickhouse
from tests.runs import ROOT, assert_secret_nowhere, ib_run_watched, pids_gone, tiers
from tests.vendor_fakes import FakeCollector

pytestmark = pytest.mark.server

GOOD_BUFFER = "1,6,1000,1000000,1,100000000"  # flush at 1,000 rows after 1 s, or after 6 s whatever the size
BAD_BUFFER = "1,6,1000,1000000,1000000000,2000000000"  # a 1 GB byte minimum: never met, every flush waits 6 s
MAX_TIME_S = 6
SLO = """# Matches the Buffer above: below 1k/s a canary waits for max_time (6 s), above it the row minimum is met
# within about a second.
[[tier]]
name = "low"
path = "analytical"
below_eps = 1000
target_s = 8
percentile = 95
min_samples = 20

[[tier]]
name = "high"
path = "analytical"
at_least_eps = 1000
target_s = 3
percentile = 95
min_samples = 20
"""
# Real time (a Buffer's thresholds are real seconds). Each step: a 10 s warm-up, then steady canaries, then the
# tier's target before the next step. Canaries go alone (single_event): in batches of 50 they would add
# 125 rows/s and meet the row minimum at the low rate too.
SCENARIO = """description = "ClickHouse Buffer across the 1k/s threshold"
slo = "slo.toml"
[load]
batch_size = 50
seed = 11
steps = [{steps}]
[probe]
interval_s = 0.4
poll_interval_s = 0.25
single_event = true
"""
SWEEP = "{ rate_eps = 100, duration_s = 32 }, { rate_eps = 2000, duration_s = 28 }"
HIGH_ONLY = "{ rate_eps = 2000, duration_s = 28 }"


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory):
    with start_clickhouse(tmp_path_factory.mktemp("ch")) as server:
        yield server


def scenario(tmp_path: Path, steps: str) -> Path:
    (tmp_path / "slo.toml").write_text(SLO)
    path = tmp_path / "clickhouse.toml"
    path.write_text(SCENARIO.replace("{steps}", steps))
    return path


def setup(ch: ClickHouseServer, *opts: str) -> subprocess.CompletedProcess[str]:
    args = [a for o in opts for a in ("--target-opt", o)]
    return subprocess.run([sys.executable, "-m", "ingestbench", "setup", "--target", "clickhouse", "--url", ch.url,
                           *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, **ch.env})


def test_setup_creates_the_tables_idempotently_and_replaces_a_changed_buffer(clickhouse):
    first = setup(clickhouse, "database=setup_db", f"buffer={GOOD_BUFFER}")
    assert first.returncode == 0, first.stderr
    assert "CREATE TABLE IF NOT EXISTS setup_db.events (timestamp UInt64" in first.stdout
    assert first.stdout.rstrip().endswith("insert_into=events_buffer")
    again = setup(clickhouse, "database=setup_db", f"buffer={GOOD_BUFFER}")
    assert again.returncode == 0 and "buffer table" not in again.stdout.split("table: ")[0]
    changed = setup(clickhouse, "database=setup_db", f"buffer={BAD_BUFFER}")
    assert changed.returncode == 0 and "replace the buffer table" in changed.stdout
    engines = clickhouse.query("SELECT name, engine_full FROM system.tables WHERE database = 'setup_db' "
                               "ORDER BY name FORMAT JSONEachRow")
    assert "MergeTree" in engines and "1000000000, 2000000000" in engines
    refused = subprocess.run([sys.executable, "-m", "ingestbench", "setup", "--target", "clickhouse", "--url",
                              clickhouse.url], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert refused.returncode == 2  # no credentials: the server's own one-line refusal, naming the step
    assert "clickhouse setup: create the database: HTTP 401" in refused.stderr and "\n" not in refused.stderr.strip()


def test_a_setting_the_server_lacks_is_a_clear_error(clickhouse, tmp_path):
    assert setup(clickhouse, "database=old").returncode == 0
    proc = subprocess.run([sys.executable, "-m", "ingestbench", "probe", "--target", "clickhouse", "--url",
                           clickhouse.url, "--target-opt", "database=old", "--target-opt",
                           "insert_settings=async_insert=1,wait_for_async_insert=0", "--declared-rate-eps", "10",
                           "--duration", "1.5", "--interval", "0.2", "--out", str(tmp_path), "--run-id", "out"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, **clickhouse.env})
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "every canary's ingest failed" in proc.stdout
    assert "Unknown setting async_insert (this server does not have a setting of insert_settings)" in proc.stdout


@pytest.mark.slow
def test_the_knee_then_a_byte_minimum_never_met_fails_the_high_tier(clickhouse, tmp_path):
    good = setup(clickhouse, "database=knee", f"buffer={GOOD_BUFFER}")
    assert good.returncode == 0, good.stderr
    code, run_dir, elapsed, output, cmdlines = ib_run_watched(
        tmp_path / "good", "--scenario", str(scenario(tmp_path, SWEEP)), "--target", "clickhouse", "--url",
        clickhouse.url, "--target-opt", "database=knee", "--target-opt", f"buffer={GOOD_BUFFER}",
        env=clickhouse.env, timeout=200)
    assert code == 0, output[-3000:]
    t = tiers(run_dir)
    low, high = t["low"], t["high"]
    assert low["n"] >= 20 and high["n"] >= 20
    assert 0.7 * MAX_TIME_S <= low["p95_s"] <= MAX_TIME_S + 2, low  # the low tier waits for max_time
    assert high["p95_s"] < 3 and high["p95_s"] < 0.5 * low["p95_s"], (high, low)  # the knee
    assert pids_gone(run_dir)
    assert_secret_nowhere(clickhouse.password, run_dir, output, cmdlines)
    print(f"knee run: low p95 {low['p95_s']:.2f} s, high p95 {high['p95_s']:.2f} s, {elapsed:.0f} s")

    bad = setup(clickhouse, "database=knee", f"buffer={BAD_BUFFER}")
    assert bad.returncode == 0 and "replace the buffer table" in bad.stdout
    code, run_dir, _, output, _ = ib_run_watched(
        tmp_path / "bad", "--scenario", str(scenario(tmp_path, HIGH_ONLY)), "--target", "clickhouse", "--url",
        clickhouse.url, "--target-opt", "database=knee", "--target-opt", f"buffer={BAD_BUFFER}",
        env=clickhouse.env, timeout=200)
    assert code == 1, output[-3000:]
    high = tiers(run_dir)["high"]
    assert high["status"] == "fail" and high["p95_s"] >= 0.7 * MAX_TIME_S
    assert f"p95 TTA {high['p95_s']:.3g} s" in high["reason"] and "exceeds the 3 s target" in high["reason"]
    print(f"misconfigured run: high {high['reason']}")


@pytest.mark.slow
def test_a_segment_collector_in_front_of_clickhouse_written_here_read_there(clickhouse, tmp_path):
    assert setup(clickhouse, "database=wh").returncode == 0
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('description = "collector into a warehouse"\ntime_scale = 0.1\n[load]\nbatch_size = 10\n'
                     "steps = [{ rate_eps = 50, duration_s = 80 }, { rate_eps = 1500, duration_s = 50 }]\n"
                     "[probe]\ninterval_s = 0.5\npoll_interval_s = 1\nsingle_event = true\n")
    slo = tmp_path / "collector-slo.toml"  # the collector loads every 0.5 s: 3 s and 1 s at time scale 0.1
    slo.write_text(SLO.replace("target_s = 8", "target_s = 30").replace("target_s = 3\n", "target_s = 10\n"))
    write_key = "ib-collector-" + clickhouse.password[-8:]
    headers = {"X-ClickHouse-User": clickhouse.user, "X-ClickHouse-Key": clickhouse.password}
    with FakeCollector(flavour="segment", write_key=write_key, clickhouse_url=clickhouse.url,
                       clickhouse_headers=headers, table="wh.events") as collector:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(sweep), "--slo", str(slo), "--target", "segment", "--url",
            collector.url, "--reader", "clickhouse", "--reader-url", clickhouse.url, "--reader-opt", "database=wh",
            env={**clickhouse.env, "INGESTBENCH_SEGMENT_WRITE_KEY": write_key})
    assert code == 0, output[-3000:]
    assert not collector.load_errors and collector.loaded >= collector.events > 0
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["settings"]["reader"]["kind"] == "clickhouse"
    low, high = tiers(run_dir)["low"], tiers(run_dir)["high"]
    assert low["n"] >= 20 and high["n"] >= 20 and 0.05 <= high["p50_s"] <= 2.5  # 0.5 s loads
    rows = int(clickhouse.query("SELECT count() FROM wh.events").strip())
    assert rows == collector.loaded
    for secret in (write_key, clickhouse.password):
        assert_secret_nowhere(secret, run_dir, output, cmdlines)
