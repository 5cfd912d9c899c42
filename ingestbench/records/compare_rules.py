"""The SLO file's optional ``[compare]`` table: when ``ingestbench compare`` calls a change a regression.

::

    [compare]
    confidence = 0.9      # how sure the change must be in the worse direction (default 0.9)
    min_change = 0.05     # the smallest change that counts: a share of the baseline's value (default 0.05)
    [compare.p95]         # per metric: p50 p95 p99 lost errored rate cpu rss
    min_change = 0.1

A change is a regression when it is in the metric's worse direction with at least ``confidence`` **and** at
least ``min_change`` in size. For ``lost`` and ``errored`` the change is the difference of the two shares of
canaries (in share points, not relative: a baseline that lost none has no relative change), so their
``min_change`` defaults to 0.01 (one point) and the table's ``min_change`` does not apply to them; set it in
``[compare.lost]`` / ``[compare.errored]``. The target's ``cpu`` counts from 25 % unless the table's
``min_change`` is larger or ``[compare.cpu]`` sets its own (a second's CPU is measured in 10 ms ticks).

>>> r = parse_compare({"confidence": 0.95, "p95": {"min_change": 0.1}}, "slo")
>>> r.rule("p95"), r.rule("p50"), r.rule("lost")
(MetricRule(confidence=0.95, min_change=0.1), MetricRule(confidence=0.95, min_change=0.05), \
MetricRule(confidence=0.95, min_change=0.01))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ingestbench.records.config import ConfigError

# the metrics compare measures, and the direction in which each gets worse (+1: higher is worse)
METRICS = {"p50": 1, "p95": 1, "p99": 1, "lost": 1, "errored": 1, "rate": -1, "cpu": 1, "rss": 1}
SHARE_METRICS = ("lost", "errored")  # changes in share points, not relative
RULE_KEYS = ("confidence", "min_change")
DEFAULT_CONFIDENCE, DEFAULT_MIN_CHANGE, DEFAULT_MIN_SHARE_CHANGE = 0.9, 0.05, 0.01
# The target's CPU is sampled once a second in clock ticks of 10 ms: 0.01 core a sample, a seventh of a small
# target's 0.07 core; and on a shared machine the neighbours' load moved it by 15 % with no change of code
# (docs/gates.md, measured error rates). Unless the SLO file says otherwise, a CPU change counts from 25 %.
DEFAULT_MIN_CPU_CHANGE = 0.25


@dataclass(frozen=True)
class MetricRule:
    confidence: float = DEFAULT_CONFIDENCE
    min_change: float = DEFAULT_MIN_CHANGE


@dataclass(frozen=True)
class CompareRules:
    """The ``[compare]`` table: its defaults and each metric's overrides (pairs of metric and rule)."""

    confidence: float = DEFAULT_CONFIDENCE
    min_change: float = DEFAULT_MIN_CHANGE
    overrides: tuple[tuple[str, MetricRule], ...] = ()

    def rule(self, metric: str) -> MetricRule:
        for name, rule in self.overrides:
            if name == metric:
                return rule
        if metric in SHARE_METRICS:
            floor = DEFAULT_MIN_SHARE_CHANGE
        elif metric == "cpu":
            floor = max(self.min_change, DEFAULT_MIN_CPU_CHANGE)
        else:
            floor = self.min_change
        return MetricRule(self.confidence, floor)

    def with_defaults(self, *, confidence: float | None = None, min_change: float | None = None,
                      metrics: tuple[str, ...] = ()) -> CompareRules:
        """Command-line overrides: the table's defaults, or (with ``metrics``) those metrics' rules."""
        if not metrics:
            return CompareRules(self.confidence if confidence is None else confidence,
                                self.min_change if min_change is None else min_change, self.overrides)
        rest = tuple((n, r) for n, r in self.overrides if n not in metrics)
        new = tuple((m, MetricRule(self.rule(m).confidence if confidence is None else confidence,
                                   self.rule(m).min_change if min_change is None else min_change)) for m in metrics)
        return CompareRules(self.confidence, self.min_change, rest + new)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> CompareRules:
        """Inverse of ``dataclasses.asdict`` (a plan carries the SLO as a dict)."""
        pairs = tuple((str(n), MetricRule(**r) if isinstance(r, dict) else MetricRule(*r))
                      for n, r in doc.get("overrides") or ())
        return cls(float(doc.get("confidence", DEFAULT_CONFIDENCE)), float(doc.get("min_change", DEFAULT_MIN_CHANGE)),
                   pairs)


def parse_compare(raw: Any, source: str) -> CompareRules:
    """The ``[compare]`` table, validated; errors name the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: compare: must be a table ([compare])")
    unknown = set(raw) - set(RULE_KEYS) - set(METRICS)
    if unknown:
        raise ConfigError(f"{source}: compare.{sorted(unknown)[0]}: unknown key (known: {', '.join(RULE_KEYS)} and "
                          f"a table per metric: {', '.join(METRICS)})")
    confidence = _confidence(raw.get("confidence", DEFAULT_CONFIDENCE), "compare.confidence", source)
    min_change = _min_change(raw.get("min_change", DEFAULT_MIN_CHANGE), "compare.min_change", source)
    base = CompareRules(confidence, min_change)
    overrides = []
    for metric in (m for m in METRICS if m in raw):
        table = raw[metric]
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: compare.{metric}: must be a table ([compare.{metric}])")
        bad = set(table) - set(RULE_KEYS)
        if bad:
            raise ConfigError(f"{source}: compare.{metric}.{sorted(bad)[0]}: unknown key "
                              f"(known: {', '.join(RULE_KEYS)})")
        default = base.rule(metric)
        overrides.append((metric, MetricRule(
            _confidence(table.get("confidence", default.confidence), f"compare.{metric}.confidence", source),
            _min_change(table.get("min_change", default.min_change), f"compare.{metric}.min_change", source))))
    return CompareRules(confidence, min_change, tuple(overrides))


def _number(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{source}: {key}: must be a number, got {value!r}")
    return float(value)


def _confidence(value: Any, key: str, source: str) -> float:
    v = _number(value, key, source)
    if not 0.5 <= v < 1:
        raise ConfigError(f"{source}: {key}: must be in [0.5, 1), got {value!r}")
    return v


def _min_change(value: Any, key: str, source: str) -> float:
    v = _number(value, key, source)
    if v < 0:
        raise ConfigError(f"{source}: {key}: must be >= 0, got {value!r}")
    return v
