"""RateSchedule ("when"): the target event rate as a pure function of elapsed time.

A schedule is a sequence of :class:`Segment` values, each a ramp from ``start_rate_eps`` to ``end_rate_eps``
over ``duration_s`` (equal rates make a flat step): linear, or exponential (``curve="exponential"``: the rate
grows or shrinks by the same factor every second, ``r(u) = r0 * (r1/r0) ** (u/d)``). ``constant``, ``steps``,
``ramp`` and ``spike`` are constructors over that one representation, so the pacer needs only two functions:
:meth:`RateSchedule.events_until` (the integral of the rate) and :meth:`RateSchedule.time_of_event` (its
inverse), which give the open-model send time of event ``n`` exactly, even across rate changes.

>>> s = RateSchedule.steps([(900, 10), (1100, 10)])
>>> s.rate_at(12.0), s.duration_s, s.total_events
(1100.0, 20.0, 20000.0)
>>> s.time_of_event(9000)  # the first event of the second step
10.0
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property

LINEAR, EXPONENTIAL = "linear", "exponential"
CURVES = (LINEAR, EXPONENTIAL)


@dataclass(frozen=True)
class Segment:
    """A rate ramp, linear or exponential (a flat step when both rates are equal).

    >>> up = Segment(100, 800, 3, EXPONENTIAL)  # doubles every second
    >>> round(up.rate_at(1.0)), round(up.events_until(1.0) * math.log(2)), round(up.time_of_event(up.events), 9)
    (200, 100, 3.0)
    """

    start_rate_eps: float
    end_rate_eps: float
    duration_s: float
    curve: str = LINEAR

    def __post_init__(self) -> None:
        if self.start_rate_eps < 0 or self.end_rate_eps < 0:
            raise ValueError("segment rates must be >= 0")
        if not self.duration_s > 0:
            raise ValueError("segment duration_s must be > 0")
        if self.curve not in CURVES:
            raise ValueError(f"segment curve must be one of {', '.join(CURVES)}")
        if self.curve == EXPONENTIAL and not (self.start_rate_eps > 0 and self.end_rate_eps > 0):
            raise ValueError("an exponential segment needs both rates > 0")

    @cached_property
    def _log_k(self) -> float:
        """``ln(end / start)`` per duration for an exponential segment (0: flat)."""
        return math.log(self.end_rate_eps / self.start_rate_eps) if self.curve == EXPONENTIAL else 0.0

    @cached_property
    def events(self) -> float:
        return self.events_until(self.duration_s)

    def rate_at(self, u_s: float) -> float:
        if self.curve == EXPONENTIAL:
            return self.start_rate_eps * math.exp(self._log_k * u_s / self.duration_s)
        return self.start_rate_eps + (self.end_rate_eps - self.start_rate_eps) * u_s / self.duration_s

    def events_until(self, u_s: float) -> float:
        u = min(max(u_s, 0.0), self.duration_s)
        if self.curve == EXPONENTIAL:
            # r0 d / ln k (k^(u/d) - 1), written as r0 u expm1(x)/x: exact as k nears 1 (x -> 0 gives r0 u)
            x = self._log_k * u / self.duration_s
            return self.start_rate_eps * u * (math.expm1(x) / x if x != 0 else 1.0)
        slope = (self.end_rate_eps - self.start_rate_eps) / self.duration_s
        return self.start_rate_eps * u + slope * u * u / 2

    def time_of_event(self, n: float) -> float:
        """Offset into the segment at which ``n`` events (0 <= n <= events) have been due."""
        a = self.start_rate_eps
        if self.curve == EXPONENTIAL:
            # d / ln k * ln(1 + n ln k / (r0 d)), written as n/r0 * log1p(y)/y: exact as k nears 1
            y = n * self._log_k / (a * self.duration_s)
            return n / a * (math.log1p(y) / y if y != 0 else 1.0)
        k = (self.end_rate_eps - a) / (2 * self.duration_s)
        if k == 0:
            return n / a
        # k u^2 + a u - n = 0; this form stays stable when k is tiny or negative.
        return 2 * n / (a + math.sqrt(max(a * a + 4 * k * n, 0.0)))


@dataclass(frozen=True)
class RateSchedule:
    """Target events/s over elapsed seconds; each segment is one *step* for reporting and verdicts."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a schedule needs at least one segment")

    @cached_property
    def _starts(self) -> tuple[float, ...]:
        starts = [0.0]
        for seg in self.segments:
            starts.append(starts[-1] + seg.duration_s)
        return tuple(starts)

    @cached_property
    def _cum(self) -> tuple[float, ...]:
        cum = [0.0]
        for seg in self.segments:
            cum.append(cum[-1] + seg.events)
        return tuple(cum)

    # --- constructors ---------------------------------------------------------------------------
    @classmethod
    def constant(cls, rate_eps: float, duration_s: float) -> RateSchedule:
        return cls((Segment(rate_eps, rate_eps, duration_s),))

    @classmethod
    def steps(cls, steps: Iterable[tuple[float, float]]) -> RateSchedule:
        """Flat steps from ``(rate_eps, duration_s)`` pairs."""
        return cls(tuple(Segment(r, r, d) for r, d in steps))

    @classmethod
    def ramp(cls, start_rate_eps: float, end_rate_eps: float, duration_s: float) -> RateSchedule:
        return cls((Segment(start_rate_eps, end_rate_eps, duration_s),))

    @classmethod
    def spike(cls, base_eps: float, spike_eps: float, *, before_s: float, spike_s: float,
              after_s: float) -> RateSchedule:
        """A base rate, a sudden spike, and the base rate again (three steps)."""
        return cls.steps([(base_eps, before_s), (spike_eps, spike_s), (base_eps, after_s)])

    def scaled(self, time_scale: float) -> RateSchedule:
        """Durations multiplied by ``time_scale``; rates are never scaled."""
        if not time_scale > 0:
            raise ValueError("time_scale must be > 0")
        return RateSchedule(tuple(replace(s, duration_s=s.duration_s * time_scale) for s in self.segments))

    # --- queries ----------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self._starts[-1]

    @property
    def total_events(self) -> float:
        return self._cum[-1]

    def step_bounds(self, index: int) -> tuple[float, float]:
        """``(start_s, end_s)`` of step ``index``."""
        return self._starts[index], self._starts[index + 1]

    def step_at(self, t_s: float) -> int | None:
        """Index of the step running at ``t_s``; None before 0 or from the end on."""
        if t_s < 0 or t_s >= self.duration_s:
            return None
        return bisect.bisect_right(self._starts, t_s) - 1

    def rate_at(self, t_s: float) -> float:
        """Target events/s at ``t_s``; 0 outside the schedule."""
        i = self.step_at(t_s)
        if i is None:
            return 0.0
        return self.segments[i].rate_at(t_s - self._starts[i])

    def max_rate_between(self, t0_s: float, t1_s: float) -> float:
        """Highest target rate within ``[t0_s, t1_s]`` (rates are monotone within a segment)."""
        points = [t0_s, min(t1_s, self.duration_s - 1e-9)]
        points += [s for s in self._starts if t0_s <= s < t1_s]
        for i in range(len(self.segments)):
            _, end = self.step_bounds(i)
            if t0_s <= end - 1e-9 <= t1_s:
                points.append(end - 1e-9)
        return max(self.rate_at(p) for p in points)

    def events_until(self, t_s: float) -> float:
        """Events due in ``[0, t_s)``: the integral of the rate."""
        if t_s <= 0:
            return 0.0
        if t_s >= self.duration_s:
            return self.total_events
        i = self.step_at(t_s)
        assert i is not None
        return self._cum[i] + self.segments[i].events_until(t_s - self._starts[i])

    def time_of_event(self, n: float) -> float | None:
        """When event ``n`` (0-based) is due; None when the schedule holds fewer than ``n + 1`` events."""
        found = self.locate_event(n)
        return None if found is None else found[0]

    def locate_event(self, n: float) -> tuple[float, int] | None:
        """``(time_s, step)`` of event ``n``; None past the last event. One lookup for the pacer's hot path."""
        if n < 0:
            raise ValueError("n must be >= 0")
        cum = self._cum
        if n >= cum[-1]:
            return None
        i = bisect.bisect_right(cum, n) - 1
        while cum[i + 1] == cum[i]:  # zero-rate steps hold no events
            i += 1
        seg = self.segments[i]
        if seg.start_rate_eps == seg.end_rate_eps:
            return self._starts[i] + (n - cum[i]) / seg.start_rate_eps, i
        return self._starts[i] + seg.time_of_event(n - cum[i]), i
