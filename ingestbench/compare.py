"""Compare two runs tier by tier: a regression is a judged percentile that grew by more than the allowed
share **and** beyond the noise (the two 95 % confidence intervals do not overlap) **and** by more than a
small share of the tier's target (``min_change``, default 5 %): a transactional read going from 2 ms to
3 ms against a 1 s promise is machine noise, not a regression a gate should fail on.

Pure: two ``run.json`` documents in, rows out. A percentile beyond the loss limit is stored as null in
``run.json`` and read back here as infinite when the tier had samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


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


def _ci(t: dict[str, Any], key: str, missing: float) -> float:
    v = t.get(key)
    if v is None and key == "ci_high_s" and t.get("max_s") is not None:
        # too few samples for an order-statistic upper bound at 95 %: the largest observation stands in
        # (for the p95 and n >= 59 it is itself such a bound)
        v = t["max_s"]
    return missing if v is None else float(v)


def compare_runs(base: dict[str, Any], candidate: dict[str, Any], *, max_regression: float = 0.10,
                 min_change: float = 0.05) -> list[TierDiff]:
    base_tiers = {t["tier"]: t for t in base.get("tiers", [])}
    out = []
    for cand in candidate.get("tiers", []):
        name = cand["tier"]
        pct = float(cand.get("percentile", 95))
        ref = base_tiers.get(name)
        c = _judged(cand)
        if ref is None:
            out.append(TierDiff(name, pct, None, c, None, False, "not in the baseline"))
            continue
        b = _judged(ref)
        if b is None or c is None:
            out.append(TierDiff(name, pct, b, c, None, False, "no samples on one side"))
            continue
        change = (c - b) / b if b > 0 and math.isfinite(b) else (0.0 if c == b else math.inf)
        floor = min_change * float(cand.get("target_s") or ref.get("target_s") or 0.0)
        grew = change > max_regression and c - b > floor
        # non-overlap: the candidate's lower bound lies above the baseline's upper bound
        separated = _ci(cand, "ci_low_s", c) > _ci(ref, "ci_high_s", math.inf if ref.get("n") else b)
        regressed = grew and separated
        if regressed:
            note = f"regressed {change:+.0%} beyond the noise (confidence intervals do not overlap)"
        elif grew:
            note = f"{change:+.0%}, within the noise (confidence intervals overlap)"
        else:
            note = "no regression" if math.isfinite(change) else "changed"
        out.append(TierDiff(name, pct, b, c, change, regressed, note))
    for name in sorted(set(base_tiers) - {t["tier"] for t in candidate.get("tiers", [])}):
        out.append(TierDiff(name, float(base_tiers[name].get("percentile", 95)), _judged(base_tiers[name]), None,
                            None, False, "missing from the candidate"))
    return out
