"""Judging as it was before the columnar judge: one Python object per canary, scalar tiering.

Kept as the oracle the columnar judge (:mod:`ingestbench.checks.judge`) is compared with on the same inputs
(``tests/checks/test_judge_columnar.py``): the verdicts must be identical. Not used by the product.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, LOST, UNDECIDED, Observation
from ingestbench.records.slo import Slo, Tier
from ingestbench.records.timeline import RatePoint, StepRow
from ingestbench.records.verdicts import (
    FAIL,
    INSUFFICIENT,
    INVALID,
    PASS,
    STEADY,
    UNJUDGED,
    WINDOWS,
    JudgedRow,
    TierVerdict,
)
from tests.checks.reference_quantiles import quantile, quantile_ci_ranks, upper_bound_min_n
from tests.checks.reference_tiering import Tiering

REPORTED_QUANTILES = (50, 90, 95, 99)
_WINDOW_TEXT = {STEADY: "steady", "warmup": "in warm-up", "transition": "in transition",
                "outside": "outside the load", "stall": "in a generator stall"}


@dataclass(frozen=True)
class RateSource:
    """What the judge tiers by: a rate timeline (``points``) or a rate the operator declared."""

    points: tuple[RatePoint, ...] = ()
    declared_rate_eps: float | None = None
    window_s: float = 5.0  # already scaled


@dataclass(frozen=True)
class Judged:
    """One canary as judged: its facts, where it was placed, and its final outcome under its tier's horizon."""

    obs: Observation
    tier: str | None
    rate_eps: float | None
    window: str
    outcome: str

    @property
    def tta_s(self) -> float | None:
        return self.obs.tta_s if self.outcome == AVAILABLE else None

    def row(self) -> JudgedRow:
        """The line of ``judged.jsonl`` (and what the reports chart)."""
        o = self.obs
        return JudgedRow(o.canary_id, o.path, self.tier, self.window, self.rate_eps, self.outcome, o.sent_unix_ms,
                         self.tta_s, o.tta_low_s, o.tta_high_s)


@dataclass(frozen=True)
class RunVerdict:
    tiers: tuple[TierVerdict, ...]
    judged: tuple[Judged, ...]
    invalid_reasons: tuple[str, ...]
    untiered: int
    undecided: int
    status: str
    reason: str
    exit_code: ExitCode


def collapse(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per canary and path: a ``late`` record replaces the earlier ``lost`` one."""
    latest: dict[tuple[str, str], Observation] = {}
    for obs in observations:
        key = (obs.path, obs.canary_id)
        prev = latest.get(key)
        if prev is None or obs.outcome == LATE or prev.outcome == UNDECIDED:
            latest[key] = obs
    return list(latest.values())


def place(observations: Iterable[Observation], slo: Slo, rates: RateSource) -> list[Judged]:
    """Tier, window and final outcome of every canary (one per canary), from the complete rate source."""
    tiering = Tiering(slo, declared_rate_eps=rates.declared_rate_eps, window_s=rates.window_s, complete=True)
    tiering.extend(rates.points)
    horizons = {t.name: slo.loss_horizon_s(t) for t in slo.tiers}
    out = []
    for obs in collapse(observations):
        a = tiering.place(obs.path, obs.sent_unix_ms)
        outcome = obs.outcome
        high = obs.tta_high_s
        horizon = horizons[a.tier] if a.tier is not None and a.judged else slo.probe_horizon_s(obs.path)
        if outcome == AVAILABLE and high is not None and high > horizon:
            outcome = LATE  # seen, but only after its loss horizon: it was lost
        out.append(Judged(obs, a.tier, a.rate_eps, a.window, outcome))
    return out


def judge_tier(tier: Tier, slo: Slo, judged: Sequence[Judged], *, expected: bool = True) -> TierVerdict:
    """The verdict for one tier over the canaries placed in it (``expected``: the run set out to test it)."""
    windows: dict[str, Counter[str]] = {}
    for j in judged:
        windows.setdefault(j.window, Counter())[j.outcome] += 1
    count = Counter(j.outcome for j in judged)
    lost, late, errored = count[LOST] + count[LATE], count[LATE], count[ERRORED]
    steady = [j for j in judged if j.window == STEADY and j.outcome in (AVAILABLE, LOST, LATE)]
    ttas = [j.tta_s for j in steady if j.outcome == AVAILABLE and j.tta_s is not None]
    values = np.sort(np.array(ttas + [math.inf] * (len(steady) - len(ttas)), dtype=float))
    n, target, pct = int(values.size), slo.target_s(tier), tier.percentile
    quant = {q: quantile(values, q) for q in REPORTED_QUANTILES}
    judged_s = quantile(values, pct)
    ci_low = ci_high = None
    lo = hi = None
    if n:
        lo, hi = quantile_ci_ranks(n, pct / 100.0)
        ci_low = float(values[lo - 1]) if lo is not None else None
        ci_high = float(values[hi - 1]) if hi is not None else None
    allowed_lost, allowed_errored = tier.max_lost.allowed(len(judged)), tier.max_errored.allowed(len(judged))
    budgets = []
    if lost > allowed_lost:
        budgets.append(f"{lost} of {len(judged)} canaries lost{_where(windows, (LOST, LATE))}"
                       f"{f', {late} of them seen late' if late else ''}, over the loss budget of "
                       f"{tier.max_lost.text()}")
    if errored > allowed_errored:
        budgets.append(f"{errored} of {len(judged)} canaries errored{_where(windows, (ERRORED,))}, over the error "
                       f"budget of {tier.max_errored.text()} ({allowed_errored} allowed)")
    pname = f"p{pct:g}"
    conclusive = True
    excluded = sum(1 for j in judged if j.window != STEADY)
    extras = _extras(excluded, count, " ".join(budgets))
    if n == 0 and not expected:
        status = FAIL if budgets else UNJUDGED
        sentence = f"{pname} not judged: no steady canary (the run did not set out to test this tier){extras}"
    elif n < tier.min_samples:
        status = FAIL if budgets else INSUFFICIENT
        sentence = ("no canary was judged in this tier" if not judged else
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
        min_samples=tier.min_samples, loss_horizon_s=slo.loss_horizon_s(tier), canaries=len(judged), n=n,
        available=count[AVAILABLE], p50_s=quant[50], p90_s=quant[90], p95_s=quant[95], p99_s=quant[99],
        max_s=float(values[-1]) if n else None, judged_s=judged_s, ci_low_s=ci_low, ci_high_s=ci_high,
        ci_low_rank=lo, ci_high_rank=hi,
        lost=lost, late=late, errored=errored, undecided=count[UNDECIDED], allowed_lost=allowed_lost,
        allowed_errored=allowed_errored, duplicates=sum(j.obs.duplicates for j in judged),
        excluded=excluded,
        windows={w: dict(windows[w]) for w in WINDOWS if w in windows},
        status=status, passed=status == PASS, conclusive=conclusive, reason=reason,
    )


def judge_run(observations: Iterable[Observation], *, slo: Slo, rates: RateSource,
              steps: Sequence[StepRow] = (), problems: Sequence[str] = (),
              expected: Sequence[str] = ()) -> RunVerdict:
    """Verdicts for every tier that had canaries or was ``expected``, the reasons the run is invalid, and the
    exit code. ``steps`` are the load's step records, ``problems`` what went wrong around the probe (a child
    died, the run was interrupted)."""
    judged = place(observations, slo, rates)
    by_tier: dict[str, list[Judged]] = {t.name: [] for t in slo.tiers}
    untiered = 0
    for j in judged:
        if j.tier is None:
            untiered += 1
        else:
            by_tier[j.tier].append(j)
    verdicts = tuple(judge_tier(t, slo, by_tier[t.name], expected=t.name in expected)
                     for t in slo.tiers if by_tier[t.name] or t.name in expected)
    invalid = list(problems)
    for s in steps:
        if not s.valid:
            invalid.append(f"load step {s.step} ({s.target_eps:g} events/s) was not reached: "
                           f"{s.reason or f'achieved {s.achieved_eps:g}'}")
    invalid += [f"tier {v.tier}: {v.reason}" for v in verdicts if v.status == INSUFFICIENT]
    undecided = sum(1 for j in judged if j.outcome == UNDECIDED)
    if undecided:
        invalid.append(f"{undecided} canaries were never decided (the probe stopped before they were seen or "
                       "past their loss horizon)")
    if not verdicts:
        invalid.append(f"no canary could be judged ({untiered} without a tier)")
    elif judged and all(j.outcome == ERRORED for j in judged):
        invalid.append(f"every canary's ingest failed (the target is unreachable or refuses everything; first: "
                       f"{judged[0].obs.error})")
    failed = [v.tier for v in verdicts if v.status == FAIL]
    if invalid:
        status, code = INVALID, ExitCode.INVALID
        reason = f"the run is invalid: {invalid[0]}" + (f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else "")
        if failed:
            reason += f"; SLO failed for tier {', '.join(failed)} too."
    elif failed:
        status, code, reason = FAIL, ExitCode.SLO_FAILED, f"SLO failed for tier {', '.join(failed)}."
    elif all(v.status == UNJUDGED for v in verdicts):
        status, code = INVALID, ExitCode.INVALID
        reason = "the run is invalid: no tier had a steady canary to judge."
        invalid.append("no tier had a steady canary to judge")
    else:
        unsure = [v.tier for v in verdicts if not v.conclusive]
        status, code = PASS, ExitCode.OK
        judged_n = sum(1 for v in verdicts if v.status == PASS)
        reason = f"all {judged_n} judged tiers met their targets" + (
            f"; not conclusive at 95% confidence for tier {', '.join(unsure)}." if unsure else ".")
    return RunVerdict(verdicts, tuple(judged), tuple(invalid), untiered, undecided, status, reason, code)


def expected_tiers(slo: Slo, rates_eps: Iterable[float], *, transactional: bool) -> list[str]:
    """Tiers a scenario is meant to exercise: the analytical bands its step rates fall in, plus the
    transactional tier(s) when the probe checks profiles."""
    rates = list(rates_eps)
    out = []
    for tier in slo.tiers:
        if tier.path == "transactional":
            if transactional:
                out.append(tier.name)
        elif any(tier.matches(tier.path, r) for r in rates):
            out.append(tier.name)
    return out


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


__all__ = ["FAIL", "INSUFFICIENT", "INVALID", "PASS", "UNJUDGED", "Judged", "RateSource", "RunVerdict", "TierVerdict",
           "collapse", "expected_tiers", "judge_run", "judge_tier", "place"]
