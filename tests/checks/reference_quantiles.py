"""The oracle's percentiles and confidence ranks, in exact arithmetic.

Nearest rank: the ``p``-th percentile of ``n`` ascending values is the one at rank ``ceil(p * n / 100)`` (at least
1), computed with fractions so that ``95 % of 20`` is exactly rank 19. The 95 % interval is a pair of ranks
``(l, u)``: with ``K ~ Binomial(n, p/100)``, ``l`` is the largest rank with ``P(K < l) <= 2.5 %`` and ``u`` the
smallest with ``P(K >= u) <= 2.5 %``, either missing when no rank qualifies. The binomial sums are exact
integers (every probability multiplied by ``d ** n``, ``d`` the denominator of ``p/100``).
"""

from __future__ import annotations

import math
from fractions import Fraction


def _share(pct: float) -> Fraction:
    return Fraction(repr(float(pct))) / 100


def rank(n: int, pct: float) -> int:
    """1-based nearest rank of the ``pct``-th percentile among ``n >= 1`` values."""
    return min(n, max(1, math.ceil(_share(pct) * n)))


def percentile(ascending: list[float], pct: float) -> float | None:
    return ascending[rank(len(ascending), pct) - 1] if ascending else None


def ci_ranks(n: int, pct: float) -> tuple[int | None, int | None]:
    """The 1-based ranks bounding the ``pct``-th percentile at 95 % confidence (``None``: no such rank)."""
    if n <= 0:
        return None, None
    q = _share(pct)
    a, d = q.numerator, q.denominator
    b = d - a
    whole = d ** n
    # below[j] = d**n * P(K <= j), exact
    below, running, comb = [], 0, 1
    a_pow, b_pows = 1, [1] * (n + 1)
    for k in range(1, n + 1):
        b_pows[k] = b_pows[k - 1] * b
    for k in range(n + 1):
        running += comb * a_pow * b_pows[n - k]
        below.append(running)
        comb = comb * (n - k) // (k + 1)
        a_pow *= a
    # P(K < l) = below[l-1] / whole <= 1/40  <=>  40 * below[l-1] <= whole
    lows = [r for r in range(1, n + 1) if 40 * below[r - 1] <= whole]
    # P(K >= u) = 1 - below[u-1] / whole <= 1/40  <=>  40 * (whole - below[u-1]) <= whole
    highs = [r for r in range(1, n + 1) if 40 * (whole - below[r - 1]) <= whole]
    return (max(lows) if lows else None), (min(highs) if highs else None)
