"""Tiering by one rate source that may grow while a run goes on: what the probe, the live view and the judge
hold. :class:`Tiering` places one send (:meth:`Tiering.place`) or many (:meth:`Tiering.place_all`) with
:func:`ingestbench.checks.tiering.place`; :func:`assign` does it for one send and a list of points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ingestbench.checks.tiering import Placements, RateArrays, change_times, place
from ingestbench.records.observation import ANALYTICAL, PATHS
from ingestbench.records.samples import BLOCK
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import RatePoint
from ingestbench.records.verdicts import STEADY, WINDOWS


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
    """:func:`place` for one send: the tier, the rate used and the window."""
    return _one(path, sent_unix_s, slo, RateArrays.of(points, changes, span_s=span_s), declared_rate_eps, window_s,
                span_s, end_unix_s)


def _one(path: str, sent_unix_s: float, slo: Slo, timeline: RateArrays, declared_rate_eps: float | None,
         window_s: float, span_s: float, end_unix_s: float | None) -> TierAssignment:
    p = place(np.array([PATHS.index(path)]), np.array([sent_unix_s]), slo=slo, timeline=timeline,
              declared_rate_eps=declared_rate_eps, window_s=window_s, span_s=span_s, end_unix_s=end_unix_s)
    tier, rate = int(p.tier[0]), float(p.rate_eps[0])
    return TierAssignment(slo.tiers[tier].name if tier >= 0 else None, None if np.isnan(rate) else rate,
                          WINDOWS[int(p.window[0])])


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
        self._timeline = RateArrays.of((), ())

    def band_of(self, rate_eps: float) -> str | None:
        tier = self.slo.tier_for(ANALYTICAL, rate_eps)
        return tier.name if tier is not None else None

    def extend(self, points: Iterable[RatePoint]) -> None:
        new = list(points)
        if not new:
            return
        self._points.extend(new)
        self._points.sort(key=lambda p: p.unix_s)
        changes = change_times(self._points, band_of=self.band_of, span_s=self.span_s)
        self._timeline = RateArrays.of(self._points, changes, span_s=self.span_s)

    @property
    def points(self) -> list[RatePoint]:
        return list(self._points)

    @property
    def end_unix_s(self) -> float | None:
        return self._points[-1].unix_s if self.complete and self._points else None

    def ready(self, path: str, sent_unix_ms: int) -> bool:
        """True once the rate source covers the send time (a live timeline lags by a few seconds)."""
        if self.complete or self.declared_rate_eps is not None or self.slo.tier_for(path, None) is not None:
            return True
        return bool(self._points) and self._points[-1].unix_s >= sent_unix_ms / 1000.0

    def place(self, path: str, sent_unix_ms: int) -> TierAssignment:
        """Tier and window of a send. Live, a send the timeline does not cover yet takes the nearest rate."""
        return _one(path, sent_unix_ms / 1000.0, self.slo, self._timeline, self.declared_rate_eps, self.window_s,
                    self.span_s, self.end_unix_s)

    def place_all(self, paths: np.ndarray, sent_unix_ms: np.ndarray) -> Placements:
        """:meth:`place` for many sends at once (arrays), a block at a time: temporaries stay small."""
        n = sent_unix_ms.size
        out = Placements(np.empty(n, dtype=np.int16), np.empty(n), np.empty(n, dtype=np.int8))
        for a in range(0, n, BLOCK):
            b = min(n, a + BLOCK)
            p = place(paths[a:b], sent_unix_ms[a:b] / 1000.0, slo=self.slo, timeline=self._timeline,
                      declared_rate_eps=self.declared_rate_eps, window_s=self.window_s, span_s=self.span_s,
                      end_unix_s=self.end_unix_s)
            out.tier[a:b], out.rate_eps[a:b], out.window[a:b] = p.tier, p.rate_eps, p.window
        return out
