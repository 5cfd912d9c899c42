"""Which tier an observation counts for, from the ingest rate *achieved* before it was sent, and in which window.

Pure functions over a rate timeline (one point per measurement window, e.g. the load generator's per-second
records, or samples of a Prometheus rate query). A point covers ``(unix_s - span_s, unix_s]``.

- Rate at send time: the mean achieved rate of the points overlapping ``[sent - window_s, sent]``.
- Rate changes: where the requested ``target_eps`` changes (when the points carry it), otherwise where the
  achieved rate moves into another tier's band. Within a continuous shape (a ramp, a replayed traffic shape:
  points with a ``regime``), where the asked rate changes every second, only where it enters another tier's
  band, or the shape starts or ends.
- Windows: a canary sent less than its tier's warm-up after the latest change is in the ``warmup`` window;
  one sent less than its tier's target before the next change, or before the end of a complete timeline (the
  load stopped), is in the ``transition`` window (its TTA depends on the traffic that follows: a
  size-triggered flush needs the events after it); one sent when no point covers it (before the load
  started, after it ended) is in the ``outside`` window, at rate 0 once the timeline is complete (the load
  was not running), and live at the rate of the nearest point. One sent while the generator was behind its
  schedule (a point with ``behind_s``: from that long before the point's window to its end), or less than its
  tier's target before such a stall, is in the ``stall`` window: a pause of the generator delays the traffic a
  size-triggered flush waits for. Everything else is ``steady``. Only steady canaries' TTAs enter a tier's
  percentiles; losses and errors count in every window.
- A tier without a rate band (transactional: "at any rate") is always steady.
- A fixed declared rate has no change points: a standalone probe watches a system already in its regime.

:func:`place` does it for a whole run at once, as arrays (a million sends in a few tens of milliseconds);
:mod:`ingestbench.checks.rate_tiering` holds a growing rate source and places one send or many with it.

>>> pts = [RatePoint(100.0, 10.0, 10.0), RatePoint(101.0, 2000.0, 2000.0), RatePoint(102.0, 2000.0, 2000.0)]
>>> window_rate_eps(pts, 101.5, window_s=1.0)
2000.0
>>> change_times(pts)
[99.0, 100.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingestbench.records.observation import PATHS
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import RatePoint
from ingestbench.records.verdicts import OUTSIDE, STALL, STEADY, TRANSITION, WARMUP, WINDOWS

WINDOW_CODE = {name: i for i, name in enumerate(WINDOWS)}


@dataclass(frozen=True)
class Placements:
    """Where many sends fall: per send, the tier's index in the SLO (-1: none), the rate (NaN: unknown) and
    the window's index in :data:`~ingestbench.records.verdicts.WINDOWS`."""

    tier: np.ndarray
    rate_eps: np.ndarray
    window: np.ndarray


@dataclass(frozen=True)
class RateArrays:
    """Rate points as sorted arrays, with their regime starts and cumulative rates (built once per run)."""

    unix_s: np.ndarray
    achieved_eps: np.ndarray
    changes: np.ndarray
    _cumulative: np.ndarray
    stall_from: np.ndarray = field(default_factory=lambda: np.empty(0))  # disjoint stalls, sorted
    stall_to: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def of(cls, points: Sequence[RatePoint], changes: Sequence[float], *, span_s: float = 1.0) -> RateArrays:
        ordered = sorted(points, key=lambda p: p.unix_s)
        achieved = np.array([p.achieved_eps for p in ordered], dtype=float)
        stall_from, stall_to = _stalls(ordered, span_s)
        return cls(np.array([p.unix_s for p in ordered], dtype=float), achieved,
                   np.array(sorted(changes), dtype=float), np.concatenate([[0.0], np.cumsum(achieved)]),
                   stall_from, stall_to)

    def window_rates(self, at_s: np.ndarray, *, window_s: float, span_s: float) -> np.ndarray:
        """Mean achieved rate of the points with ``at - window_s < unix_s < at + span_s`` (NaN: none)."""
        lo = np.searchsorted(self.unix_s, at_s - window_s, side="right")
        hi = np.searchsorted(self.unix_s, at_s + span_s, side="left")
        count = hi - lo
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, (self._cumulative[hi] - self._cumulative[lo]) / count, np.nan)

    def nearest_rates(self, at_s: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.unix_s, at_s), 1, max(1, self.unix_s.size - 1))
        left, right = i - 1, np.minimum(i, self.unix_s.size - 1)
        use_right = np.abs(self.unix_s[right] - at_s) < np.abs(self.unix_s[left] - at_s)
        return np.where(use_right, self.achieved_eps[right], self.achieved_eps[left])


def _stalls(ordered: Sequence[RatePoint], span_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The stalls of points as disjoint ``[from, to)`` intervals, in order. A stall reaches back by its lag, so
    a later second's reach can begin before an earlier one's: the reaches are merged in the order they begin."""
    merged: list[list[float]] = []
    for start, end in sorted((p.unix_s - span_s - p.behind_s, p.unix_s) for p in ordered if p.behind_s > 0):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.array([m[0] for m in merged], dtype=float), np.array([m[1] for m in merged], dtype=float)


def place(paths: np.ndarray, sent_unix_s: np.ndarray, *, slo: Slo, timeline: RateArrays | None = None,
          declared_rate_eps: float | None = None, window_s: float = 5.0, span_s: float = 1.0,
          end_unix_s: float | None = None) -> Placements:
    """Tier, rate and window of every send (``paths`` as indices into :data:`~ingestbench.records.observation.PATHS`).

    ``declared_rate_eps`` wins over the timeline (it is what the operator said); ``end_unix_s`` is when the
    load ended, for a complete timeline. ``window_s`` is used as given (the caller scales it).
    """
    n = sent_unix_s.size
    window = np.full(n, WINDOW_CODE[STEADY], dtype=np.int8)
    has_points = timeline is not None and timeline.unix_s.size > 0
    if declared_rate_eps is not None:
        rate = np.full(n, float(declared_rate_eps))
    elif timeline is None or not has_points:
        rate = np.full(n, np.nan)
    else:
        rate = timeline.window_rates(sent_unix_s, window_s=window_s, span_s=span_s)
        outside = sent_unix_s <= timeline.unix_s[0] - span_s
        if end_unix_s is not None:
            outside |= sent_unix_s > end_unix_s
        rate = np.where(outside, 0.0, rate)  # before the load started or after it ended: none of it ran
        gap = np.isnan(rate)  # live, beyond what the timeline covers so far: the nearest rate
        rate = np.where(gap, timeline.nearest_rates(sent_unix_s), rate)
        window[outside | gap] = WINDOW_CODE[OUTSIDE]
    tier = np.full(n, -1, dtype=np.int16)
    for i, t in reversed(list(enumerate(slo.tiers))):  # the first matching tier wins
        match = paths == PATHS.index(t.path)
        if t.banded:
            with np.errstate(invalid="ignore"):
                if t.at_least_eps is not None:
                    match &= rate >= t.at_least_eps
                if t.below_eps is not None:
                    match &= rate < t.below_eps
        tier[match] = i
    if has_points and timeline is not None and declared_rate_eps is None:
        _windows(window, tier, sent_unix_s, slo, timeline.changes, end_unix_s)
        _stall_window(window, tier, sent_unix_s, slo, timeline)
    bandless = np.array([not t.banded for t in slo.tiers] + [False])[tier]
    window[bandless] = WINDOW_CODE[STEADY]  # promised at any rate: rate changes are part of it
    return Placements(tier, np.where(np.isnan(rate), np.nan, rate), window)


def _windows(window: np.ndarray, tier: np.ndarray, sent: np.ndarray, slo: Slo, changes: np.ndarray,
             end_unix_s: float | None) -> None:
    """Mark warm-ups and transitions in ``window`` (sends already outside the load keep that window)."""
    warmup_s = np.array([slo.warmup_s(t) for t in slo.tiers] + [0.0])[tier]
    target_s = np.array([slo.target_s(t) for t in slo.tiers] + [0.0])[tier]
    idx = np.searchsorted(changes, sent, side="right") - 1
    started = idx >= 0
    since = sent - changes[np.maximum(idx, 0)] if changes.size else np.full(sent.size, np.inf)
    following = np.append(changes, np.inf)[np.minimum(idx + 1, changes.size)]
    if end_unix_s is not None:
        following = np.minimum(following, end_unix_s)
    steady = (window == WINDOW_CODE[STEADY]) & (tier >= 0)
    warm = steady & started & (since < warmup_s)
    window[warm] = WINDOW_CODE[WARMUP]
    window[steady & ~warm & (following - sent < target_s)] = WINDOW_CODE[TRANSITION]


def _stall_window(window: np.ndarray, tier: np.ndarray, sent: np.ndarray, slo: Slo, timeline: RateArrays) -> None:
    """Mark steady sends in a stall, or less than their tier's target before one, as ``stall``."""
    if not timeline.stall_to.size:
        return
    target_s = np.array([slo.target_s(t) for t in slo.tiers] + [0.0])[tier]
    k = np.searchsorted(timeline.stall_to, sent, side="right")  # the first stall ending after the send
    ahead = k < timeline.stall_to.size
    starts = np.append(timeline.stall_from, np.inf)[k]
    hit = ahead & (sent >= starts - target_s) & (window == WINDOW_CODE[STEADY]) & (tier >= 0)
    window[hit] = WINDOW_CODE[STALL]


def window_rate_eps(
    points: Sequence[RatePoint], at_unix_s: float, *, window_s: float, span_s: float = 1.0
) -> float | None:
    """Mean achieved rate of the points whose window overlaps ``[at - window_s, at]``; None if none do.

    The point containing ``at`` counts too, so a send in the current second is tiered even when only a
    fraction of the window lies behind it.
    """
    rate = RateArrays.of(points, ()).window_rates(np.array([at_unix_s]), window_s=window_s, span_s=span_s)[0]
    return None if np.isnan(rate) else float(rate)


def change_times(
    points: Sequence[RatePoint],
    *,
    band_of: Callable[[float], str | None] | None = None,
    span_s: float = 1.0,
) -> list[float]:
    """Start times of each rate regime (the first point's window start is always one).

    Uses ``target_eps`` when every point carries it (within a shape, ``band_of(target_eps)``), else
    ``band_of(achieved_eps)`` (tier band) when given.
    """
    ordered = sorted(points, key=lambda p: p.unix_s)
    if not ordered:
        return []
    use_target = all(p.target_eps is not None for p in ordered)

    def key(p: RatePoint) -> object:
        if use_target and p.regime is not None:  # a ramp or a replay: one regime per band it passes through
            return ("shape", p.regime, band_of(p.target_eps or 0.0) if band_of is not None else None)
        if use_target:
            return p.target_eps
        return band_of(p.achieved_eps) if band_of is not None else None

    starts = [ordered[0].unix_s - span_s]
    for prev, cur in itertools.pairwise(ordered):
        if key(cur) != key(prev) or cur.unix_s - prev.unix_s > 2 * span_s:
            starts.append(prev.unix_s if cur.unix_s - prev.unix_s <= 2 * span_s else cur.unix_s - span_s)
    return starts
