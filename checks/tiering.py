"""Which tier an observation belongs to, from the ingest rate *achieved* before it was sent.

Pure functions over a list of :class:`RatePoint` (one per measurement window, e.g. the load generator's
per-second records, or samples of a Prometheus rate query). A point covers ``(unix_s - span_s, unix_s]``.

- Rate at send time: the mean achieved rate of the points overlapping ``[sent - window_s, sent]``.
- Rate changes: where the requested ``target_eps`` changes (when the points carry it), otherwise where the
  achieved rate moves into another tier's band. An observation sent less than the tier's warm-up after
  the latest change is flagged ``warmup`` and left out of verdicts (counted apart).
- A tier without a rate band (transactional: "at any rate") has neither warm-ups nor transitions.
- Transitions: a canary's TTA also depends on the traffic *after* it was sent (a size-triggered flush needs
  the events that follow). One sent less than its tier's target before the next change, or before the end
  of a complete timeline (the load stopped), measures the next regime, so it is flagged ``warmup`` too.
- A fixed declared rate has no change points: a standalone probe watches a system already in its regime.

>>> pts = [RatePoint(100.0, 10.0, 10.0), RatePoint(101.0, 2000.0, 2000.0), RatePoint(102.0, 2000.0, 2000.0)]
>>> window_rate_eps(pts, 101.5, window_s=1.0)
2000.0
>>> change_times(pts)
[99.0, 100.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from checks.observation import ANALYTICAL, Observation
from checks.slo import Slo


@dataclass(frozen=True)
class RatePoint:
    """Achieved (and, when known, requested) events/s over the window ending at ``unix_s``."""

    unix_s: float
    achieved_eps: float
    target_eps: float | None = None


@dataclass(frozen=True)
class TierAssignment:
    tier: str | None
    rate_eps: float | None
    warmup: bool


def window_rate_eps(
    points: Sequence[RatePoint], at_unix_s: float, *, window_s: float, span_s: float = 1.0
) -> float | None:
    """Mean achieved rate of the points whose window overlaps ``[at - window_s, at]``; None if none do.

    The point containing ``at`` counts too, so a send in the current second is tiered even when only a
    fraction of the window lies behind it.
    """
    selected = [p.achieved_eps for p in points if at_unix_s - window_s < p.unix_s < at_unix_s + span_s]
    return sum(selected) / len(selected) if selected else None


def change_times(
    points: Sequence[RatePoint],
    *,
    band_of: Callable[[float], str | None] | None = None,
    span_s: float = 1.0,
) -> list[float]:
    """Start times of each rate regime (the first point's window start is always one).

    Uses ``target_eps`` when every point carries it, else ``band_of(achieved_eps)`` (tier band) when given.
    """
    ordered = sorted(points, key=lambda p: p.unix_s)
    if not ordered:
        return []
    use_target = all(p.target_eps is not None for p in ordered)

    def key(p: RatePoint) -> object:
        if use_target:
            return p.target_eps
        return band_of(p.achieved_eps) if band_of is not None else None

    starts = [ordered[0].unix_s - span_s]
    for prev, cur in itertools.pairwise(ordered):
        if key(cur) != key(prev) or cur.unix_s - prev.unix_s > 2 * span_s:
            starts.append(prev.unix_s if cur.unix_s - prev.unix_s <= 2 * span_s else cur.unix_s - span_s)
    return starts


def assign(
    path: str,
    sent_unix_s: float,
    *,
    slo: Slo,
    points: Sequence[RatePoint] = (),
    changes: Sequence[float] = (),
    declared_rate_eps: float | None = None,
    window_s: float = 5.0,
    span_s: float = 1.0,
    end_unix_s: float | None = None,
) -> TierAssignment:
    """The tier, the rate used and whether the send fell in a warm-up or a transition.

    ``declared_rate_eps`` wins over ``points`` (it is what the operator said); ``changes`` are regime starts
    from :func:`change_times`; ``end_unix_s`` is when the load ended, for a complete timeline. ``window_s``
    is used as given (the caller scales it).
    """
    if declared_rate_eps is not None:
        rate: float | None = declared_rate_eps
    else:
        rate = window_rate_eps(points, sent_unix_s, window_s=window_s, span_s=span_s)
    tier = slo.tier_for(path, rate)
    if tier is None:
        return TierAssignment(None, rate, False)
    if tier.at_least_eps is None and tier.below_eps is None:
        return TierAssignment(tier.name, rate, False)  # promised at any rate: rate changes are part of it
    started = [c for c in changes if c <= sent_unix_s]
    warmup = bool(started) and sent_unix_s - max(started) < slo.warmup_s(tier)
    ends = [c for c in changes if c > sent_unix_s] + ([end_unix_s] if end_unix_s is not None else [])
    transition = bool(ends) and min(ends) - sent_unix_s < slo.target_s(tier)
    return TierAssignment(tier.name, rate, warmup or transition)


class Tiering:
    """Applies :func:`assign` to observations from one rate source (points can grow while a run goes on)."""

    def __init__(
        self,
        slo: Slo,
        *,
        declared_rate_eps: float | None = None,
        window_s: float = 5.0,
        span_s: float = 1.0,
        complete: bool = False,
    ):
        """``complete``: the points are the whole run (judging afterwards), so their end is the load's end."""
        self.slo = slo
        self.complete = complete
        self.declared_rate_eps = declared_rate_eps
        self.window_s = window_s
        self.span_s = span_s
        self._points: list[RatePoint] = []
        self._changes: list[float] = []

    def band_of(self, rate_eps: float) -> str | None:
        tier = self.slo.tier_for(ANALYTICAL, rate_eps)
        return tier.name if tier is not None else None

    def extend(self, points: Iterable[RatePoint]) -> None:
        self._points.extend(points)
        self._points.sort(key=lambda p: p.unix_s)
        self._changes = change_times(self._points, band_of=self.band_of, span_s=self.span_s)

    @property
    def points(self) -> list[RatePoint]:
        return list(self._points)

    def ready(self, obs: Observation) -> bool:
        """True once the rate source covers the send time (a live timeline lags by a few seconds)."""
        if self.declared_rate_eps is not None or self.slo.tier_for(obs.path, None) is not None:
            return True
        return bool(self._points) and self._points[-1].unix_s >= obs.sent_unix_ms / 1000.0

    def apply(self, obs: Observation) -> Observation:
        """Tier ``obs``. A send time the rate source does not cover (after the load ended, or while the
        timeline lagged past the hold) has no known rate: only a bandless tier (transactional) takes it."""
        if not self.ready(obs):
            bandless = self.slo.tier_for(obs.path, None)
            return replace(obs, tier=bandless.name if bandless else None, rate_eps=None, warmup=False)
        a = assign(
            obs.path,
            obs.sent_unix_ms / 1000.0,
            slo=self.slo,
            points=self._points,
            changes=self._changes,
            declared_rate_eps=self.declared_rate_eps,
            window_s=self.window_s,
            span_s=self.span_s,
            end_unix_s=self._points[-1].unix_s if self.complete and self._points else None,
        )
        return replace(obs, tier=a.tier, rate_eps=a.rate_eps, warmup=a.warmup)
