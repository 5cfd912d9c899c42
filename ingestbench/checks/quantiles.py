"""Order-statistic quantiles and their distribution-free confidence intervals.

Percentiles are nearest-rank: the ``p``-th percentile of ``n`` sorted values is the value at rank
``ceil(p/100 * n)``, always one of the observations, never an interpolation. Losses enter as ``+inf``, so a
percentile is infinite only when the share of canaries lost (or slower) exceeds ``1 - p/100``, and the
percentile is consistent with the confidence interval, which is a pair of ranks in the same sorted list.

>>> quantile([0.1, 0.2, 0.3, float("inf")], 75)
0.3
>>> quantile_ci_ranks(100, 0.95)
(90, 100)
>>> upper_bound_min_n(0.95)
72
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def nearest_rank(n: int, pct: float) -> int:
    """1-based rank of the ``pct``-th percentile among ``n`` values (``n >= 1``)."""
    return min(n, max(1, math.ceil(pct / 100.0 * n - 1e-9)))


def quantile(sorted_values: Sequence[float] | np.ndarray, pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    n = len(sorted_values)
    return float(sorted_values[nearest_rank(n, pct) - 1]) if n else None


def quantile_ci_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int | None, int | None]:
    """1-based order-statistic ranks ``(l, u)`` with ``P(x_(l) <= xi_q <= x_(u)) >= confidence``.

    With ``K ~ Binomial(n, q)`` the count of samples below the true quantile, ``l`` is the largest rank with
    ``P(K < l) <= alpha/2`` and ``u`` the smallest with ``P(K >= u) <= alpha/2``; a side that no rank can
    satisfy (too few samples) is None. Example: n=100, q=0.95 gives (90, 100).
    """
    if n <= 0:
        return None, None
    half = (1.0 - confidence) / 2
    cdf = np.cumsum(np.exp(_log_binom_pmf(n, q)))
    # P(K < l) = cdf[l-1] <= half, for l in 1..n
    lows = np.nonzero(cdf[:n] <= half)[0]
    # P(K >= u) = 1 - cdf[u-1] <= half, for u in 1..n
    highs = np.nonzero(1.0 - cdf[:n] <= half)[0]
    low = int(lows[-1]) + 1 if lows.size else None
    high = int(highs[0]) + 1 if highs.size else None
    return low, high


def upper_bound_min_n(q: float, confidence: float = 0.95) -> int:
    """The fewest samples for which the ``q`` quantile has an upper confidence bound (``q^n <= alpha/2``)."""
    return math.ceil(math.log((1.0 - confidence) / 2) / math.log(q) - 1e-9)


def _log_binom_pmf(n: int, q: float) -> np.ndarray:
    """``log P(K = k)`` for ``k = 0..n``, ``K ~ Binomial(n, q)``: from ``P(K = 0)`` by the ratio of neighbours,
    ``P(K = k + 1) / P(K = k) = (n - k) / (k + 1) * q / (1 - q)``, a cumulative sum (fast for any ``n``)."""
    if q <= 0.0:
        return np.where(np.arange(n + 1) == 0, 0.0, -np.inf)
    if q >= 1.0:
        return np.where(np.arange(n + 1) == n, 0.0, -np.inf)
    k = np.arange(n, dtype=float)
    steps = np.log(n - k) - np.log(k + 1) + (math.log(q) - math.log1p(-q))
    return np.concatenate([[0.0], np.cumsum(steps)]) + n * math.log1p(-q)
