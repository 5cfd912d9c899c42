"""The generator's schedule-lag histogram as Prometheus sees it: exact against the HDR histograms it is folded
from, and cheap to scrape (a scrape runs in the process whose users it would otherwise delay)."""

from __future__ import annotations

import random
import time

from hdrh.histogram import HdrHistogram
from prometheus_client import CollectorRegistry

from ingestbench.loadgen.meter import lag_histogram, new_lag_histogram
from ingestbench.loadgen.metrics import LAG_BUCKETS_S, LagBuckets, LoadgenMetrics
from ingestbench.records.exposition import render, run_registry

ROW = {"target_eps": 100, "achieved_eps": 100, "sent_events": 100, "failed_by_kind": {}, "dropped_events": 0}


def _upto_by_walking(hist: HdrHistogram, le_s: float) -> int:
    """The reference: walk every recorded value, counting those whose whole HDR range is <= the bound."""
    count = 0
    for item in hist.get_recorded_iterator():
        if item.value_iterated_to > round(le_s * 1e6):
            break
        count += item.count_at_value_iterated_to
    return count


def _seconds(n: int, rng: random.Random) -> list[HdrHistogram]:
    out = []
    for _ in range(n):
        lags = [rng.expovariate(1 / 0.004) for _ in range(rng.randrange(0, 400))]
        lags += [rng.uniform(0, 2.0) for _ in range(rng.randrange(0, 5))]
        lags += [le for le in LAG_BUCKETS_S if rng.random() < 0.3]  # exactly on a bound: counted in it
        out.append(lag_histogram(lags))
    return out


def test_buckets_equal_a_walk_of_the_merged_histogram() -> None:
    rng = random.Random(3)
    buckets, merged = LagBuckets(), new_lag_histogram()
    for hist in _seconds(40, rng):
        buckets.add(hist)
        merged.add(hist)
    (family,) = buckets.collect()
    got = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    want = {str(le): float(_upto_by_walking(merged, le)) for le in LAG_BUCKETS_S}
    want["+Inf"] = float(merged.get_total_count())
    assert got == want
    (total,) = [s.value for s in family.samples if s.name.endswith("_sum")]
    mean_s = merged.get_mean_value() / 1e6
    assert abs(total - mean_s * merged.get_total_count()) <= 0.01 * total


def test_an_empty_second_changes_nothing() -> None:
    buckets = LagBuckets()
    buckets.add(new_lag_histogram())
    (family,) = buckets.collect()
    assert {s.value for s in family.samples} == {0.0}


def test_a_scrape_costs_well_under_a_millisecond_of_cpu_however_long_the_run() -> None:
    """Ten minutes of seconds folded in; one scrape of the generator's whole endpoint then costs well under 5 ms
    of CPU (walking the HDR histogram at each scrape cost ~40 ms). The cheapest of several scrapes is
    compared, so that another process taking the core cannot fail it."""
    registry = CollectorRegistry()
    metrics = LoadgenMetrics(registry, run_id="r1", scenario="quick", target="pipeline")
    for hist in _seconds(60, random.Random(5)) * 10:
        metrics.second(ROW, hist)
    exposed = run_registry(registry, {"run_id": "r1", "target": "pipeline"})
    costs = []
    for _ in range(7):
        started = time.process_time()
        body, _ = render(exposed, "application/openmetrics-text; version=1.0.0")
        costs.append(time.process_time() - started)
    assert b"ingestbench_loadgen_schedule_lag_seconds_count" in body
    assert min(costs) < 0.005, costs
