"""Compare two runs tier by tier.

A tier regressed when:

- it is **missing** from the candidate (it was judged in the baseline, so the candidate no longer tests it);
- it **lost** more canaries than the baseline and more than its loss budget allows;
- its judged percentile grew by more than the allowed share **and** beyond the noise (the candidate's 95 %
  lower bound lies above the baseline's 95 % upper bound) **and** by more than a small share of the tier's
  target (``min_change``, default 5 %): a transactional read going from 2 ms to 3 ms against a 1 s promise is
  machine noise, not a regression a gate should fail on.

Confidence bounds are never invented: a side of an interval whose order-statistic rank does not exist is
unbounded, and a growth that cannot be separated from the noise is reported as not conclusive, never as a
regression. Pure: two runs' tier verdicts in, rows out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ingestbench.records.verdicts import TierVerdict


@dataclass(frozen=True)
class TierDiff:
    tier: str
    percentile: float
    base_s: float | None
    candidate_s: float | None
    change: float | None
    regressed: bool
    note: str


def compare_runs(base: Sequence[TierVerdict], candidate: Sequence[TierVerdict], *, max_regression: float = 0.10,
                 min_change: float = 0.05) -> list[TierDiff]:
    base_tiers = {t.tier: t for t in base}
    out = []
    for cand in candidate:
        ref = base_tiers.get(cand.tier)
        out.append(_diff(ref, cand, max_regression, min_change) if ref is not None else
                   TierDiff(cand.tier, cand.percentile, None, cand.judged_s, None, False, "not in the baseline"))
    for name in sorted(set(base_tiers) - {t.tier for t in candidate}):
        ref = base_tiers[name]
        out.append(TierDiff(name, ref.percentile, ref.judged_s, None, None, True,
                            "missing from the candidate: it is no longer tested"))
    return out


def _diff(ref: TierVerdict, cand: TierVerdict, max_regression: float, min_change: float) -> TierDiff:
    name, pct = cand.tier, cand.percentile
    b, c = ref.judged_s, cand.judged_s
    if cand.lost > ref.lost and cand.lost > cand.allowed_lost:
        return TierDiff(name, pct, b, c, None, True, f"lost canaries grew from {ref.lost} to {cand.lost}")
    if b is None or c is None:
        return TierDiff(name, pct, b, c, None, False, "no samples on one side")
    change = (c - b) / b if b > 0 and math.isfinite(b) else (0.0 if c == b else math.inf)
    floor = min_change * (cand.target_s or ref.target_s or 0.0)
    grew = change > max_regression and c - b > floor
    if not grew:
        return TierDiff(name, pct, b, c, change, False, "no regression" if math.isfinite(change) else "changed")
    cand_low, base_high = cand.ci_low_s, ref.ci_high_s
    if cand_low is None or base_high is None or math.isinf(base_high):
        side = "candidate's lower" if cand_low is None else "baseline's upper"
        return TierDiff(name, pct, b, c, change, False,
                        f"{change:+.0%}, not conclusive at 95% (the {side} bound is unbounded; more samples needed)")
    if cand_low > base_high:
        return TierDiff(name, pct, b, c, change, True,
                        f"regressed {change:+.0%} beyond the noise (confidence intervals do not overlap)")
    return TierDiff(name, pct, b, c, change, False, f"{change:+.0%}, within the noise (confidence intervals overlap)")
