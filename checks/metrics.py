"""Prometheus metrics of the probe, on a registry the caller owns (no global REGISTRY).

- ``ingestbench_tta_seconds{target, tier, path}``: histogram of available canaries' TTA (0.05 s .. 600 s)
- ``ingestbench_canaries_total{target, path, outcome}``: decided canaries by outcome
- ``ingestbench_canary_duplicates_total{target, path}``: extra rows seen for canaries
- ``ingestbench_canaries_pending{target, path}``: canaries sent and not yet decided
- ``ingestbench_poll_duration_seconds{target, path}``: read-back request duration
- ``ingestbench_poll_errors_total{target, path}``: read-back requests that failed
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from records.observation import AVAILABLE, Observation

TTA_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
POLL_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ProbeMetrics:
    def __init__(self, registry: CollectorRegistry, *, target: str):
        self.target = target
        self.tta = Histogram("ingestbench_tta_seconds", "Time to availability of canaries",
                             ["target", "tier", "path"], buckets=TTA_BUCKETS_S, registry=registry)
        self.canaries = Counter("ingestbench_canaries", "Decided canaries by outcome",
                                ["target", "path", "outcome"], registry=registry)
        self.duplicates = Counter("ingestbench_canary_duplicates", "Extra rows returned for canaries",
                                  ["target", "path"], registry=registry)
        self.pending = Gauge("ingestbench_canaries_pending", "Canaries sent and not yet decided",
                             ["target", "path"], registry=registry)
        self.poll_duration = Histogram("ingestbench_poll_duration_seconds", "Read-back request duration",
                                       ["target", "path"], buckets=POLL_BUCKETS_S, registry=registry)
        self.poll_errors = Counter("ingestbench_poll_errors", "Read-back requests that failed",
                                   ["target", "path"], registry=registry)

    def observe(self, obs: Observation, tier: str | None) -> None:
        """Count a decided canary; ``tier`` is the live tier (the final one is the judge's)."""
        self.canaries.labels(self.target, obs.path, obs.outcome).inc()
        if obs.duplicates:
            self.duplicates.labels(self.target, obs.path).inc(obs.duplicates)
        if obs.outcome == AVAILABLE and obs.tta_s is not None:
            # the unbiased estimate can dip below 0 for a canary visible at once; a histogram wants >= 0
            self.tta.labels(self.target, tier or "none", obs.path).observe(max(0.0, obs.tta_s))

    def set_pending(self, path: str, count: int) -> None:
        self.pending.labels(self.target, path).set(count)

    def poll(self, path: str, duration_s: float, ok: bool) -> None:
        self.poll_duration.labels(self.target, path).observe(duration_s)
        if not ok:
            self.poll_errors.labels(self.target, path).inc()
