"""Scalar tiering as it was before the columnar judge: the oracle for tests (see reference_judge)."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import RatePoint
from ingestbench.records.verdicts import OUTSIDE, STALL, STEADY, TRANSITION, WARMUP


@dataclass(frozen=True)
class TierAssignment:
    """Where a send time falls: the tier (None when no tier matches the rate), the rate, the window."""

    tier: str | None
    rate_eps: float | None
    window: str = STEADY

    @property
    def judged(self) -> bool:
        """True when the canary's TTA enters its tier's percentiles."""
        return self.window == STEADY


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


def nearest_rate_eps(points: Sequence[RatePoint], at_unix_s: float) -> float | None:
    """The achieved rate of the point nearest in time to ``at`` (points sorted by time); None without points."""
    if not points:
        return None
    i = bisect.bisect_left([p.unix_s for p in points], at_unix_s)
    near = [p for p in points[max(0, i - 1):i + 1]]
    return min(near, key=lambda p: abs(p.unix_s - at_unix_s)).achieved_eps


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
    """The tier, the rate used and the window of a send at ``sent_unix_s``.

    ``declared_rate_eps`` wins over ``points`` (it is what the operator said); ``points`` are sorted by time;
    ``changes`` are regime starts from :func:`change_times`; ``end_unix_s`` is when the load ended, for a
    complete timeline. ``window_s`` is used as given (the caller scales it).
    """
    window = STEADY
    if declared_rate_eps is not None:
        rate: float | None = declared_rate_eps
    elif points and (sent_unix_s <= points[0].unix_s - span_s
                     or (end_unix_s is not None and sent_unix_s > end_unix_s)):
        rate, window = 0.0, OUTSIDE  # before the load started or after it ended: none of it ran
    else:
        rate = window_rate_eps(points, sent_unix_s, window_s=window_s, span_s=span_s)
        if rate is None and points:  # live, beyond what the timeline covers so far: the nearest rate
            rate, window = nearest_rate_eps(points, sent_unix_s), OUTSIDE
    tier = slo.tier_for(path, rate)
    if tier is None:
        return TierAssignment(None, rate, window)
    if not tier.banded:
        return TierAssignment(tier.name, rate, STEADY)  # promised at any rate: rate changes are part of it
    if window == OUTSIDE:
        return TierAssignment(tier.name, rate, OUTSIDE)
    started = [c for c in changes if c <= sent_unix_s]
    if started and sent_unix_s - max(started) < slo.warmup_s(tier):
        return TierAssignment(tier.name, rate, WARMUP)
    ends = [c for c in changes if c > sent_unix_s] + ([end_unix_s] if end_unix_s is not None else [])
    if ends and min(ends) - sent_unix_s < slo.target_s(tier):
        return TierAssignment(tier.name, rate, TRANSITION)
    for p in points:  # a stalled second reaches back by its lag; a send within the target before it counts too
        if p.behind_s > 0 and p.unix_s - span_s - p.behind_s - slo.target_s(tier) <= sent_unix_s < p.unix_s:
            return TierAssignment(tier.name, rate, STALL)
    return TierAssignment(tier.name, rate, STEADY)


class Tiering:
    """Places send times from one rate source (points can grow while a run goes on).

    Live (``complete=False``: the probe's metrics, the progress view) a send the timeline does not cover yet
    is not :meth:`ready`; once the timeline is complete (the judge), every send is placed.
    """

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

    def ready(self, path: str, sent_unix_ms: int) -> bool:
        """True once the rate source covers the send time (a live timeline lags by a few seconds)."""
        if self.complete or self.declared_rate_eps is not None or self.slo.tier_for(path, None) is not None:
            return True
        return bool(self._points) and self._points[-1].unix_s >= sent_unix_ms / 1000.0

    def place(self, path: str, sent_unix_ms: int) -> TierAssignment:
        """Tier and window of a send. Live, a send the timeline does not cover yet takes the latest rate."""
        return assign(
            path,
            sent_unix_ms / 1000.0,
            slo=self.slo,
            points=self._points,
            changes=self._changes,
            declared_rate_eps=self.declared_rate_eps,
            window_s=self.window_s,
            span_s=self.span_s,
            end_unix_s=self._points[-1].unix_s if self.complete and self._points else None,
        )
