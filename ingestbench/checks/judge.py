"""The judge: one pure function from what a run recorded to its verdicts and exit code.

``judge_run(observations, slo=..., rates=..., steps=..., problems=..., expected=...)`` is what ``run``,
``probe``, ``gate`` and ``report`` all call, so the same inputs give the same verdicts and exit code
whichever command asks. The rules:

- Every canary is placed once, here, on the complete rate timeline (:mod:`ingestbench.checks.tiering`): its tier is the
  band of the rate achieved before it was sent, its window ``steady``, ``warmup``, ``transition`` or
  ``outside``. A canary seen later than its loss horizon is ``late``: it was lost. The horizon is its tier's
  for a steady canary; outside the steady window, where the traffic around it was another tier's, it is the
  longest of its path's tiers (a canary sent as a high-volume step ends waits for the low-volume flush).
- Judged TTAs are the steady window's: ``available`` canaries with their TTA, lost ones as ``+inf``
  (nearest-rank percentiles, see :mod:`ingestbench.checks.quantiles`). Fewer than ``min_samples`` makes the tier
  ``insufficient``, unless it had no steady canary at all and was not expected (canaries sent before the
  load started fall in the low tier of a high-volume soak): then its percentile is ``unjudged``. A run in
  which every ingest failed measured nothing: it is invalid, not failed.
- Losses and errors count in every window against the tier's budgets (``max_lost``, default 0;
  ``max_errored``, default 1 % of its canaries); exceeding one fails the tier whatever its percentile.
- A pass is "not conclusive at 95%" when the percentile's confidence interval is unbounded or straddles the
  target; the verdict stands, the wording says how much it proves.
- The SLO's ``[resources]`` limits, when set, are checked against what the run measured of the target
  itself (``resources``; None: this caller does not judge them): a target over a limit fails the run, no
  measurement at all makes it invalid.
- Exit code, by precedence: ``INVALID`` (a run problem, an invalid load step, an insufficient or expected but
  unobserved tier, an undecided canary, nothing judged, resource limits with nothing observed) >
  ``SLO_FAILED`` (a tier failed, or a resource limit was exceeded) > ``OK``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ingestbench.checks.placement import Judged, RateSource, collapse, place_all
from ingestbench.checks.tier_verdict import judge_tier
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.observation import ERRORED, UNDECIDED, Observation
from ingestbench.records.resources import Resources, check_resources
from ingestbench.records.samples import OUTCOME_CODE, SampleColumns
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import StepRow
from ingestbench.records.verdicts import FAIL, INSUFFICIENT, INVALID, PASS, UNJUDGED, TierVerdict


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
    resource_failures: tuple[str, ...] = ()  # each [resources] limit exceeded, with the value measured


def judge_run(observations: SampleColumns | Iterable[Observation], *, slo: Slo, rates: RateSource,
              steps: Sequence[StepRow] = (), problems: Sequence[str] = (),
              expected: Sequence[str] = (), resources: Resources | None = None,
              judge_resources: bool = False) -> RunVerdict:
    """Verdicts for every tier that had canaries or was ``expected``, the reasons the run is invalid, and the
    exit code. ``observations`` are a run's samples (columns, or observation objects for a handful);
    ``steps`` are the load's step records, ``problems`` what went wrong around the probe (a child died, the
    run was interrupted); ``resources`` what the run measured of the target itself, judged against the SLO's
    ``[resources]`` limits when ``judge_resources``."""
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
    over, unobserved = check_resources(slo.resources, resources) if judge_resources else ([], [])
    invalid += unobserved
    failed = [v.tier for v in verdicts if v.status == FAIL]
    what_failed = "; ".join(([f"tier {', '.join(failed)}"] if failed else []) + over)
    if invalid:
        status, code = INVALID, ExitCode.INVALID
        reason = f"the run is invalid: {invalid[0]}" + (f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else "")
        if what_failed:
            reason += f"; SLO failed for {what_failed} too."
    elif what_failed:
        status, code, reason = FAIL, ExitCode.SLO_FAILED, f"SLO failed for {what_failed}."
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
    return RunVerdict(verdicts, tuple(invalid), untiered, undecided, status, reason, code, judged, tuple(over))


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


__all__ = ["FAIL", "INSUFFICIENT", "INVALID", "PASS", "UNJUDGED", "Judged", "RateSource", "RunVerdict", "TierVerdict",
           "collapse", "expected_tiers", "judge_run", "judge_tier", "place_all"]
