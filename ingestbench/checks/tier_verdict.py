"""One tier's verdict from the canaries placed in it: counts per window, budgets, quantiles, the wording.

Judged TTAs are the steady window's: ``available`` canaries with their TTA, lost ones as ``+inf``
(nearest-rank percentiles, see :mod:`ingestbench.checks.quantiles`). Losses and errors count in every window against the
tier's budgets. A pass is "not conclusive at 95%" when the percentile's confidence interval is unbounded or
straddles the target.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from ingestbench.checks.placement import Judged
from ingestbench.checks.quantiles import quantile, quantile_ci_ranks, upper_bound_min_n
from ingestbench.checks.tiering import WINDOW_CODE
from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, LOST, OUTCOMES, UNDECIDED
from ingestbench.records.samples import OUTCOME_CODE
from ingestbench.records.slo import Slo, Tier
from ingestbench.records.verdicts import FAIL, INSUFFICIENT, PASS, STEADY, UNJUDGED, WINDOWS, TierVerdict

REPORTED_QUANTILES = (50, 90, 95, 99)
_WINDOW_TEXT = {STEADY: "steady", "warmup": "in warm-up", "transition": "in transition",
                "outside": "outside the load", "stall": "in a generator stall"}


def judge_tier(tier: Tier, slo: Slo, judged: Judged, index: int, *, expected: bool = True) -> TierVerdict:
    """The verdict for one tier over the canaries placed in it (``expected``: the run set out to test it)."""
    mine = judged.tier == index
    outcome, window = judged.outcome[mine], judged.window[mine]
    canaries = int(outcome.size)
    grid = np.bincount(window.astype(np.int64) * len(OUTCOMES) + outcome,
                       minlength=len(WINDOWS) * len(OUTCOMES)).reshape(len(WINDOWS), len(OUTCOMES))
    windows: dict[str, Counter[str]] = {WINDOWS[w]: Counter({OUTCOMES[o]: int(grid[w, o])
                                                           for o in range(len(OUTCOMES)) if grid[w, o]})
                                        for w in range(len(WINDOWS)) if grid[w].any()}
    count = Counter({OUTCOMES[o]: int(grid[:, o].sum()) for o in range(len(OUTCOMES))})
    lost, late, errored = count[LOST] + count[LATE], count[LATE], count[ERRORED]
    in_steady = window == WINDOW_CODE[STEADY]
    judged_codes = [OUTCOME_CODE[AVAILABLE], OUTCOME_CODE[LOST], OUTCOME_CODE[LATE]]
    steady = in_steady & np.isin(outcome, judged_codes)
    values = np.where(outcome[steady] == OUTCOME_CODE[AVAILABLE], judged.tta_s[mine][steady], math.inf)
    values = np.sort(np.where(np.isnan(values), math.inf, values))
    n, target, pct = int(values.size), slo.target_s(tier), tier.percentile
    quant = {q: quantile(values, q) for q in REPORTED_QUANTILES}
    judged_s = quantile(values, pct)
    ci_low = ci_high = None
    lo = hi = None
    if n:
        lo, hi = quantile_ci_ranks(n, pct / 100.0)
        ci_low = float(values[lo - 1]) if lo is not None else None
        ci_high = float(values[hi - 1]) if hi is not None else None
    allowed_lost, allowed_errored = tier.max_lost.allowed(canaries), tier.max_errored.allowed(canaries)
    budgets = []
    if lost > allowed_lost:
        budgets.append(f"{lost} of {canaries} canaries lost{_where(windows, (LOST, LATE))}"
                       f"{f', {late} of them seen late' if late else ''}, over the loss budget of "
                       f"{tier.max_lost.text()}")
    if errored > allowed_errored:
        budgets.append(f"{errored} of {canaries} canaries errored{_where(windows, (ERRORED,))}, over the error "
                       f"budget of {tier.max_errored.text()} ({allowed_errored} allowed)")
    pname = f"p{pct:g}"
    conclusive = True
    excluded = int((~in_steady).sum())
    extras = _extras(excluded, count, " ".join(budgets))
    if n == 0 and not expected:
        status = FAIL if budgets else UNJUDGED
        sentence = f"{pname} not judged: no steady canary (the run did not set out to test this tier){extras}"
    elif n < tier.min_samples:
        status = FAIL if budgets else INSUFFICIENT
        sentence = ("no canary was judged in this tier" if not canaries else
                    f"only {n} of the {tier.min_samples} steady samples needed to judge {pname}"
                    f"{extras}")
    else:
        assert judged_s is not None
        within = judged_s <= target
        status = PASS if within and not budgets else FAIL
        ci = _fmt_ci(ci_low, ci_high)
        verb = "is within" if within else "exceeds"
        if math.isinf(judged_s):
            sentence = f"{pname} TTA is beyond the loss horizon ({ci}, n={n}{extras})"
        else:
            sentence = f"{pname} TTA {judged_s:.3g} s ({ci}, n={n}{extras}) {verb} the {target:g} s target"
        conclusive = _conclusive(within, ci_low, ci_high, target)
        if not conclusive:
            sentence += "; not conclusive at 95% confidence"
            if ci_high is None:
                sentence += f" (an upper bound needs {upper_bound_min_n(pct / 100.0)} steady samples)"
    reason = "; ".join([*budgets, sentence]) + "."
    reason = reason[0].upper() + reason[1:] if budgets else reason
    return TierVerdict(
        tier=tier.name, path=tier.path, band=tier.band(), percentile=pct, target_s=target,
        min_samples=tier.min_samples, loss_horizon_s=slo.loss_horizon_s(tier), canaries=canaries, n=n,
        available=count[AVAILABLE], p50_s=quant[50], p90_s=quant[90], p95_s=quant[95], p99_s=quant[99],
        max_s=float(values[-1]) if n else None, judged_s=judged_s, ci_low_s=ci_low, ci_high_s=ci_high,
        ci_low_rank=lo, ci_high_rank=hi,
        lost=lost, late=late, errored=errored, undecided=count[UNDECIDED], allowed_lost=allowed_lost,
        allowed_errored=allowed_errored, duplicates=int(judged.samples.duplicates[mine].sum()),
        excluded=excluded,
        windows={w: dict(windows[w]) for w in WINDOWS if w in windows},
        status=status, passed=status == PASS, conclusive=conclusive, reason=reason,
    )


def _conclusive(within: bool, low: float | None, high: float | None, target: float) -> bool:
    """The 95 % interval lies wholly on the verdict's side of the target."""
    if within:
        return high is not None and high <= target
    return low is not None and low > target


def _where(windows: Mapping[str, Counter[str]], outcomes: Sequence[str]) -> str:
    """``" (2 steady, 1 in warm-up)"``: how many of ``outcomes`` fell in each window."""
    counts = {w: sum(windows[w][o] for o in outcomes) for w in WINDOWS if w in windows}
    parts = [f"{k} {_WINDOW_TEXT[w]}" for w, k in counts.items() if k]
    return f" ({', '.join(parts)})" if parts else ""


def _extras(excluded: int, count: Mapping[str, int], said: str) -> str:
    """Counts the sentence should mention that a budget sentence (``said``) has not already."""
    parts = []
    lost, errored = count[LOST] + count[LATE], count[ERRORED]
    if lost and " lost" not in said:
        parts.append(f"{lost} lost" + (f" ({count[LATE]} seen late)" if count[LATE] else ""))
    if errored and " errored" not in said:
        parts.append(f"{errored} errored")
    if excluded:
        parts.append(f"{excluded} outside the steady window not judged")
    return ("; " + ", ".join(parts)) if parts else ""


def _fmt_ci(low: float | None, high: float | None) -> str:
    lo = "?" if low is None else ("inf" if math.isinf(low) else f"{low:.3g}")
    hi = "unbounded" if high is None else ("inf" if math.isinf(high) else f"{high:.3g}")
    return f"95% CI {lo}–{hi} s"
