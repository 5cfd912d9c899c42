"""Prometheus metrics of the probe, on a registry the caller owns (no global REGISTRY).

- ``ingestbench_tta_seconds{target, tier, path}``: histogram of available canaries' TTA, 10 ms .. 5 min, with
  every SLO target of the run as a bucket bound (so the share within a target is exact, not interpolated);
  each observation carries its canary id as an **exemplar** (never a label: one series per canary would be
  unbounded)
- ``ingestbench_canaries_total{target, tier, path, outcome}``: decided canaries by outcome (every tier and
  outcome starts at 0, so "no loss" is a 0 on the dashboards, not an empty panel)
- ``ingestbench_canary_duplicates_total{target, path}``: extra rows seen for canaries
- ``ingestbench_canaries_pending{target, path}``: canaries sent and not yet decided
- ``ingestbench_poll_duration_seconds{target, path}``: duration of one read-back query
- ``ingestbench_poll_errors_total{target, path}``: read-back queries that failed
- ``ingestbench_slo_target_seconds{target, tier, path, bucket}``: each tier's (time-scaled) target; ``bucket``
  is the target written as the TTA histogram's ``le`` label, so a query can pick that bucket (copy it to ``le``
  with ``label_replace`` and match ``on (tier, le)``)
- ``ingestbench_slo_min_rate_events_per_second{target, tier, path}``: the rate from which a banded tier applies
  (the 1k/s line of the vendor promise)
- ``ingestbench_slo_objective_ratio{target, tier, path}``: the share of a tier's canaries that must be within
  its target (the judged percentile: 95 -> 0.95); the dashboards' threshold on the within-target share
- ``ingestbench_slo_max_lost_canaries{target, tier, path}`` (a budget given as a count) or
  ``ingestbench_slo_max_lost_ratio{target, tier, path}`` (given as a share of the tier's canaries): the loss
  budget, which the loss alert judges against
- ``ingestbench_run_info{run_id, scenario, target}``: which run this probe belongs to (the dashboards' run
  selector finds a probe running alone by it)

Every tier of the SLO has its TTA histogram and canary counters created at 0 together, when the probe starts:
a share of two ``increase()`` s is then over series that start at the same scrape (a series created at its
first observation would be extrapolated differently, and a share could read above 100 %).

Tiers here are live (placed on the rate timeline known so far); the final tier of each canary is the judge's.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from ingestbench.records.exposition import bucket_label, clean_bound
from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, LOST, PATHS, Observation
from ingestbench.records.slo import Slo

BASE_TTA_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180,
                      300)
POLL_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
DECIDED = (AVAILABLE, LOST, LATE, ERRORED)
NO_TIER = "none"


def tta_buckets(slo: Slo | None) -> tuple[float, ...]:
    """The base buckets plus every tier's scaled target as a bound.

    >>> from ingestbench.records.slo_file import load_slo
    >>> b = tta_buckets(load_slo(time_scale=0.1))
    >>> 0.3 in b and 3.0 in b and 0.1 in b, b[0], b[-1]
    (True, 0.01, 300.0)
    """
    targets = [clean_bound(slo.target_s(t)) for t in slo.tiers] if slo is not None else []
    return tuple(sorted({float(b) for b in BASE_TTA_BUCKETS_S} | set(targets)))


class ProbeMetrics:
    """Every metric the probe exports; ``slo`` puts its targets on the TTA buckets and the SLO gauges."""

    def __init__(self, registry: CollectorRegistry, *, target: str, slo: Slo | None = None,
                 run: dict[str, str] | None = None):
        """``run``: the labels of ``ingestbench_run_info`` (run_id, scenario); none: no info series."""
        self.target = target
        self.tta = Histogram("ingestbench_tta_seconds", "Time to availability of canaries",
                             ["target", "tier", "path"], buckets=tta_buckets(slo), registry=registry)
        self.canaries = Counter("ingestbench_canaries", "Decided canaries by outcome",
                                ["target", "tier", "path", "outcome"], registry=registry)
        self.duplicates = Counter("ingestbench_canary_duplicates", "Extra rows returned for canaries",
                                  ["target", "path"], registry=registry)
        self.pending = Gauge("ingestbench_canaries_pending", "Canaries sent and not yet decided",
                             ["target", "path"], registry=registry)
        self.poll_duration = Histogram("ingestbench_poll_duration_seconds", "Read-back request duration",
                                       ["target", "path"], buckets=POLL_BUCKETS_S, registry=registry)
        self.poll_errors = Counter("ingestbench_poll_errors", "Read-back requests that failed",
                                   ["target", "path"], registry=registry)
        for path in PATHS:
            self.pending.labels(self.target, path)
            self.poll_errors.labels(self.target, path)
            self.duplicates.labels(self.target, path)
        if slo is not None:
            self._slo_gauges(registry, slo)
        if run is not None:
            Info("ingestbench_run", "The run this process belongs to", registry=registry).info(
                {**run, "target": target})

    def _slo_gauges(self, registry: CollectorRegistry, slo: Slo) -> None:
        targets = Gauge("ingestbench_slo_target_seconds", "Each tier's TTA target (time-scaled); bucket: its le",
                        ["target", "tier", "path", "bucket"], registry=registry)
        labels = ["target", "tier", "path"]
        floors = Gauge("ingestbench_slo_min_rate_events_per_second", "Ingest rate from which a tier applies",
                       labels, registry=registry)
        objective = Gauge("ingestbench_slo_objective_ratio", "Share of a tier's canaries that must be within "
                          "its target (the judged percentile / 100)", labels, registry=registry)
        lost_count = Gauge("ingestbench_slo_max_lost_canaries", "Loss budget of a tier, as a count of canaries",
                           labels, registry=registry)
        lost_share = Gauge("ingestbench_slo_max_lost_ratio", "Loss budget of a tier, as a share of its canaries",
                           labels, registry=registry)
        for tier in slo.tiers:
            key = (self.target, tier.name, tier.path)
            bound = clean_bound(slo.target_s(tier))
            targets.labels(*key, bucket_label(bound)).set(bound)
            if tier.at_least_eps is not None:
                floors.labels(*key).set(tier.at_least_eps)
            objective.labels(*key).set(tier.percentile / 100)
            if tier.max_lost.share is not None:
                lost_share.labels(*key).set(tier.max_lost.share)
            else:
                lost_count.labels(*key).set(tier.max_lost.count or 0)
            for outcome in DECIDED:
                self.canaries.labels(*key, outcome)
            self.tta.labels(*key)  # every bucket at 0, from the same scrape as the counters above

    def observe(self, obs: Observation, tier: str | None) -> None:
        """Count a decided canary; ``tier`` is the live tier (the final one is the judge's)."""
        self.canaries.labels(self.target, tier or NO_TIER, obs.path, obs.outcome).inc()
        if obs.duplicates:
            self.duplicates.labels(self.target, obs.path).inc(obs.duplicates)
        if obs.outcome == AVAILABLE and obs.tta_s is not None:
            # the unbiased estimate can dip below 0 for a canary visible at once; a histogram wants >= 0
            self.tta.labels(self.target, tier or NO_TIER, obs.path).observe(
                max(0.0, obs.tta_s), exemplar={"canary_id": obs.canary_id})

    def set_pending(self, path: str, count: int) -> None:
        self.pending.labels(self.target, path).set(count)

    def poll(self, path: str, duration_s: float, ok: bool) -> None:
        self.poll_duration.labels(self.target, path).observe(duration_s)
        if not ok:
            self.poll_errors.labels(self.target, path).inc()
