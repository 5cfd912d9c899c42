"""Prometheus metrics of the load generator, fed by the master's timeline (registry injected).

``ingestbench_loadgen_target_eps`` / ``_achieved_eps`` (gauges, last complete second),
``ingestbench_loadgen_events_sent_total``, ``ingestbench_loadgen_events_failed_total{kind}``,
``ingestbench_loadgen_events_dropped_total`` (counters) and ``ingestbench_loadgen_schedule_lag_seconds``
(histogram, built from the merged HDR histograms, so no per-request cost).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hdrh.histogram import HdrHistogram
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from loadgen.meter import new_lag_histogram

LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class _LagCollector(Collector):
    def __init__(self, hist: HdrHistogram):
        self.hist = hist

    def collect(self) -> Iterator[HistogramMetricFamily]:
        buckets: list[tuple[str, float]] = []
        for le in LAG_BUCKETS_S:
            # Values up to `le` (HDR resolution 1 %): count below the next distinguishable value.
            below = _count_upto(self.hist, round(le * 1e6))
            buckets.append((str(le), float(below)))
        total = self.hist.get_total_count()
        buckets.append(("+Inf", float(total)))
        mean_s = self.hist.get_mean_value() / 1e6 if total else 0.0
        yield HistogramMetricFamily("ingestbench_loadgen_schedule_lag_seconds",
                                    "Actual minus intended request start", buckets=buckets,
                                    sum_value=mean_s * total)


def _count_upto(hist: HdrHistogram, value_us: int) -> int:
    count = 0
    for item in hist.get_recorded_iterator():
        if item.value_iterated_to > value_us:
            break
        count += item.count_at_value_iterated_to
    return count


class LoadgenMetrics:
    """A :class:`loadgen.timeline.TimelineSink` updating metrics in the given registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.target_eps = Gauge("ingestbench_loadgen_target_eps", "Target events/s (last second)",
                                registry=registry)
        self.achieved_eps = Gauge("ingestbench_loadgen_achieved_eps", "Acknowledged events/s (last second)",
                                  registry=registry)
        self.sent = Counter("ingestbench_loadgen_events_sent", "Events sent", registry=registry)
        self.failed = Counter("ingestbench_loadgen_events_failed", "Events failed, by kind", ["kind"],
                              registry=registry)
        self.dropped = Counter("ingestbench_loadgen_events_dropped", "Events too late to send",
                               registry=registry)
        self.generator_cpu = Gauge("ingestbench_loadgen_generator_cpu_ratio",
                                   "Share of a core used by the busiest generator process (last second); "
                                   "near 1 the generator is the bottleneck", registry=registry)
        self.lag_us = new_lag_histogram()
        registry.register(_LagCollector(self.lag_us))

    def second(self, row: dict[str, Any], lag_us: HdrHistogram) -> None:
        self.target_eps.set(row["target_eps"])
        self.achieved_eps.set(row["achieved_eps"])
        self.sent.inc(row["sent_events"])
        for kind, n in row["failed_by_kind"].items():
            self.failed.labels(kind=kind).inc(n)
        self.dropped.inc(row["dropped_events"])
        if row.get("generator_cpu") is not None:
            self.generator_cpu.set(row["generator_cpu"])
        self.lag_us.add(lag_us)

    def step(self, row: dict[str, Any]) -> None:
        pass
