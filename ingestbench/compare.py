"""Compare two runs tier by tier.

A tier regressed when:

- it is **missing** from the candidate (it was judged in the baseline, so the candidate no longer tests it);
- it **lost** more canaries than the baseline and more than its loss budget allows;
- its judged percentile grew by more than the allowed share **and** beyond the noise (the candidate's 95 %
  lower bound lies above the baseline's 95 % upper bound) **and** by more than a small share of the tier's
  target (``min_change``, default 5 %): a transactional read going from 2 ms to 3 ms against a 1 s promise is
  machine noise, not a regression a gate should fail on.

Confidence bounds are never invented. ``run.json`` stores a value beyond the loss horizon as null, so a null
bound is read back by asking whether its order-statistic rank exists for the tier's ``n``: if it does, the
value there was a loss (``+inf``); if it does not, the interval is unbounded on that side, and a growth that
cannot be separated from the noise is reported as not conclusive, never as a regression.

Pure: two ``run.json`` documents in, rows out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from checks.quantiles import quantile_ci_ranks


@dataclass(frozen=True)
class TierDiff:
    tier: str
    percentile: float
    base_s: float | None
    candidate_s: float | None
    change: float | None
    regressed: bool
    note: str


def _judged(t: dict[str, Any]) -> float | None:
    value = t.get("judged_s", t.get("p95_s"))
    if value is None:
        return math.inf if t.get("n") else None
    return float(value)


def _bound(t: dict[str, Any], side: str) -> float | None:
    """The tier's 95 % bound on ``side`` (``low``/``high``): a number, ``inf`` (a loss at that rank), or None
    (no such rank: the interval is unbounded on that side)."""
    value = t.get(f"ci_{side}_s")
    if value is not None:
        return float(value)
    n = int(t.get("n") or 0)
    low, high = quantile_ci_ranks(n, float(t.get("percentile", 95)) / 100.0)
    return math.inf if (low if side == "low" else high) is not None else None


def compare_runs(base: dict[str, Any], candidate: dict[str, Any], *, max_regression: float = 0.10,
                 min_change: float = 0.05) -> list[TierDiff]:
    base_tiers = {t["tier"]: t for t in base.get("tiers", [])}
    out = []
    for cand in candidate.get("tiers", []):
        name = cand["tier"]
        ref = base_tiers.get(name)
        out.append(_diff(name, ref, cand, max_regression, min_change) if ref is not None else
                   TierDiff(name, float(cand.get("percentile", 95)), None, _judged(cand), None, False,
                            "not in the baseline"))
    for name in sorted(set(base_tiers) - {t["tier"] for t in candidate.get("tiers", [])}):
        out.append(TierDiff(name, float(base_tiers[name].get("percentile", 95)), _judged(base_tiers[name]), None,
                            None, True, "missing from the candidate: it is no longer tested"))
    return out


def _diff(name: str, ref: dict[str, Any], cand: dict[str, Any], max_regression: float,
          min_change: float) -> TierDiff:
    pct = float(cand.get("percentile", 95))
    b, c = _judged(ref), _judged(cand)
    lost_b, lost_c = int(ref.get("lost") or 0), int(cand.get("lost") or 0)
    if lost_c > lost_b and lost_c > int(cand.get("allowed_lost") or 0):
        return TierDiff(name, pct, b, c, None, True, f"lost canaries grew from {lost_b} to {lost_c}")
    if b is None or c is None:
        return TierDiff(name, pct, b, c, None, False, "no samples on one side")
    change = (c - b) / b if b > 0 and math.isfinite(b) else (0.0 if c == b else math.inf)
    floor = min_change * float(cand.get("target_s") or ref.get("target_s") or 0.0)
    grew = change > max_regression and c - b > floor
    cand_low, base_high = _bound(cand, "low"), _bound(ref, "high")
    if not grew:
        note = "no regression" if math.isfinite(change) else "changed"
        return TierDiff(name, pct, b, c, change, False, note)
    if cand_low is None or base_high is None or math.isinf(base_high):
        side = "candidate's lower" if cand_low is None else "baseline's upper"
        return TierDiff(name, pct, b, c, change, False,
                        f"{change:+.0%}, not conclusive at 95% (the {side} bound is unbounded; more samples needed)")
    if cand_low > base_high:
        return TierDiff(name, pct, b, c, change, True,
                        f"regressed {change:+.0%} beyond the noise (confidence intervals do not overlap)")
    return TierDiff(name, pct, b, c, change, False, f"{change:+.0%}, within the noise (confidence intervals overlap)")
