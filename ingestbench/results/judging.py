"""A run's files in, the one judge's verdict out: what ``run``, ``report`` and ``gate`` share.

Everything here reads files; the judging itself is :func:`ingestbench.checks.judge.judge_run`, the same pure
function the probe calls. The inputs come from the results directory only (``samples.jsonl``, ``rates.jsonl``, the
SLO copy, and from ``run.json`` the expected tiers and the problems the run recorded), so ``ingestbench gate DIR``
on a finished run reproduces its verdicts and exit code exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ingestbench.checks.judge import RateSource, RunVerdict, expected_tiers, judge_run
from ingestbench.records.observation import OUTCOMES, PATHS
from ingestbench.records.run_record import Gate, RunRecord
from ingestbench.records.samples_cache import write_cache
from ingestbench.records.slo import Slo
from ingestbench.records.slo_file import load_slo
from ingestbench.records.timeline import RateTimeline
from ingestbench.records.verdicts import WINDOWS, write_judged_rows
from ingestbench.results.rundir import JUDGED, SAMPLES, SLO_COPY, RunFiles

JUDGED_SLICE = 100_000  # canaries per slice of judged.jsonl: memory stays flat for any run size


def slo_for(files: RunFiles, slo_path: str | Path | None) -> Slo:
    """The SLO to judge with, at the run's time scale: the one given, else the run's own copy, else the
    default promise."""
    if slo_path is None and (files.path / SLO_COPY).exists():
        slo_path = files.path / SLO_COPY
    slo = load_slo(str(slo_path) if slo_path is not None else None, time_scale=files.run.scenario.time_scale)
    return slo.with_loss_horizon(files.lost_after_s)  # the probe stopped looking for a canary after it


def rate_source(files: RunFiles, slo: Slo) -> RateSource:
    """The run's rate timeline (a probe's: the points it tiered by); for a probe without one, the rate it
    declared, which wins as it did in the probe."""
    window_s = slo.rate_window_s
    if files.probe is not None and files.probe.declared_rate_eps is not None:
        return RateSource(declared_rate_eps=files.probe.declared_rate_eps, window_s=window_s)
    if files.timeline.seconds:
        return RateSource(points=files.timeline.points, window_s=window_s)
    declared = files.probe.declared_rate_eps if files.probe else None
    return RateSource(declared_rate_eps=declared, window_s=window_s)


def run_problems(run: RunRecord) -> list[str]:
    """What went wrong around the probe, as the run recorded it; a run killed before it could say is one."""
    problems = list(run.run_problems)
    if not run.ended:
        problems.append(f"the run did not finish (status {run.status}); judged from what it recorded")
    return problems


def lost_generators(timeline: RateTimeline) -> list[str]:
    """A generator that vanished mid-run left its share of the schedule unsent until the others took it over:
    the load was not the one asked for, so the run is invalid, naming it."""
    return [f"generator {g.id} was lost {g.lost_at_s:g} s into the load (it vanished without handing its share "
            "over: killed, its machine gone or cut off)" for g in timeline.generators if g.lost_at_s is not None]


def judge_files(files: RunFiles, slo: Slo, *, other_slo: bool = False, judge_resources: bool = True) -> RunVerdict:
    """Judge a run from its files. ``other_slo``: ``slo`` is not the one the run was made for, so the tiers
    it must cover come from it and the scenario's rates rather than from ``run.json``. ``judge_resources``:
    check the SLO's ``[resources]`` limits against ``run.json``'s measurements (the probe of a run leaves
    that to the run, which measures them)."""
    expected = list(files.run.expected_tiers)
    if other_slo:
        transactional = bool(files.run.settings.get("transactional", False))
        expected = expected_tiers(slo, files.run.scenario.rates_eps, transactional=transactional)
    return judge_run(files.samples, slo=slo, rates=rate_source(files, slo), steps=files.timeline.steps,
                     problems=[*run_problems(files.run), *lost_generators(files.timeline)], expected=expected,
                     resources=files.run.resources,
                     judge_resources=judge_resources)


def with_verdict(run: RunRecord, verdict: RunVerdict, files: RunFiles) -> RunRecord:
    """The run record with the judge's part filled in."""
    return run.with_(steps=files.timeline.steps, generators=files.timeline.generators, tiers=verdict.tiers,
                     invalid_reasons=verdict.invalid_reasons,
                     gate=Gate(verdict.status, verdict.reason, verdict.untiered, verdict.undecided),
                     exit_code=int(verdict.exit_code))


def write_judged(files: RunFiles, verdict: RunVerdict) -> None:
    """``judged.jsonl``: every canary with its final tier, window, outcome, the rate it was tiered by and its
    judged TTA (the reports chart the same columns; its facts are in ``samples.jsonl``), a slice at a time;
    and the samples' column cache, for judging the run again. Needs the samples read with their ids."""
    judged = verdict.judged
    files.judged = judged
    if judged is None or judged.samples.canary_id is None:
        return
    rows, ids = judged.samples, judged.samples.canary_id

    def slices() -> Iterator[dict[str, Any]]:
        for a in range(0, len(judged), JUDGED_SLICE):
            b = min(a + JUDGED_SLICE, len(judged))
            yield {"canary_id": ids.slice(a, b - a), "path": _names(rows.path[a:b], PATHS),
                   "tier": _names(judged.tier[a:b], judged.tier_names),
                   "window": _names(judged.window[a:b], WINDOWS), "rate_eps": judged.rate_eps[a:b],
                   "outcome": _names(judged.outcome[a:b], OUTCOMES), "tta_s": judged.tta_s[a:b]}

    write_judged_rows(files.path / JUDGED, slices())
    write_cache(files.samples, files.path / SAMPLES)


def _names(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> pl.Series:
    """Codes as their names (a negative code: null)."""
    series = pl.Series(codes.astype(np.int64))
    return series.replace_strict(dict(enumerate(names)), default=None, return_dtype=pl.String)
