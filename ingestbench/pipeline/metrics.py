"""Prometheus metrics of the reference pipeline, on an injected registry.

The ground-truth visibility delay is observed for every event at each flush. At 100,000 events/s one
``Histogram.observe`` per event would cost more than the ingest itself, so :class:`WeightedHistogram`
takes ``(value, count)`` pairs: events received in the same request share one receive time.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

DELAY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600)


class WeightedHistogram(Collector):
    """A cumulative histogram that accepts many observations of one value in a single call."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]):
        self._name = name
        self._doc = documentation
        self._bounds = list(buckets)
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, pairs: Iterable[tuple[float, int]]) -> None:
        with self._lock:
            for value, count in pairs:
                self._counts[bisect.bisect_left(self._bounds, value)] += count
                self._sum += value * count

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total_sum = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, count in zip([*self._bounds, float("inf")], counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
        family = HistogramMetricFamily(self._name, self._doc)
        family.add_metric([], buckets, total_sum)
        yield family


class PipelineMetrics:
    """Every metric the pipeline exports, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry):
        p = "ingestbench_pipeline_"
        self.events_received = Counter(p + "events_received", "Events acknowledged (durably stored)",
                                       registry=registry)
        self.events_rejected = Counter(p + "requests_rejected", "Ingest requests rejected, by HTTP status",
                                       ["status"], registry=registry)
        for status in ("400", "401", "413", "415"):  # every status the API refuses with starts at 0
            self.events_rejected.labels(status)
        self.events_visible = Counter(p + "events_visible", "Events made visible to queries by a flush",
                                      registry=registry)
        self.flushes = Counter(p + "flushes", "Flushes by reason (size | time)", ["reason"], registry=registry)
        for reason in ("size", "time"):
            self.flushes.labels(reason)
        self.buffered = Gauge(p + "buffered_events", "Acknowledged events not yet visible", registry=registry)
        self.flush_duration = Histogram(p + "flush_duration_seconds", "Time to commit a flush",
                                        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
                                        registry=registry)
        self.commit_duration = Histogram(p + "commit_duration_seconds", "Time to durably commit one group",
                                         buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
                                         registry=registry)
        self.visibility_delay = WeightedHistogram(
            p + "visibility_delay_seconds", "Ground truth: visible minus received, per event", DELAY_BUCKETS_S
        )
        registry.register(self.visibility_delay)
        self.profiles_written = Counter(p + "profiles_written", "Profiles upserted", registry=registry)
