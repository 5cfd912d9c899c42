"""Where every canary of a run falls: one row per canary, its tier, window and final outcome, as columns.

The first half of judging (:mod:`ingestbench.checks.judge` does the rest): duplicate records collapse (a ``late`` record
replaces its canary's ``lost`` one), every send is placed on the complete rate timeline
(:func:`ingestbench.checks.tiering.place`), and a canary seen only after its loss horizon becomes ``late``: lost. The
horizon is its tier's for a steady canary; outside the steady window, where the traffic around it was another
tier's, it is the longest of its path's tiers (a canary sent as a high-volume step ends waits for the
low-volume flush).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ingestbench.checks.tiering import WINDOW_CODE, Tiering
from ingestbench.records.observation import AVAILABLE, LATE, OUTCOMES, PATHS, UNDECIDED
from ingestbench.records.samples import OUTCOME_CODE, SampleColumns
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import RatePoint
from ingestbench.records.verdicts import STEADY, WINDOWS, JudgedRow


@dataclass(frozen=True)
class RateSource:
    """What the judge tiers by: a rate timeline (``points``) or a rate the operator declared."""

    points: tuple[RatePoint, ...] = ()
    declared_rate_eps: float | None = None
    window_s: float = 5.0  # already scaled


@dataclass(frozen=True)
class Judged:
    """Every canary as judged, as columns aligned with ``samples`` (one row per canary, collapsed): its tier
    (index into the SLO's tiers, -1: none), the rate used, its window and final outcome (codes), its TTA."""

    samples: SampleColumns
    tier: np.ndarray
    rate_eps: np.ndarray
    window: np.ndarray
    outcome: np.ndarray
    tta_s: np.ndarray
    tier_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.tier.size)

    def rows(self) -> list[JudgedRow]:
        """Every canary as a row object (for a handful: tests, a look at one run; needs the ids)."""
        ids = self.samples.canary_id
        if ids is None:
            raise ValueError("the samples were read without their canary ids")

        def num(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return [JudgedRow(str(ids[i]), PATHS[self.samples.path[i]],
                          self.tier_names[self.tier[i]] if self.tier[i] >= 0 else None, WINDOWS[self.window[i]],
                          num(self.rate_eps[i]), OUTCOMES[self.outcome[i]], num(self.tta_s[i]))
                for i in range(len(self))]


def collapse(samples: SampleColumns) -> SampleColumns:
    """One row per canary and path: a ``late`` record replaces the earlier ``lost`` one; an ``undecided``
    one gives way to any other; otherwise the first record stands."""
    n = len(samples)
    if n == 0:
        return samples
    key = samples.id_hash * np.uint64(2) + samples.path.astype(np.uint64)
    ordered = np.sort(key)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if repeated.size == 0:
        return samples
    twice = np.flatnonzero(np.isin(key, repeated))
    keep = np.ones(n, dtype=bool)
    late, undecided = OUTCOME_CODE[LATE], OUTCOME_CODE[UNDECIDED]
    groups: dict[int, list[int]] = {}
    for row in twice.tolist():  # file order within each canary
        groups.setdefault(int(key[row]), []).append(row)
    for rows in groups.values():
        best = rows[0]
        for r in rows[1:]:
            if samples.outcome[r] == late or samples.outcome[best] == undecided:
                best = r
        keep[rows] = False
        keep[best] = True
    return samples.take(keep)


def place_all(samples: SampleColumns, slo: Slo, rates: RateSource) -> Judged:
    """Tier, window and final outcome of every canary (one per canary), from the complete rate source."""
    rows = collapse(samples)
    tiering = Tiering(slo, declared_rate_eps=rates.declared_rate_eps, window_s=rates.window_s, complete=True)
    tiering.extend(rates.points)
    p = tiering.place_all(rows.path, rows.sent_unix_ms.astype(float))
    horizon_of_tier = np.array([slo.loss_horizon_s(t) for t in slo.tiers] + [np.nan])
    horizon_of_path = np.array([slo.probe_horizon_s(path) for path in PATHS])
    steady = p.window == WINDOW_CODE[STEADY]
    horizon = np.where((p.tier >= 0) & steady, horizon_of_tier[p.tier], horizon_of_path[rows.path])
    outcome = rows.outcome.copy()
    available = outcome == OUTCOME_CODE[AVAILABLE]
    high = rows.tta_high_s()
    with np.errstate(invalid="ignore"):
        outcome[available & (high > horizon)] = OUTCOME_CODE[LATE]  # seen only after its horizon: it was lost
    tta = np.where(outcome == OUTCOME_CODE[AVAILABLE], rows.tta_s(), np.nan)
    return Judged(rows, p.tier, p.rate_eps, p.window, outcome, tta, tuple(t.name for t in slo.tiers))
