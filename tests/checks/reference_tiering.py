"""The oracle's placement of one send: its tier, the rate it was tiered by, its window. One send at a time,
plain loops over plain dicts, from the rules as the README states them:

- A rate point covers the second before its ``unix_s``. The rate at a send is the mean achieved rate of the
  points with ``send - window < unix_s < send + 1 s``. A send at or before the first point's second, or after
  the last point (the load ended), was outside the load: rate 0. A send no point is near (a gap in the
  timeline) takes the rate of the nearest point (the earlier one on a tie) and is outside too.
- Its tier is the first of the promise whose path and band (``at_least <= rate < below``) hold.
- A regime starts at the first point's second, where the requested rate changes (within a ramp or a replayed
  shape, points with a ``regime``: where the requested rate enters another tier's band, or the shape starts;
  the achieved rate's tier band, when some point lacks a requested rate), and after a gap of more than two
  seconds between points (then at the second of the point after it; otherwise at the end of the point before
  the change).
- Window, for a banded tier: ``outside`` as above; ``warmup`` when less than the tier's warm-up after the
  latest regime start; ``transition`` when less than the tier's target before the next start or the load's
  end; ``stall`` when in, or less than the target before, a stalled second's reach (``unix_s - 1 - behind``
  up to ``unix_s``); otherwise ``steady``. A tier promised at any rate is always steady, and a declared rate
  has no windows at all.
"""

from __future__ import annotations

from typing import Any

from tests.checks.reference_records import SPAN_S, Promise

STEADY, WARMUP, TRANSITION, OUTSIDE, STALL = "steady", "warmup", "transition", "outside", "stall"


class Timeline:
    """A complete rate timeline (or a declared rate) and the regime starts it implies."""

    def __init__(self, promise: Promise, points: list[dict[str, Any]], *, window: float,
                 declared: float | None = None):
        self.promise = promise
        self.points = sorted(points, key=lambda p: p["unix_s"])
        self.window = window
        self.declared = declared
        self.starts = self._regime_starts()
        self.stalls = [(p["unix_s"] - SPAN_S - p["behind_s"], p["unix_s"]) for p in self.points if p["behind_s"] > 0]

    def _band(self, rate: float) -> str | None:
        return next((b.name for b in self.promise.bands if b.path == "analytical" and b.holds("analytical", rate)),
                    None)

    def _regime(self, p: dict[str, Any]) -> object:
        if all(q["target_eps"] is not None for q in self.points):
            if p.get("regime") is not None:  # a ramp or a replay: a new regime only where a band is entered
                return ("shape", p["regime"], self._band(p["target_eps"]))
            return p["target_eps"]
        return self._band(p["achieved_eps"])

    def _regime_starts(self) -> list[float]:
        if not self.points:
            return []
        starts = [self.points[0]["unix_s"] - SPAN_S]
        for before, after in zip(self.points, self.points[1:], strict=False):
            gap = after["unix_s"] - before["unix_s"]
            if gap > 2 * SPAN_S:
                starts.append(after["unix_s"] - SPAN_S)
            elif self._regime(after) != self._regime(before):
                starts.append(before["unix_s"])
        return starts

    def _rate(self, sent: float) -> tuple[float | None, bool]:
        """The rate a send is tiered by, and whether it was outside the load."""
        if self.declared is not None:
            return self.declared, False
        if not self.points:
            return None, False
        if sent <= self.points[0]["unix_s"] - SPAN_S or sent > self.points[-1]["unix_s"]:
            return 0.0, True
        near = [p["achieved_eps"] for p in self.points if sent - self.window < p["unix_s"] < sent + SPAN_S]
        if near:
            return sum(near) / len(near), False
        best = self.points[0]
        for p in self.points[1:]:
            if abs(p["unix_s"] - sent) < abs(best["unix_s"] - sent):
                best = p
        return best["achieved_eps"], True

    def place(self, path: str, sent: float) -> tuple[int | None, float | None, str]:
        """``(tier index or None, rate, window)`` of a send at ``sent`` (unix seconds)."""
        rate, outside = self._rate(sent)
        tier = self.promise.first_band(path, rate)
        if tier is None:
            return None, rate, OUTSIDE if outside else STEADY
        band = self.promise.bands[tier]
        if band.any_rate:
            return tier, rate, STEADY
        if outside:
            return tier, rate, OUTSIDE
        if self.declared is not None or not self.points:
            return tier, rate, STEADY
        return tier, rate, self._window(sent, self.promise.warmup(band), self.promise.target(band))

    def _window(self, sent: float, warmup: float, target: float) -> str:
        begun = [s for s in self.starts if s <= sent]
        if begun and sent - begun[-1] < warmup:
            return WARMUP
        ahead = [s for s in self.starts if s > sent] + [self.points[-1]["unix_s"]]
        if min(ahead) - sent < target:
            return TRANSITION
        if any(start - target <= sent < end for start, end in self.stalls):
            return STALL
        return STEADY
