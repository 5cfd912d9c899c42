"""``ingestbench search``: run the plan at one rate after another, each a whole run with a fresh embedded target,
its own id (``<search id>-s01`` ...), directory and verdict, choosing each next rate from what the judged steps
said (:mod:`ingestbench.results.search`), until the bounds are as precise as asked or the time budget is spent.
Ctrl-C stops the step that is running and the search: what ran is summarised, and the search is inconclusive.

    <out>/<search id>/search.json, report.md, report.html
    <out>/<search id>/<search id>-s01/  (run.json, report.md, ... as any run)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ingestbench.checks.judge import expected_tiers
from ingestbench.orchestrate.run import Run, RunOptions, open_set
from ingestbench.records.config import ConfigError
from ingestbench.records.load import LoadStep
from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.plan import Plan
from ingestbench.results import search_report
from ingestbench.results.search import Search, SearchConfig, SearchStep, SearchTier, classify, step_duration_s
from ingestbench.results.search_result import SearchResult, r, summarize, write_json

FIRST_OVERHEAD_S = 15.0  # a step's start-up and drain, before one has been measured
MAX_STEPS = 60


@dataclass(frozen=True)
class SearchDone:
    path: Path
    result: SearchResult

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


def search_tiers(plan: Plan, names: list[str] | None, config: SearchConfig) -> tuple[SearchTier, ...]:
    """The tiers to search (those named, else every tier the plan can judge) as bands; a named tier that is not
    in the SLO, or whose band lies outside the search's rates, is refused."""
    slo = plan.slo
    judged = [t for t in slo.tiers if t.path == ANALYTICAL or plan.probe.transactional]
    if names:
        known = {t.name for t in slo.tiers}
        for name in names:
            if name not in known:
                raise ConfigError(f"--tier: no tier {name!r} in the SLO (tiers: {', '.join(sorted(known))})")
        judged = [t for t in judged if t.name in names]
        if len(judged) < len(names):
            raise ConfigError("--tier: the transactional tier is not judged: the target has no profiles or the "
                              "scenario's [probe] transactional is false")
    tiers = []
    for t in judged:
        band = SearchTier.of(slo, t)
        if band.low_eps >= config.max_eps or band.high_eps <= config.min_eps:
            if names:
                raise ConfigError(f"--tier: tier {t.name}'s band ({t.band()}) lies outside --min-eps "
                                  f"{config.min_eps:g} to --max-eps {config.max_eps:g}")
            continue
        tiers.append(band)
    if not tiers:
        raise ConfigError(f"no tier of the SLO has a band within --min-eps {config.min_eps:g} to --max-eps "
                          f"{config.max_eps:g}")
    return tuple(tiers)


def duration_at(plan: Plan, rate_eps: float) -> float:
    """How long the load runs at ``rate_eps`` (scaled seconds): long enough for every tier judged there."""
    slo = plan.slo
    judged = [t for t in slo.tiers if (t.path == ANALYTICAL and t.matches(t.path, rate_eps))
              or (t.path != ANALYTICAL and plan.probe.transactional)]
    return step_duration_s(slo, judged, plan.probe.interval_s)


def plan_at(plan: Plan, rate_eps: float, duration_s: float, run_id: str) -> Plan:
    """The plan of one step: the same everything, one load step at ``rate_eps``."""
    expected = tuple(expected_tiers(plan.slo, [rate_eps], transactional=plan.probe.transactional))
    load = replace(plan.load, steps=(LoadStep(rate_eps, duration_s),), replay=None, replay_compress=1.0)
    return replace(plan, run_id=run_id, load=load,
                   expected_tiers=expected, probe=replace(plan.probe, run_id=run_id, expected_tiers=expected))


def run_search(plan: Plan, options: RunOptions, *, scenario_text: str, config: SearchConfig,
               tiers: tuple[SearchTier, ...]) -> SearchDone:
    out, inner = open_set(options, plan.run_id)
    search = Search(config, tiers)
    started = time.monotonic()
    overheads: list[float] = []
    while True:
        choice = search.next_rate()
        if choice is None:
            search = replace(search, stopped=search.stopped or ("stuck" if search.stuck() else "precision"))
            break
        rate, why = choice
        index = len(search.steps) + 1
        if index > MAX_STEPS:
            search = replace(search, stopped="max-steps")
            break
        duration = duration_at(plan, rate)
        expect = duration + (max(overheads) if overheads else FIRST_OVERHEAD_S)
        elapsed = time.monotonic() - started
        if config.budget_s is not None and elapsed + expect > config.budget_s:
            print(f"ingestbench: search: the next step ({r(rate)} events/s, ~{expect:.0f} s) would end past the "
                  f"{config.budget_s:g} s budget ({elapsed:.0f} s spent): stopping", file=sys.stderr)
            search = replace(search, stopped="budget")
            break
        run_id = f"{plan.run_id}-s{index:02d}"
        print(f"ingestbench: search step {index}: {r(rate)} events/s for {duration:g} s ({why}); "
              f"{elapsed:.0f} s spent", file=sys.stderr)
        t0 = time.monotonic()
        one = Run(plan_at(plan, rate, duration, run_id), inner, scenario_text=scenario_text)
        finished = one.execute()
        wall = time.monotonic() - t0
        overheads.append(max(0.0, wall - duration))
        delivered, outcomes, judged = classify(finished.record, tiers, rate)
        short = next((s.reason for s in finished.record.steps if not s.valid and s.reason), None)
        step = SearchStep(index, rate, run_id, why, duration, delivered, outcomes, judged,
                          int(finished.exit_code), short or finished.verdict.reason, round(wall, 2))
        search = search.with_step(step)
        said = ", ".join(f"{k} {v}" for k, v in outcomes.items()) or "nothing decided"
        print(f"ingestbench: search step {index}: {r(rate)} events/s: load {delivered}; {said} "
              f"({step.reason})", file=sys.stderr)
        if one.supervisor is not None and one.supervisor.interrupted:
            search = replace(search, stopped="interrupted")
            break
    result = summarize(search, search_id=plan.run_id, scenario=plan.scenario_name, time_scale=plan.time_scale)
    write_json(out, result)
    search_report.write(out, result)
    return SearchDone(out, result)
