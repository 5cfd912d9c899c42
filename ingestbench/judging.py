"""A run's files in, the one judge's verdict out: what ``run``, ``report`` and ``gate`` share.

Everything here reads files; the judging itself is :func:`checks.judge.judge_run`, the same pure function the
probe calls. The inputs come from the results directory only (``samples.jsonl``, ``rates.jsonl``, the SLO
copy, and from ``run.json`` the expected tiers and the problems the run recorded), so ``ingestbench gate DIR``
on a finished run reproduces its verdicts and exit code exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from checks.judge import RateSource, RunVerdict, expected_tiers, judge_run
from checks.observation import Observation
from checks.rates import point_from_record
from checks.slo import Slo, load_slo
from ingestbench.rundir import JUDGED, SLO_COPY, RunFiles

RUN_STATES_THAT_ENDED = ("finished", "interrupted")  # "running" in a run.json means the run was killed


def slo_for(files: RunFiles, slo_path: str | Path | None, time_scale: float) -> Slo:
    """The SLO to judge with: the one given, else the run's own copy, else the default promise."""
    if slo_path is None and (files.path / SLO_COPY).exists():
        slo_path = files.path / SLO_COPY
    return load_slo(str(slo_path) if slo_path is not None else None, time_scale=time_scale)


def observations(files: RunFiles) -> list[Observation]:
    out = []
    for rec in files.samples:
        try:
            out.append(Observation.from_record(rec))
        except (TypeError, ValueError):
            continue
    return out


def rate_source(files: RunFiles, slo: Slo) -> RateSource:
    """The run's rate timeline; for a probe run without one, the rate it declared."""
    window_s = 5.0 * slo.time_scale
    points = [p for p in (point_from_record(r) for r in files.seconds) if p is not None]
    if points:
        return RateSource(points=tuple(points), window_s=window_s)
    declared = files.probe.get("declared_rate_eps")
    return RateSource(declared_rate_eps=float(declared) if declared is not None else None, window_s=window_s)


def step_records(files: RunFiles) -> list[dict[str, Any]]:
    keys = ("step", "target_eps", "achieved_eps", "lag_p50_s", "lag_p99_s", "valid", "reason", "duration_s",
            "sent_events", "failed_events", "failed_by_kind")
    return [{k: s.get(k) for k in keys if k in s} for s in files.steps]


def run_problems(files: RunFiles) -> list[str]:
    """What went wrong around the probe, as the run recorded it; a run killed before it could say is one."""
    problems = [str(p) for p in files.run.get("run_problems", [])]
    status = files.run.get("status", "unknown")
    if files.run and status not in RUN_STATES_THAT_ENDED:
        problems.append(f"the run did not finish (status {status}); judged from what it recorded")
    return problems


def judge_files(files: RunFiles, slo: Slo, *, other_slo: bool = False) -> RunVerdict:
    """Judge a run from its files. ``other_slo``: ``slo`` is not the one the run was made for, so the tiers
    it must cover come from it and the scenario's rates rather than from ``run.json``."""
    expected = files.run.get("expected_tiers") or files.probe.get("expected_tiers") or []
    if other_slo:
        rates = files.run.get("scenario", {}).get("rates_eps", [])
        transactional = bool(files.run.get("settings", {}).get("transactional", False))
        expected = expected_tiers(slo, rates, transactional=transactional)
    return judge_run(observations(files), slo=slo, rates=rate_source(files, slo), steps=step_records(files),
                     problems=run_problems(files), expected=expected)


def verdict_fields(verdict: RunVerdict) -> dict[str, Any]:
    """The judge's part of ``run.json``."""
    return {"tiers": [v.to_record() for v in verdict.tiers],
            "gate": {"status": verdict.status, "reason": verdict.reason, "untiered": verdict.untiered,
                     "undecided": verdict.undecided},
            "invalid_reasons": list(verdict.invalid_reasons), "exit_code": int(verdict.exit_code)}


def write_judged(files: RunFiles, verdict: RunVerdict) -> None:
    """``judged.jsonl``: every canary with its final tier, window and outcome (what the reports chart)."""
    files.judged = [j.to_record() for j in verdict.judged]
    tmp = files.path / f".{JUDGED}.tmp"
    tmp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in files.judged))
    tmp.replace(files.path / JUDGED)
