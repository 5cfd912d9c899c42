"""Change points in a metric's history: E-divisive means with a Student's t-test, as Apache Otava (formerly
Hunter) computes them, plus a minimum segment length.

The method (Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance Regressions", 2023;
Matteson and James, "A Nonparametric Approach for Multiple Change Point Analysis of Multivariate Data", 2014):

1. Split: the series is cut into overlapping windows of ``window`` points (each starts half a window on, or at
   the last change point found). In each window E-divisive proposes the split that maximises the divergence
   ``q̂`` between the points before it and the points after it; a two-sided Student's t-test between the two
   sides keeps it when its p-value is at most a relaxed threshold (10 × ``max_pvalue`` below 0.05), and the
   window's pieces are split again until a proposal fails. The union over the windows are the weak change points.
2. Merge: the weakest of them (the highest p-value over ``max_pvalue``, else the smallest relative change under
   ``min_magnitude``) is dropped, and its neighbours' statistics are computed again over their new segments,
   until every change point is significant and large enough. As in Otava 0.8.0, only the right neighbour's
   statistics are computed again when a point is dropped (the left one keeps those of its former segments while
   merging goes on); what is returned is computed over the final segments.

The minimum segment length ``min_segment``: split never proposes a point with fewer than ``min_segment`` points
on either side within its piece, and merge drops first a change point with a segment shorter than that on either
side (the one with the highest p-value among them). With ``min_segment = 1`` both steps are Otava's
``compute_change_points`` (tests/ingestbench/test_history_otava.py checks that they agree). Nothing is random:
the same series always gives the same change points.

>>> [(c.index, round(c.mean_before, 1), round(c.mean_after, 1)) for c in change_points([1.0, 1.1, 0.9, 1.0, 1.05,
...  0.95, 3.0, 3.1, 2.9, 3.05, 2.95, 3.0], min_segment=3)]
[(6, 1.0, 3.0)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ChangePoint:
    """A change at ``index``: the first point of the new segment; before and after are the whole segments
    between this change point and its neighbours (or the series' ends)."""

    index: int
    pvalue: float
    mean_before: float
    mean_after: float
    std_before: float
    std_after: float

    @property
    def change(self) -> float:
        """Relative change, after over before minus 1 (0 when before is 0, as Otava has it)."""
        return self.mean_after / self.mean_before - 1.0 if self.mean_before else 0.0

    @property
    def magnitude(self) -> float:
        """The larger relative change of forward and backward (Otava's ``change_magnitude``)."""
        backward = self.mean_before / self.mean_after - 1.0 if self.mean_after else 0.0
        return max(abs(self.change), abs(backward))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_test(left: Array, right: Array) -> tuple[float, float, float, float, float]:
    """Two-sided Student's t-test of equal means (pooled variance), from each side's mean and population standard
    deviation as Otava passes them: (p-value, mean left, mean right, std left, std right)."""
    n1, n2 = len(left), len(right)
    m1, m2 = float(np.mean(left)), float(np.mean(right))
    s1 = float(np.std(left)) if n1 >= 2 else 0.0
    s2 = float(np.std(right)) if n2 >= 2 else 0.0
    if n1 + n2 <= 2:
        return 1.0, m1, m2, s1, s2
    df = n1 + n2 - 2
    pooled = ((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / df
    denom = math.sqrt(pooled * (1.0 / n1 + 1.0 / n2))
    if denom == 0.0:
        return (1.0 if m1 == m2 else 0.0), m1, m2, s1, s2
    t = (m1 - m2) / denom
    return betainc(df / 2.0, 0.5, df / (df + t * t)), m1, m2, s1, s2


def qhat_best(z: Array, min_segment: int) -> tuple[int, float] | None:
    """E-divisive's best split of ``z``: (tau, q̂) maximising q̂ over tau (the first point after the split) and
    kappa (the end of the right part), with at least ``min_segment`` points left of tau and in ``z[tau:kappa]``;
    None when ``z`` is too short for that."""
    n = len(z)
    if n < max(2, 2 * min_segment):
        return None
    d = np.abs(z[:, None] - z[None, :])
    s = np.zeros((n + 1, n + 1))
    s[1:, 1:] = d.cumsum(0).cumsum(1)  # s[a, b]: sum of d[:a, :b]
    tau, kappa = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    ok = (tau >= max(1, min_segment)) & (kappa - tau >= max(1, min_segment))
    t, k = tau[ok], kappa[ok]
    zero = np.zeros_like(t)
    within_x = s[t, t] / 2.0
    within_y = (s[k, k] - s[t, k] - s[k, t] + s[t, t]) / 2.0
    cross = s[t, k] - s[t, t]
    nx, ny = t.astype(float), (k - t).astype(float)
    total = nx + ny
    bx = np.divide(2.0 * ny, total * (nx - 1.0), out=zero.astype(float), where=nx > 1)
    by = np.divide(2.0 * nx, total * (ny - 1.0), out=zero.astype(float), where=ny > 1)
    q = 2.0 / total * cross - bx * within_x - by * within_y
    # Otava's argmax runs over tau first, then kappa: the first maximum in that order wins a tie
    best = int(np.lexsort((k, t))[np.argmax(q[np.lexsort((k, t))])])
    return int(t[best]), float(q[best])


def _intervals(cps: Sequence[int], n: int) -> list[tuple[int, int]]:
    bounds = [0, *cps, n]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a != b]


def _divisive(z: Array, max_pvalue: float, min_segment: int) -> list[int]:
    """E-divisive within one window: the significant splits of ``z``, strongest first, indices within ``z``."""
    cps: list[int] = []
    while True:
        best: tuple[float, int, int, int] | None = None  # q̂, tau, start, end
        for a, b in _intervals(cps, len(z)):
            found = qhat_best(z[a:b], min_segment) if b - a > 1 else None
            if found is not None and (best is None or found[1] > best[0]):
                best = (found[1], a + found[0], a, b)
        if best is None:
            return cps
        _, tau, a, b = best
        if t_test(z[a:tau], z[tau:b])[0] > max_pvalue:
            return cps
        cps = sorted([*cps, tau])


def _stats(z: Array, cps: list[int], i: int) -> ChangePoint:
    """Change point ``cps[i]`` with its segments (between its neighbours)."""
    lo = cps[i - 1] if i > 0 else 0
    hi = cps[i + 1] if i + 1 < len(cps) else len(z)
    p, m1, m2, s1, s2 = t_test(z[lo:cps[i]], z[cps[i]:hi])
    return ChangePoint(cps[i], p, m1, m2, s1, s2)


def change_points(series: Sequence[float], *, max_pvalue: float = 0.001, min_magnitude: float = 0.0,
                  min_segment: int = 1, window: int = 50) -> list[ChangePoint]:
    """The change points of ``series`` (in order), each with the means of its segments and its p-value."""
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window}")
    if min_segment < 1:
        raise ValueError(f"min_segment must be at least 1, got {min_segment}")
    z = np.asarray(series, dtype=np.float64)
    n = len(z)
    relaxed = max_pvalue * 10 if max_pvalue < 0.05 else (max_pvalue * 2 if max_pvalue < 0.5 else max_pvalue)
    weak: list[int] = []
    start, step = 0, window // 2
    while start < n:  # split
        end = min(start + window, n)
        found = [start + c for c in _divisive(z[start:end], relaxed, min_segment)]
        start = max(max(found) if found else 0, start + step)
        weak += [c for c in found if c not in weak]
    cps = sorted(weak)
    points = [_stats(z, cps, i) for i in range(len(cps))]
    while points:  # merge
        short = [p for i, p in enumerate(points) if _shortest(cps, i, n) < min_segment]
        weakest = max(short or points, key=lambda p: p.pvalue)
        if not short and weakest.pvalue < max_pvalue:
            weakest = min(points, key=lambda p: p.magnitude)
            if weakest.magnitude > min_magnitude:
                break
        at = points.index(weakest)
        del points[at], cps[at]
        for i in (at, at + 1):  # as Otava 0.8.0 does: the left neighbour keeps its statistics for now
            if i < len(points):
                points[i] = _stats(z, cps, i)
    return [_stats(z, cps, i) for i in range(len(cps))]  # each over its final segments


def _shortest(cps: list[int], i: int, n: int) -> int:
    lo = cps[i - 1] if i > 0 else 0
    hi = cps[i + 1] if i + 1 < len(cps) else n
    return min(cps[i] - lo, hi - cps[i])
