"""The statistics of an A/B comparison: bootstrap replicates of a side's value, the change between two sides
with its interval and the confidence that it went the worse way, and an interval for a difference of shares.

A side is one run or several (a replicate set). Its value is the **mean over its runs** of each run's value (a
run's nearest-rank percentile of its judged TTAs, or the mean of its per-second samples); with one run that is
just the run's value. The bootstrap is hierarchical: each replicate draws the side's runs with replacement,
then each drawn run's samples with replacement, so the spread between runs counts as well as the spread within
one. Every draw comes from one seeded generator: the same inputs give the same numbers.

Percentiles never materialise a resample. The ``k``-th smallest of ``n`` draws with replacement from ``n``
sorted values is the value at index ``floor(n * U)`` with ``U ~ Beta(k, n - k + 1)`` (the ``k``-th order
statistic of ``n`` uniforms), so a replicate costs one Beta draw per run however many canaries it had.

>>> rng = np.random.default_rng(1)
>>> a = [np.sort(rng.uniform(1.0, 2.0, 500))]
>>> b = [np.sort(rng.uniform(1.5, 3.0, 500))]
>>> ch = change(percentile_replicates(a, 50, rng), percentile_replicates(b, 50, rng),
...             side_percentile(a, 50), side_percentile(b, 50), direction=1, confidence=0.9)
>>> round(ch.change, 2), ch.low > 0.3, ch.p_worse
(0.53, True, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

REPLICATES = 4000
SEED = 20240611
_CHUNK = 4_000_000  # draws held at once when resampling means


def nearest_index(n: int, pct: float) -> int:
    """0-based index of the nearest-rank ``pct``-th percentile of ``n`` sorted values (as the judge ranks)."""
    return min(n, max(1, math.ceil(pct / 100.0 * n - 1e-9))) - 1


def side_percentile(runs: Sequence[np.ndarray], pct: float) -> float:
    """The side's value: the mean over its runs of each run's nearest-rank percentile (runs sorted)."""
    return float(np.mean([r[nearest_index(r.size, pct)] for r in runs]))


def side_mean(runs: Sequence[np.ndarray]) -> float:
    return float(np.mean([r.mean() for r in runs]))


def percentile_replicates(runs: Sequence[np.ndarray], pct: float, rng: np.random.Generator,
                          replicates: int = REPLICATES) -> np.ndarray:
    """Bootstrap replicates of :func:`side_percentile` (runs sorted, none empty): runs drawn, then canaries."""
    sizes = np.array([r.size for r in runs])
    ks = np.array([nearest_index(int(n), pct) + 1 for n in sizes])
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pooled = np.concatenate(runs)
    picks = rng.integers(0, len(runs), (replicates, len(runs)))
    n, k = sizes[picks], ks[picks]
    u = rng.beta(k, n - k + 1)
    index = np.minimum((u * n).astype(np.int64), n - 1)
    return np.asarray(pooled[offsets[picks] + index].mean(axis=1))


def mean_replicates(runs: Sequence[np.ndarray], rng: np.random.Generator,
                    replicates: int = REPLICATES) -> np.ndarray:
    """Bootstrap replicates of :func:`side_mean` (no run empty): runs drawn, then each run's samples."""
    per_run = np.empty((len(runs), replicates))
    for i, values in enumerate(runs):
        step = max(1, _CHUNK // values.size)
        for a in range(0, replicates, step):
            b = min(replicates, a + step)
            per_run[i, a:b] = values[rng.integers(0, values.size, (b - a, values.size))].mean(axis=1)
    picks = rng.integers(0, len(runs), (replicates, len(runs)))
    columns = rng.integers(0, replicates, (replicates, len(runs)))  # an independent resample per drawn run
    return np.asarray(per_run[picks, columns].mean(axis=1))


@dataclass(frozen=True)
class Change:
    """A change from base to candidate: its point estimate, the two-sided interval at ``level`` and the
    confidence that it went the worse way (None: no interval, there was no sample to draw from)."""

    change: float
    low: float | None = None
    high: float | None = None
    p_worse: float | None = None
    level: float | None = None


def relative(base: float | np.ndarray, cand: float | np.ndarray) -> np.ndarray:
    """``cand / base - 1``; both beyond the loss horizon (inf/inf) or both zero is no change."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(cand, dtype=float) / np.asarray(base, dtype=float) - 1.0
    return np.where(np.isnan(out), 0.0, out)


def change(base_reps: np.ndarray, cand_reps: np.ndarray, base: float, cand: float, *, direction: int,
           confidence: float) -> Change:
    """The relative change with a percentile-bootstrap interval at ``confidence`` (two-sided) and the share
    of replicates in which the candidate is worse than the base (ties count half)."""
    reps = relative(base_reps, cand_reps)
    worse = np.sign(reps) * direction
    p_worse = float((worse > 0).mean() + 0.5 * (worse == 0).mean())
    low, high = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2], method="inverted_cdf")
    return Change(float(relative(base, cand)), float(low), float(high), p_worse, confidence)


def wilson(x: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a share ``x / n`` (``n >= 1``) at normal quantile ``z``."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_difference(x_base: int, n_base: int, x_cand: int, n_cand: int, level: float) -> tuple[float, float, float]:
    """``cand share - base share`` with Newcombe's hybrid score interval (two-sided, at ``level``)."""
    z = NormalDist().inv_cdf((1 + level) / 2) if level > 0 else 0.0
    p1, p2 = x_base / n_base, x_cand / n_cand
    l1, u1 = wilson(x_base, n_base, z)
    l2, u2 = wilson(x_cand, n_cand, z)
    d = p2 - p1
    return d, d - math.hypot(p2 - l2, u1 - p1), d + math.hypot(u2 - p2, p1 - l1)


def share_change(x_base: int, n_base: int, x_cand: int, n_cand: int, confidence: float) -> Change:
    """The difference of shares with its Newcombe interval at ``confidence``, and the confidence that it is an
    increase: ``(1 + L) / 2`` for the level ``L`` at which the interval's lower end reaches 0 (found by
    bisection; symmetric for a decrease)."""
    d, low, high = share_difference(x_base, n_base, x_cand, n_cand, confidence)
    if d == 0:
        return Change(0.0, low, high, 0.5, confidence)
    side = 1 if d > 0 else 2  # the end that moves towards 0 as the level grows

    def crosses(level: float) -> bool:
        bounds = share_difference(x_base, n_base, x_cand, n_cand, level)
        return bounds[side] <= 0 if d > 0 else bounds[side] >= 0

    lo_level, hi_level = 0.0, 1 - 1e-12
    if not crosses(hi_level):
        at = hi_level
    else:
        for _ in range(50):
            mid = (lo_level + hi_level) / 2
            lo_level, hi_level = (lo_level, mid) if crosses(mid) else (mid, hi_level)
        at = lo_level
    sure = (1 + at) / 2
    return Change(d, low, high, sure if d > 0 else 1 - sure, confidence)
