"""The judge: one pure function from what a run recorded to its verdicts and exit code.

``judge_run(observations, slo=..., rates=..., steps=..., problems=..., expected=...)`` is what ``run``,
``probe``, ``gate`` and ``report`` all call, so the same inputs give the same verdicts and exit code
whichever command asks. The rules:

- Every canary is placed once, here, on the complete rate timeline (:mod:`checks.tiering`): its tier is the
  band of the rate achieved before it was sent, its window ``steady``, ``warmup``, ``transition`` or
  ``outside``. A canary seen later than its loss horizon is ``late``: it was lost. The horizon is its tier's
  for a steady canary; outside the steady window, where the traffic around it was another tier's, it is the
  longest of its path's tiers (a canary sent as a high-volume step ends waits for the low-volume flush).
- Judged TTAs are the steady window's: ``available`` canaries with their TTA, lost ones as ``+inf``
  (nearest-rank percentiles, see :mod:`checks.quantiles`). Fewer than ``min_samples`` makes the tier
  ``insufficient``, unless it had no steady canary at all and was not expected (canaries sent before the
  load started fall in the low tier of a high-volume soak): then its percentile is ``unjudged``. A run in
  which every ingest failed measured nothing: it is invalid, not failed.
- Losses and errors count in every window against the tier's budgets (``max_lost``, default 0;
  ``max_errored``, default 1 % of its canaries); exceeding one fails the tier whatever its percentile.
- A pass is "not conclusive at 95%" when the percentile's confidence interval is unbounded or straddles the
  target; the verdict stands, the wording says how much it proves.
- Exit code, by precedence: ``INVALID`` (a run problem, an invalid load step, an insufficient or expected but
  unobserved tier, an undecided canary, nothing judged) > ``SLO_FAILED`` (a tier failed) > ``OK``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from checks.quantiles import quantile, quantile_ci_ranks, upper_bound_min_n
from checks.slo import Slo, Tier
from checks.tiering import WINDOW_CODE, Tiering
from records.exit_codes import ExitCode
from records.observation import AVAILABLE, ERRORED, LATE, LOST, OUTCOMES, PATHS, UNDECIDED, Observation
from records.samples import OUTCOME_CODE, SampleColumns
from records.timeline import RatePoint, StepRow
from records.verdicts import (
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

REPORTED_QUANTILES = (50, 90, 95, 99)
_WINDOW_TEXT = {STEADY: "steady", "warmup": "in warm-up", "transition": "in transition",
                "outside": "outside the load"}


@dataclass(frozen=True)
class RateSource:
    """What the judge tiers by: a rate timeline (``points``) or a rate the operator declared."""

    points: tuple[RatePoint, ...] = ()
    declared_rate_eps: float | None = None
    window_s: float = 5.0  # already scaled


@dataclass(frozen=True)
class RunVerdict:
    tiers: tuple[TierVerdict, ...]
    invalid_reasons: tuple[str, ...]
    untiered: int
    undecided: int
    status: str
    reason: str
    exit_code: ExitCode
    judged: Judged | None = None  # every canary as placed (columns), for judged.jsonl and the charts


@dataclass(frozen=True)
class Judged:
    """Every canary as judged, as columns aligned with ``samples`` (one row per canary, collapsed): its tier
    (index into the SLO's tiers, -1: none), the rate used, its window and final outcome (codes), its TTA."""

    samples: SampleColumns
    tier: np.ndarray
    rate_eps: np.ndarray
    window: np.ndarray
    outcome: np.ndarray
    tta_s: np.ndarray
    tier_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.tier.size)

    def rows(self) -> list[JudgedRow]:
        """Every canary as a row object (for a handful: tests, a look at one run; needs the ids)."""
        ids = self.samples.canary_id
        if ids is None:
            raise ValueError("the samples were read without their canary ids")

        def num(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return [JudgedRow(str(ids[i]), PATHS[self.samples.path[i]],
                          self.tier_names[self.tier[i]] if self.tier[i] >= 0 else None, WINDOWS[self.window[i]],
                          num(self.rate_eps[i]), OUTCOMES[self.outcome[i]], num(self.tta_s[i]))
                for i in range(len(self))]


def collapse(samples: SampleColumns) -> SampleColumns:
    """One row per canary and path: a ``late`` record replaces the earlier ``lost`` one; an ``undecided``
    one gives way to any other; otherwise the first record stands."""
    n = len(samples)
    if n == 0:
        return samples
    key = samples.id_hash * np.uint64(2) + samples.path.astype(np.uint64)
    ordered = np.sort(key)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if repeated.size == 0:
        return samples
    twice = np.flatnonzero(np.isin(key, repeated))
    keep = np.ones(n, dtype=bool)
    late, undecided = OUTCOME_CODE[LATE], OUTCOME_CODE[UNDECIDED]
    groups: dict[int, list[int]] = {}
    for row in twice.tolist():  # file order within each canary
        groups.setdefault(int(key[row]), []).append(row)
    for rows in groups.values():
        best = rows[0]
        for r in rows[1:]:
            if samples.outcome[r] == late or samples.outcome[best] == undecided:
                best = r
        keep[rows] = False
        keep[best] = True
    return samples.take(keep)


def place_all(samples: SampleColumns, slo: Slo, rates: RateSource) -> Judged:
    """Tier, window and final outcome of every canary (one per canary), from the complete rate source."""
    rows = collapse(samples)
    tiering = Tiering(slo, declared_rate_eps=rates.declared_rate_eps, window_s=rates.window_s, complete=True)
    tiering.extend(rates.points)
    p = tiering.place_all(rows.path, rows.sent_unix_ms.astype(float))
    horizon_of_tier = np.array([slo.loss_horizon_s(t) for t in slo.tiers] + [np.nan])
    horizon_of_path = np.array([slo.probe_horizon_s(path) for path in PATHS])
    steady = p.window == WINDOW_CODE[STEADY]
    horizon = np.where((p.tier >= 0) & steady, horizon_of_tier[p.tier], horizon_of_path[rows.path])
    outcome = rows.outcome.copy()
    available = outcome == OUTCOME_CODE[AVAILABLE]
    high = rows.tta_high_s()
    with np.errstate(invalid="ignore"):
        outcome[available & (high > horizon)] = OUTCOME_CODE[LATE]  # seen only after its horizon: it was lost
    tta = np.where(outcome == OUTCOME_CODE[AVAILABLE], rows.tta_s(), np.nan)
    return Judged(rows, p.tier, p.rate_eps, p.window, outcome, tta, tuple(t.name for t in slo.tiers))


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


def judge_run(observations: SampleColumns | Iterable[Observation], *, slo: Slo, rates: RateSource,
              steps: Sequence[StepRow] = (), problems: Sequence[str] = (),
              expected: Sequence[str] = ()) -> RunVerdict:
    """Verdicts for every tier that had canaries or was ``expected``, the reasons the run is invalid, and the
    exit code. ``observations`` are a run's samples (columns, or observation objects for a handful);
    ``steps`` are the load's step records, ``problems`` what went wrong around the probe (a child died, the
    run was interrupted)."""
    samples = observations if isinstance(observations, SampleColumns) else \
        SampleColumns.from_observations(list(observations), with_ids=True)
    judged = place_all(samples, slo, rates)
    counts = np.bincount(judged.tier + 1, minlength=len(slo.tiers) + 1)  # index 0: no tier
    untiered = int(counts[0])
    verdicts = tuple(judge_tier(t, slo, judged, i, expected=t.name in expected)
                     for i, t in enumerate(slo.tiers) if counts[i + 1] or t.name in expected)
    invalid = list(problems)
    for s in steps:
        if not s.valid:
            invalid.append(f"load step {s.step} ({s.target_eps:g} events/s) was not reached: "
                           f"{s.reason or f'achieved {s.achieved_eps:g}'}")
    invalid += [f"tier {v.tier}: {v.reason}" for v in verdicts if v.status == INSUFFICIENT]
    undecided = int((judged.outcome == OUTCOME_CODE[UNDECIDED]).sum())
    if undecided:
        invalid.append(f"{undecided} canaries were never decided (the probe stopped before they were seen or "
                       "past their loss horizon)")
    if not verdicts:
        invalid.append(f"no canary could be judged ({untiered} without a tier)")
    elif len(judged) and bool((judged.outcome == OUTCOME_CODE[ERRORED]).all()):
        invalid.append(f"every canary's ingest failed (the target is unreachable or refuses everything; first: "
                       f"{samples.first_error})")
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
    return RunVerdict(verdicts, tuple(invalid), untiered, undecided, status, reason, code, judged)


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
           "collapse", "expected_tiers", "judge_run", "judge_tier", "place_all"]
