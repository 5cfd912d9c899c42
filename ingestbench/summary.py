"""From a run's files to its verdict: re-tier if asked, judge with the gate, decide the exit code.

Shared by ``ingestbench run`` (at the end of a run), ``report`` (re-render, also after a crash) and
``gate`` (re-judge against another SLO file). Pure apart from reading the SLO file.

Exit code rules (the CI interface): 3 when the run is invalid (a load step not reached, a child process
died, the target unreachable, a tier with too few samples, the run interrupted); otherwise 1 when any tier
failed its target; otherwise 0. An invalid run is not a verdict on the target, so it wins over a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from checks.gate import FAIL, INSUFFICIENT, GateResult, judge
from checks.observation import Observation
from checks.slo import Slo, load_slo
from checks.tiering import Tiering, assign
from ingestbench.rundir import SLO_COPY, RunFiles

EXIT_OK, EXIT_SLO_FAILED, EXIT_INVALID = 0, 1, 3


@dataclass(frozen=True)
class Judgement:
    gate: GateResult
    steps: list[dict[str, Any]]
    invalid_reasons: list[str]
    exit_code: int
    observations: list[Observation]

    def sample_records(self) -> list[dict[str, Any]]:
        """The observations as judged (tiers from the complete timeline), for the reports' charts."""
        return [o.to_record() for o in self.observations]

    def tiers(self) -> list[dict[str, Any]]:
        out = []
        for v in self.gate.verdicts:
            rec = v.to_record()
            rec["judged_s"] = rec.get("judged_s")
            out.append(rec)
        return out


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


def retier(obs: list[Observation], files: RunFiles, slo: Slo) -> list[Observation]:
    """Assign tiers again under ``slo``: from the run's rate timeline when it has one, else from the rate
    recorded with each sample (a probe run with a declared rate)."""
    from checks.rates import read_timeline

    points = read_timeline(files.path / "rates.jsonl")
    if points:
        tiering = Tiering(slo, window_s=5.0 * slo.time_scale, complete=True)
        tiering.extend(points)
        return [tiering.apply(o) for o in obs]
    out = []
    for o in obs:
        a = assign(o.path, o.sent_unix_ms / 1000.0, slo=slo, declared_rate_eps=o.rate_eps)
        out.append(replace(o, tier=a.tier, rate_eps=a.rate_eps))
    return out


def step_records(files: RunFiles) -> list[dict[str, Any]]:
    keys = ("step", "target_eps", "achieved_eps", "lag_p50_s", "lag_p99_s", "valid", "reason", "duration_s",
            "sent_events", "failed_events", "failed_by_kind")
    return [{k: s.get(k) for k in keys if k in s} for s in files.steps]


def decide(gate: GateResult, steps: list[dict[str, Any]], extra_invalid: list[str]) -> tuple[list[str], int]:
    invalid = list(extra_invalid)
    for s in steps:
        if not s.get("valid"):
            invalid.append(f"load step {s.get('step')} ({s.get('target_eps')} events/s) was not reached: "
                           f"{s.get('reason') or 'achieved ' + str(s.get('achieved_eps'))}")
    short = [v for v in gate.verdicts if v.status == INSUFFICIENT]
    for v in short:
        invalid.append(f"tier {v.tier}: {v.reason}")
    if not gate.verdicts:
        invalid.append(gate.reason)
    if invalid:
        return invalid, EXIT_INVALID
    if gate.status == FAIL:
        return invalid, EXIT_SLO_FAILED
    return invalid, EXIT_OK


def judge_files(files: RunFiles, slo: Slo, *, other_slo: bool = False, extra_invalid: list[str] | None = None
                ) -> Judgement:
    """Judge a run from its files. Every canary is tiered again from the complete rate timeline, which,
    unlike the live probe, knows what came after each send (transitions, the end of the load).
    ``other_slo``: ``slo`` is not the one the run was made for, so the tiers it must cover come from it."""
    obs = retier(observations(files), files, slo)
    gate = judge(obs, slo)
    steps = step_records(files)
    extra = list(extra_invalid or [])
    judged = {v.tier for v in gate.verdicts}
    expected = files.run.get("expected_tiers", [])
    if other_slo:
        rates = files.run.get("scenario", {}).get("rates_eps", [])
        transactional = bool(files.run.get("settings", {}).get("transactional", False))
        expected = expected_tiers(slo, rates, transactional=transactional)
    for name in expected:
        if name not in judged:
            extra.append(f"tier {name}: the scenario should exercise it, but no canary was judged in it.")
    invalid, code = decide(gate, steps, extra)
    return Judgement(gate, steps, invalid, code, obs)


def expected_tiers(slo: Slo, rates_eps: list[float], *, transactional: bool) -> list[str]:
    """Tiers a scenario is meant to exercise: analytical bands its step rates fall in, plus the
    transactional tier(s) when the probe checks profiles."""
    out = []
    for tier in slo.tiers:
        if tier.path == "transactional":
            if transactional:
                out.append(tier.name)
        elif any(tier.matches(tier.path, r) for r in rates_eps):
            out.append(tier.name)
    return out
