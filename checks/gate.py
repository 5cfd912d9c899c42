"""Judge observations against the SLO: per tier quantiles, a confidence interval, pass / fail / insufficient.

Pure: observations in, :class:`GateResult` out, so a finished run can be re-judged from its
``samples.jsonl`` (see :mod:`checks.recorder`). Counting rules:

- Judged samples are the tier's non-warm-up ``available`` canaries plus its ``lost`` ones. A lost canary is
  a TTA beyond the loss limit, so it enters the quantiles as +inf: losing canaries can never make a tier
  pass. A ``late`` record supersedes the ``lost`` record of the same canary (still +inf for verdicts).
- ``errored`` canaries (the ingest itself failed) and warm-up canaries are counted apart, not judged.
- Fewer judged samples than ``min_samples`` makes the tier ``insufficient``: the run is invalid, not passed.
- Pass when the judged percentile (numpy, linear interpolation) is <= the tier's target. The reason also
  gives a distribution-free 95 % confidence interval for that percentile from order statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from checks.observation import AVAILABLE, ERRORED, LATE, LOST, Observation
from checks.slo import Slo, Tier

PASS = "pass"
FAIL = "fail"
INSUFFICIENT = "insufficient"
INVALID = "invalid"

REPORTED_QUANTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class TierVerdict:
    tier: str
    path: str
    band: str
    percentile: float
    target_s: float
    min_samples: int
    n: int
    available: int
    p50_s: float | None
    p90_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    judged_s: float | None
    ci_low_s: float | None
    ci_high_s: float | None
    lost: int
    late: int
    errored: int
    duplicates: int
    warmup: int
    status: str
    passed: bool
    reason: str

    def to_record(self) -> dict[str, Any]:
        """For ``run.json``: non-finite values (beyond the loss limit) become null."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        return out


@dataclass(frozen=True)
class GateResult:
    verdicts: tuple[TierVerdict, ...]
    untiered: int
    unobserved: tuple[str, ...]
    status: str
    reason: str


def quantile_ci_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int | None, int | None]:
    """1-based order-statistic ranks ``(l, u)`` with ``P(x_(l) <= xi_q <= x_(u)) >= confidence``.

    With ``K ~ Binomial(n, q)`` the count of samples below the true quantile, ``l`` is the largest rank with
    ``P(K < l) <= alpha/2`` and ``u`` the smallest with ``P(K >= u) <= alpha/2``; a side that no rank can
    satisfy (too few samples) is None. Example: n=100, q=0.95 gives (91, 99).
    """
    if n <= 0:
        return None, None
    alpha = 1.0 - confidence
    k = np.arange(n + 1)
    log_pmf = np.array([_log_binom_pmf(int(i), n, q) for i in k])
    cdf = np.cumsum(np.exp(log_pmf))
    # P(K < l) = cdf[l-1]; need <= alpha/2, for l in 1..n
    lows = [rank for rank in range(1, n + 1) if cdf[rank - 1] <= alpha / 2]
    # P(K >= u) = 1 - cdf[u-1]; need <= alpha/2, for u in 1..n
    highs = [rank for rank in range(1, n + 1) if 1.0 - cdf[rank - 1] <= alpha / 2]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _log_binom_pmf(k: int, n: int, q: float) -> float:
    if q <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if q >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        + k * math.log(q) + (n - k) * math.log1p(-q)
    )


def _quantile(values: np.ndarray, pct: float) -> float:
    with np.errstate(invalid="ignore"):
        result = float(np.quantile(values, pct / 100.0))
    return math.inf if math.isnan(result) else result


def collapse(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per canary and path: a ``late`` record replaces the earlier ``lost`` one."""
    latest: dict[tuple[str, str], Observation] = {}
    for obs in observations:
        key = (obs.path, obs.canary_id)
        prev = latest.get(key)
        if prev is None or obs.outcome == LATE or prev.outcome != LATE:
            latest[key] = obs
    return list(latest.values())


def judge_tier(tier: Tier, slo: Slo, observations: list[Observation]) -> TierVerdict:
    """The verdict for one tier over the (already collapsed) observations assigned to it."""
    live = [o for o in observations if not o.warmup]
    available = [o.tta_s for o in live if o.outcome == AVAILABLE and o.tta_s is not None]
    lost = sum(1 for o in live if o.outcome == LOST)
    late = sum(1 for o in live if o.outcome == LATE)
    errored = sum(1 for o in live if o.outcome == ERRORED)
    warm = sum(1 for o in observations if o.warmup)
    dups = sum(o.duplicates for o in observations)
    values = np.sort(np.array(available + [math.inf] * (lost + late), dtype=float))
    n = int(values.size)
    target = slo.target_s(tier)
    quant: dict[int, float | None] = {q: None for q in REPORTED_QUANTILES}
    judged = max_s = ci_low = ci_high = None
    if n:
        quant = {q: _quantile(values, q) for q in REPORTED_QUANTILES}
        judged = _quantile(values, tier.percentile)
        max_s = float(values[-1])
        lo, hi = quantile_ci_ranks(n, tier.percentile / 100.0)
        ci_low = float(values[lo - 1]) if lo is not None else None
        ci_high = float(values[hi - 1]) if hi is not None else None
    pname = f"p{tier.percentile:g}"
    extras = _extras(lost, late, errored, warm, dups)
    if n < tier.min_samples:
        status, passed = INSUFFICIENT, False
        reason = f"only {n} of the {tier.min_samples} samples needed to judge {pname}{extras}."
    else:
        assert judged is not None
        passed = judged <= target
        status = PASS if passed else FAIL
        ci = _fmt_ci(ci_low, ci_high)
        verb = "is within" if passed else "exceeds"
        if math.isinf(judged):
            reason = (
                f"{pname} TTA is beyond the loss limit (n={n}{extras}) and exceeds the {target:g} s target."
            )
        else:
            reason = f"{pname} TTA {judged:.3g} s ({ci}, n={n}{extras}) {verb} the {target:g} s target."
        if ci_low is not None and ci_high is not None and ci_low <= target < ci_high:
            reason = reason[:-1] + "; not conclusive at 95% confidence."
    return TierVerdict(
        tier=tier.name, path=tier.path, band=tier.band(), percentile=tier.percentile, target_s=target,
        min_samples=tier.min_samples, n=n, available=len(available),
        p50_s=quant[50], p90_s=quant[90], p95_s=quant[95], p99_s=quant[99], max_s=max_s,
        judged_s=judged, ci_low_s=ci_low, ci_high_s=ci_high, lost=lost, late=late, errored=errored,
        duplicates=dups, warmup=warm, status=status, passed=passed, reason=reason,
    )


def judge(observations: Iterable[Observation], slo: Slo, *, require_all: bool = False) -> GateResult:
    """Verdicts for every tier that saw any observation (every tier when ``require_all``) and the run status.

    Run status: ``fail`` if any tier failed (a failure on enough samples is evidence whatever else
    happened), else ``invalid`` if any tier is insufficient or nothing was judged, else ``pass``.
    """
    obs = collapse(observations)
    by_tier: dict[str, list[Observation]] = {t.name: [] for t in slo.tiers}
    untiered = 0
    for o in obs:
        if o.tier in by_tier:
            by_tier[o.tier].append(o)
        else:
            untiered += 1
    verdicts = []
    unobserved = []
    for tier in slo.tiers:
        if not by_tier[tier.name] and not require_all:
            unobserved.append(tier.name)
            continue
        verdicts.append(judge_tier(tier, slo, by_tier[tier.name]))
    failed = [v.tier for v in verdicts if v.status == FAIL]
    short = [v.tier for v in verdicts if v.status == INSUFFICIENT]
    if failed:
        status, reason = FAIL, f"SLO failed for tier {', '.join(failed)}."
    elif not verdicts:
        status, reason = INVALID, f"no observation could be judged ({untiered} without a tier)."
    elif short:
        status, reason = INVALID, f"too few samples for tier {', '.join(short)}."
    else:
        status, reason = PASS, f"all {len(verdicts)} judged tiers met their targets."
    return GateResult(tuple(verdicts), untiered, tuple(unobserved), status, reason)


def _extras(lost: int, late: int, errored: int, warm: int, dups: int) -> str:
    parts = []
    if lost:
        parts.append(f"{lost} lost")
    if late:
        parts.append(f"{late} lost then seen late")
    if errored:
        parts.append(f"{errored} errored")
    if warm:
        parts.append(f"{warm} in warm-up")
    if dups:
        parts.append(f"{dups} duplicates")
    return ("; " + ", ".join(parts)) if parts else ""


def _fmt_ci(low: float | None, high: float | None) -> str:
    lo = "?" if low is None else f"{low:.3g}"
    hi = "unbounded" if high is None or math.isinf(high) else f"{high:.3g}"
    return f"95% CI {lo}–{hi} s"
