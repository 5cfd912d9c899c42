"""Compare a candidate with a baseline (A/B): per tier and metric, the change, its interval and whether it is a
regression.

Metrics: each tier's TTA p50, p95 and p99 and its shares of lost and errored canaries; each load step's
achieved rate; each observed target's CPU cores and resident memory. A change is a **regression** when it went
the metric's worse way (TTA, losses, errors, CPU, memory up; rate down) with at least the rule's
``confidence`` **and** by at least its ``min_change`` (the SLO file's ``[compare]``,
:mod:`ingestbench.records.compare_rules`). The statistics are in :mod:`ingestbench.results.ab_stats`.

Nothing is concluded (:attr:`Comparison.problems`, exit 3) when a run on either side is invalid, the two sides
ran different scenarios or load steps, or a tier is judged on one side only. Pure: sides in, rows out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ingestbench.records.compare_rules import METRICS, SHARE_METRICS, CompareRules
from ingestbench.results.ab_inputs import Side
from ingestbench.results.ab_stats import (
    SEED,
    Change,
    change,
    mean_replicates,
    percentile_replicates,
    relative,
    share_change,
    side_mean,
    side_percentile,
)

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
UNITS = {"p50": "s", "p95": "s", "p99": "s", "lost": "share", "errored": "share", "rate": "events/s",
         "cpu": "cores", "rss": "MiB"}


@dataclass(frozen=True)
class MetricDiff:
    subject: str  # a tier, "step 1 (50/s)", or an observed target
    metric: str
    base: float | None
    candidate: float | None
    change: Change | None
    regressed: bool
    note: str = ""

    @property
    def unit(self) -> str:
        return UNITS[self.metric]


@dataclass
class Comparison:
    rows: list[MetricDiff] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why nothing can be concluded
    notes: list[str] = field(default_factory=list)  # what the reader should know to read the rows

    @property
    def regressions(self) -> list[MetricDiff]:
        return [r for r in self.rows if r.regressed]


def compare_sides(base: Side, cand: Side, rules: CompareRules, *, seed: int = SEED) -> Comparison:
    out = Comparison(problems=_problems(base, cand))
    if out.problems:
        return out
    rng = np.random.default_rng(seed)
    tiers = list(base.runs[0].counts)
    for tier in tiers:
        for metric, pct in PERCENTILES.items():
            out.rows.append(_tta(tier, metric, pct, base, cand, rules, rng))
        for metric, at in (("lost", 1), ("errored", 2)):
            (x_b, n_b), (x_c, n_c) = (_pooled(s, tier, at) for s in (base, cand))
            if not n_b or not n_c:
                out.rows.append(MetricDiff(tier, metric, None, None, None, False, "no canary on one side"))
                continue
            ch = share_change(x_b, n_b, x_c, n_c, rules.rule(metric).confidence)
            out.rows.append(_row(tier, metric, x_b / n_b, x_c / n_c, ch, rules))
    for step in base.runs[0].rate:
        out.rows.append(_means(f"step {step[0]} ({step[1]:g}/s)", "rate", base, cand,
                               [r.rate.get(step) for r in base.runs], [r.rate.get(step) for r in cand.runs],
                               rules, rng))
    for metric in ("cpu", "rss"):
        series = [r.cpu if metric == "cpu" else r.rss for r in base.runs + cand.runs]
        for name in sorted(set.intersection(*(set(s) for s in series))):
            values = [s[name] for s in series]
            out.rows.append(_means(name, metric, base, cand, values[:len(base.runs)], values[len(base.runs):],
                                   rules, rng))
    if len(base.runs) == 1 and len(cand.runs) == 1:
        out.notes.append("one run per side: each interval covers only the noise within the two runs (canaries, "
                         "seconds), not how much two runs of the same setting differ, so it is narrower than the "
                         "truth and a regression may be a property of these two runs; compare replicate sets "
                         "(several runs per side) for intervals that include the run-to-run noise")
    return out


def _problems(base: Side, cand: Side) -> list[str]:
    problems = []
    for role, side in (("baseline", base), ("candidate", cand)):
        for run in side.runs:
            if run.invalid:
                reasons = run.files.run.invalid_reasons or ("no reason recorded",)
                problems.append(f"the {role} run {run.files.path} is invalid, so the comparison proves nothing: "
                                f"{reasons[0]}")
    scenarios = base.scenario | cand.scenario
    if len(scenarios) > 1:
        problems.append("the runs ran different scenarios: " + ", ".join(f"{n} (time scale {s:g})"
                                                                        for n, s in sorted(scenarios)))
    steps = {tuple(r.rate) for r in base.runs + cand.runs}
    if len(steps) > 1 and len(scenarios) == 1:
        problems.append("the runs had different load steps: " + " vs ".join(
            ", ".join(f"{t:g}/s" for _, t in s) or "none" for s in sorted(steps)))
    every = base.runs + cand.runs
    for tier in sorted(set().union(*(r.counts for r in every))):
        missing = [r.files.path for r in every if tier not in r.counts]
        if missing:
            problems.append(f"tier {tier} is judged in some runs but not in {missing[0]}"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return problems


def _pooled(side: Side, tier: str, at: int) -> tuple[int, int]:
    """Lost (``at`` 1) or errored (2) canaries of a tier over a side's runs, and its canaries."""
    return sum(r.counts[tier][at] for r in side.runs), sum(r.counts[tier][0] for r in side.runs)


def _row(subject: str, metric: str, base: float, cand: float, ch: Change, rules: CompareRules) -> MetricDiff:
    rule = rules.rule(metric)
    worse = ch.change * METRICS[metric]
    sure = ch.p_worse is not None and ch.p_worse >= rule.confidence
    big = worse >= rule.min_change - 1e-12 and worse > 0
    if sure and big:
        note = f"worse with {ch.p_worse:.0%} confidence"
    elif big:
        note = f"not sure enough ({ch.p_worse:.0%} < {rule.confidence:.0%})" if ch.p_worse is not None else \
            "no interval (one sample per side)"
    elif sure and worse > 0:
        note = f"below the {rule.min_change:g} {'share points' if metric in SHARE_METRICS else 'change'} that counts"
    else:
        note = "no regression"
    return MetricDiff(subject, metric, base, cand, ch, sure and big, note)


def _tta(tier: str, metric: str, pct: float, base: Side, cand: Side, rules: CompareRules,
         rng: np.random.Generator) -> MetricDiff:
    b_runs, c_runs = ([r.tta[tier] for r in s.runs] for s in (base, cand))
    if any(v.size == 0 for v in b_runs + c_runs):
        return MetricDiff(tier, metric, None, None, None, False, "no steady canary in a run")
    b, c = side_percentile(b_runs, pct), side_percentile(c_runs, pct)
    conf = rules.rule(metric).confidence
    ch = change(percentile_replicates(b_runs, pct, rng), percentile_replicates(c_runs, pct, rng), b, c,
                direction=METRICS[metric], confidence=conf)
    return _row(tier, metric, b, c, ch, rules)


def _means(subject: str, metric: str, base: Side, cand: Side, b_values: Sequence[np.ndarray | None],
           c_values: Sequence[np.ndarray | None], rules: CompareRules, rng: np.random.Generator) -> MetricDiff:
    b_runs = [v for v in b_values if v is not None and v.size]
    c_runs = [v for v in c_values if v is not None and v.size]
    if len(b_runs) < len(base.runs) or len(c_runs) < len(cand.runs):
        return MetricDiff(subject, metric, None, None, None, False, "not measured in every run")
    b, c = side_mean(b_runs), side_mean(c_runs)
    if all(v.size < 2 for v in b_runs + c_runs) and len(b_runs) == len(c_runs) == 1:
        return _row(subject, metric, b, c, Change(float(relative(b, c))), rules)
    conf = rules.rule(metric).confidence
    ch = change(mean_replicates(b_runs, rng), mean_replicates(c_runs, rng), b, c, direction=METRICS[metric],
                confidence=conf)
    return _row(subject, metric, b, c, ch, rules)
