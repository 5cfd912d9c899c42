"""Prometheus metrics of the load generator, fed by the master's timeline (registry injected).

- ``ingestbench_loadgen_target_eps`` / ``_achieved_eps``: gauges, events/s in the last complete second
- ``ingestbench_loadgen_events_sent_total``, ``ingestbench_loadgen_events_failed_total{reason}`` (every known
  reason starts at 0), ``ingestbench_loadgen_events_dropped_total``: counters
- ``ingestbench_loadgen_schedule_lag_seconds``: histogram, folded in from each second's merged HDR histogram
  by the timeline (no per-request cost, and a scrape only copies numbers: see :class:`LagBuckets`)
- ``ingestbench_loadgen_generator_cpu_ratio``, ``ingestbench_loadgen_host_cpu_ratio``: the busiest generator
  process's share of a core, and its machine's busy share (last second)
- ``ingestbench_loadgen_steps_total{outcome="valid|invalid"}``: load steps judged (each on its last second)
- ``ingestbench_loadgen_generators``: generator processes sharing the load now;
  ``ingestbench_loadgen_generators_lost_total``: those that vanished mid-run (each makes the run invalid)
- ``ingestbench_loadgen_lag_bound_seconds``: the schedule-lag p99 above which a step is invalid
- ``ingestbench_run_info{run_id, scenario, target}``, ``ingestbench_run_start_time_seconds`` and
  ``ingestbench_run_end_time_seconds``: which run this is, and when its load schedule starts and is due to end
  (Unix seconds), for the dashboards' run selector and annotations
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from hdrh.histogram import HdrHistogram
from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from ingestbench.loadgen.meter import new_lag_histogram

FAILURE_REASONS = ("rejected", "throttled", "server_error", "timeout", "connection_error", "unexpected")
LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class LagBuckets(Collector):
    """The schedule-lag histogram as Prometheus buckets, kept up to date by the timeline once per second.

    A scrape only copies the numbers of the last update: it never walks an HDR histogram. (Walking it in
    Python, eleven times per scrape, took ~40 ms of CPU in the generator's master process, where Locust's
    users run too: scraped every second, it pushed their schedule lag past the bound.) ``add`` folds one
    second's histogram in with C-level prefix sums over its counts array, well under a millisecond.
    """

    def __init__(self, bounds_s: tuple[float, ...] = LAG_BUCKETS_S):
        self.bounds_s = bounds_s
        self._layout = new_lag_histogram()
        # the last counts-array index whose values are all <= each bound (HDR resolution 1 %)
        self._last_index = [_last_index_upto(self._layout, round(le * 1e6)) for le in bounds_s]
        self._snapshot: tuple[tuple[float, ...], float, float] = ((0.0,) * len(bounds_s), 0.0, 0.0)

    def add(self, hist: HdrHistogram) -> None:
        """Fold in one second's lags (µs, a histogram of :func:`new_lag_histogram`'s layout)."""
        total = hist.get_total_count()
        if not total:
            return
        prefix = list(itertools.accumulate(hist.counts))
        below = tuple(float(prefix[i]) if i >= 0 else 0.0 for i in self._last_index)
        sum_us = sum(count * _median_value(hist, i) for i, count in enumerate(hist.counts) if count)
        upto, sum_s, count = self._snapshot
        self._snapshot = (tuple(a + b for a, b in zip(upto, below, strict=True)), sum_s + sum_us / 1e6,
                          count + float(total))

    def collect(self) -> Iterator[HistogramMetricFamily]:
        upto, sum_s, count = self._snapshot  # one tuple, replaced whole: a scrape never sees half an update
        buckets = [(str(le), n) for le, n in zip(self.bounds_s, upto, strict=True)]
        buckets.append(("+Inf", count))
        yield HistogramMetricFamily("ingestbench_loadgen_schedule_lag_seconds",
                                    "Actual minus intended request start", buckets=buckets, sum_value=sum_s)


def _last_index_upto(hist: HdrHistogram, value_us: int) -> int:
    """The last index of ``hist``'s counts array whose whole value range is <= ``value_us`` (-1: none)."""
    index = int(hist.get_counts_array_index(value_us))
    if hist.get_highest_equivalent_value(hist.get_value_from_index(index)) > value_us:
        index -= 1
    return index


def _median_value(hist: HdrHistogram, index: int) -> float:
    low = int(hist.get_value_from_index(index))
    return (low + int(hist.get_highest_equivalent_value(low))) / 2


class LoadgenMetrics:
    """A :class:`ingestbench.loadgen.merger.TimelineSink` updating metrics in the given registry."""

    def __init__(self, registry: CollectorRegistry, *, run_id: str | None = None, scenario: str = "",
                 target: str = "", lag_bound_s: float | None = None):
        self.registry = registry
        self.target_eps = Gauge("ingestbench_loadgen_target_eps", "Target events/s (last second)",
                                registry=registry)
        self.achieved_eps = Gauge("ingestbench_loadgen_achieved_eps", "Acknowledged events/s (last second)",
                                  registry=registry)
        self.sent = Counter("ingestbench_loadgen_events_sent", "Events sent", registry=registry)
        self.failed = Counter("ingestbench_loadgen_events_failed", "Events failed, by reason", ["reason"],
                              registry=registry)
        for reason in FAILURE_REASONS:
            self.failed.labels(reason=reason)
        self.dropped = Counter("ingestbench_loadgen_events_dropped", "Events too late to send",
                               registry=registry)
        self.generator_cpu = Gauge("ingestbench_loadgen_generator_cpu_ratio",
                                   "Share of a core used by the busiest generator process (last second); "
                                   "near 1 the generator is the bottleneck", registry=registry)
        self.host_cpu = Gauge("ingestbench_loadgen_host_cpu_ratio",
                              "Busy share of the busiest generator's machine (last second)", registry=registry)
        self.generators = Gauge("ingestbench_loadgen_generators", "Generator processes with a share of the load",
                                registry=registry)
        self.generators_lost = Counter("ingestbench_loadgen_generators_lost",
                                       "Generator processes that vanished mid-run without handing their share "
                                       "over (each makes the run invalid)", registry=registry)
        self.steps = Counter("ingestbench_loadgen_steps", "Load steps judged, by outcome (valid | invalid)",
                             ["outcome"], registry=registry)
        for outcome in ("valid", "invalid"):
            self.steps.labels(outcome=outcome)
        info = {"scenario": scenario, "target": target, **({"run_id": run_id} if run_id else {})}
        Info("ingestbench_run", "The run this process belongs to", registry=registry).info(info)
        self.start_time = Gauge("ingestbench_run_start_time_seconds", "When the load schedule starts (Unix s)",
                                registry=registry)
        self.end_time = Gauge("ingestbench_run_end_time_seconds", "When the load schedule is due to end (Unix s)",
                              registry=registry)
        if lag_bound_s is not None:
            Gauge("ingestbench_loadgen_lag_bound_seconds", "Schedule-lag p99 above which a step is invalid",
                  registry=registry).set(lag_bound_s)
        self.lag = LagBuckets()
        registry.register(self.lag)

    def started(self, t0_unix_s: float, duration_s: float) -> None:
        """The schedule starts at ``t0_unix_s`` and runs ``duration_s`` (the run's start/end annotations)."""
        self.start_time.set(t0_unix_s)
        self.end_time.set(t0_unix_s + duration_s)

    def second(self, row: dict[str, Any], lag_us: HdrHistogram) -> None:
        self.target_eps.set(row["target_eps"])
        self.achieved_eps.set(row["achieved_eps"])
        self.sent.inc(row["sent_events"])
        for reason, n in row["failed_by_kind"].items():
            self.failed.labels(reason=reason).inc(n)
        self.dropped.inc(row["dropped_events"])
        if row.get("generator_cpu") is not None:
            self.generator_cpu.set(row["generator_cpu"])
        if row.get("host_cpu") is not None:
            self.host_cpu.set(row["host_cpu"])
        if row.get("valid") is not None:  # the step's last second carries its verdict
            self.steps.labels(outcome="valid" if row["valid"] else "invalid").inc()
        self.lag.add(lag_us)

    def step(self, row: dict[str, Any]) -> None:
        pass

    def generator(self, row: dict[str, Any]) -> None:
        pass

    def sharing(self, count: int, *, lost: int = 0) -> None:
        """The load is now split ``count`` ways; ``lost`` generators vanished since the last change."""
        self.generators.set(count)
        if lost:
            self.generators_lost.inc(lost)
