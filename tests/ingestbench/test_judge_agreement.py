"""``gate DIR`` returns the exit code and the per-tier verdicts of the command that wrote DIR.

Probe directories are written by the probe's own ending (:func:`ingestbench.orchestrate.probe_process.judge_probe_dir`,
then its record), with every way a probe tiers and judges: ``--declared-rate-eps``, ``--rate-timeline`` (a file
elsewhere), ``--rate-query`` (points it fetched), ``--time-scale`` other than 1, ``--lost-after``, expected tiers,
a problem that voids it (no reader); run directories by the run's judge. Then ``ingestbench gate DIR`` judges the
directory alone, as a user would in another job, and must say the same. Both verdicts are also checked against
the independent oracle (``tests/checks/reference_judge.py``), which reads the same files on its own.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestbench.checks.judge import RateSource, judge_run
from ingestbench.cli import main
from ingestbench.orchestrate.probe_process import judge_probe_dir
from ingestbench.records.plan import ProbePlan
from ingestbench.records.run_record import ProbeRecord
from ingestbench.records.samples_cache import read_sample_columns
from ingestbench.records.slo import DEFAULT_SLO_PATH
from ingestbench.records.slo_file import load_slo
from ingestbench.records.timeline import RatePoint, read_timeline
from ingestbench.results.judging import judge_files, slo_for
from ingestbench.results.rundir import RunFiles
from tests.checks import reference_judge, reference_records
from tests.checks.oracle_compare import assert_agrees
from tests.ingestbench.synthetic import T0, make_run_dir

SOURCES = ("declared", "timeline", "query")


def _steps(rng: random.Random) -> list[tuple[float, int]]:
    return [(rng.choice([40, 300, 900, 1200, 2500, 6000]), rng.randint(8, 40)) for _ in range(rng.randint(1, 3))]


def _timeline(path: Path, steps: list[tuple[float, int]], rng: random.Random) -> list[RatePoint]:
    rows, points, t = [], [], 0
    for i, (rate, dur) in enumerate(steps):
        for _ in range(dur):
            t += 1
            achieved = rate * rng.uniform(0.95, 1.05)
            behind = rng.choice([0.3, 0.8]) if rng.random() < 0.05 else 0.0
            rows.append({"type": "second", "t_s": t, "unix_s": T0 + t, "target_eps": rate, "achieved_eps": achieved,
                         "lag_p99_s": behind or 0.002, "step": i, "stalled": behind > 0})
            points.append(RatePoint(T0 + t, achieved, None, 0.0))
        rows.append({"type": "step", "step": i, "target_eps": rate, "achieved_eps": rate,
                     "valid": rng.random() > 0.1, "reason": "a step"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return points


def _samples(path: Path, seconds: int, rng: random.Random) -> None:
    lines = []
    for k in range(rng.randint(0, 6 * seconds)):
        at = T0 + rng.uniform(-3, seconds + 3)
        sent_ns = int((at - T0) * 1e9) + 10**10
        path_kind = "transactional" if rng.random() < 0.15 else "analytical"
        outcome = rng.choices(["available", "lost", "errored", "undecided"], [90, 4, 4, 2])[0]
        tta = rng.choice([rng.uniform(0, 0.4), rng.uniform(0.2, 5), rng.uniform(3, 60)])
        doc = {"canary_id": f"c{k}", "path": path_kind, "outcome": outcome, "sent_ns": sent_ns,
               "sent_unix_ms": round(at * 1000), "duplicates": 0}
        if outcome == "available":
            doc.update(seen_ns=sent_ns + int(tta * 1e9), last_miss_ns=sent_ns + int(max(0.0, tta - 0.1) * 1e9))
        if outcome == "errored":
            doc["error"] = "server_error: HTTP 503"
        lines.append(json.dumps(doc))
    path.write_text("".join(line + "\n" for line in lines))


def _gate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["gate", str(path)])
    return code, capsys.readouterr().out


def _tier_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.split(" ")[0] in ("low", "high", "transactional")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), source=st.sampled_from(SOURCES),
       time_scale=st.sampled_from([0.1, 0.5, 1.0, 2.0]), lost_after_s=st.sampled_from([None, 0.5, 4.0, 40.0]),
       declared=st.sampled_from([50.0, 999.0, 1000.0, 5000.0]),
       expected=st.sampled_from([(), ("high",), ("low", "transactional")]), no_reader=st.booleans())
def test_gate_gives_the_probes_verdict(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
                                       seed: int, source: str, time_scale: float, lost_after_s: float | None,
                                       declared: float, expected: tuple[str, ...], no_reader: bool) -> None:
    rng = random.Random(seed)
    out = tmp_path_factory.mktemp("probe")
    elsewhere = tmp_path_factory.mktemp("load") / "rates.jsonl"  # a load generator's file, not in the directory
    steps = _steps(rng)
    points = _timeline(elsewhere, steps, rng)
    original = read_timeline(elsewhere)
    file_points, file_steps = reference_records.read_rates(elsewhere)  # the oracle reads the file on its own
    _samples(out / "samples.jsonl", sum(d for _, d in steps), rng)
    slo = load_slo(None, time_scale=time_scale).with_loss_horizon(lost_after_s)
    plan = ProbePlan(target="pipeline", url="http://127.0.0.1:1", slo_path=None, slo=slo, time_scale=time_scale,
                     lost_after_s=lost_after_s, expected_tiers=expected,
                     declared_rate_eps=declared if source == "declared" else None,
                     rate_timeline=str(elsewhere) if source == "timeline" else None,
                     rate_query="sum(rate(events[5s]))" if source == "query" else None,
                     prometheus_url="http://127.0.0.1:9" if source == "query" else None, out=str(out))
    inputs = ProbeRecord(status="judging", reason="", exit_code=3, declared_rate_eps=plan.declared_rate_eps,
                         rate_timeline=plan.rate_timeline, expected_tiers=expected, time_scale=time_scale,
                         lost_after_s=lost_after_s, run_problems=("no reader: TTA not measured",) if no_reader else ())
    verdict = judge_probe_dir(out, plan, inputs, sampled=points if source == "query" else ())
    record = replace(inputs, status=verdict.status, reason=verdict.reason, exit_code=int(verdict.exit_code),
                     invalid_reasons=verdict.invalid_reasons, tiers=verdict.tiers)
    (out / "probe.json").write_text(json.dumps(record.to_dict()))
    elsewhere.unlink()  # the directory carries what judging it needs

    # what the probe was asked to judge, straight from its inputs: its verdict is that one
    rates = (RateSource(declared_rate_eps=declared, window_s=0.0) if source == "declared"
             else RateSource(points=original.points if source == "timeline" else tuple(points), window_s=0.0))
    slo = load_slo(None, time_scale=time_scale).with_loss_horizon(lost_after_s)
    asked = judge_run(read_sample_columns(out / "samples.jsonl"), slo=slo,
                      rates=replace(rates, window_s=slo.rate_window_s),
                      steps=original.steps if source == "timeline" else (),
                      expected=expected, problems=inputs.run_problems)
    assert (verdict.exit_code, verdict.tiers, verdict.invalid_reasons) == (
        asked.exit_code, asked.tiers, asked.invalid_reasons)
    promise = reference_records.read_promise(DEFAULT_SLO_PATH, scale=time_scale, horizon_override=lost_after_s)
    oracle = reference_judge.judge(
        reference_records.read_samples(out / "samples.jsonl"), promise,
        declared=declared if source == "declared" else None,
        points=file_points if source == "timeline" else [
            {"unix_s": p.unix_s, "achieved_eps": p.achieved_eps, "target_eps": None, "behind_s": 0.0} for p in points],
        steps=file_steps if source == "timeline" else [], expected=expected, problems=inputs.run_problems)
    assert_agrees(asked, oracle, placements=False)  # read without the ids, as gate does

    code, text = _gate(out, capsys)
    assert code == record.exit_code, text
    (out / "probe.json").rename(out / "verdicts.json")  # the record's earlier name: still read
    assert _gate(out, capsys)[0] == code
    again = judge_files(files := RunFiles.load(out), slo_for(files, None))
    assert again.tiers == verdict.tiers and again.invalid_reasons == verdict.invalid_reasons
    assert len(_tier_lines(text)) == len(verdict.tiers)


@pytest.mark.parametrize("case", ["pass", "fail", "invalid step", "undecided"])
def test_gate_gives_the_runs_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    run = make_run_dir(tmp_path / "run", status="finished", steps=((200, 60), (1500, 60)),
                       high_tta_s=0.6 if case == "fail" else 0.2)
    if case == "invalid step":
        lines = (run / "rates.jsonl").read_text().splitlines()
        lines[-1] = json.dumps({**json.loads(lines[-1]), "valid": False, "reason": "achieved 1300 of 1500"})
        (run / "rates.jsonl").write_text("\n".join(lines) + "\n")
    if case == "undecided":
        samples = (run / "samples.jsonl").read_text().rsplit("\n", 1)[0]
        extra = {"canary_id": "u1", "path": "analytical", "outcome": "undecided", "sent_ns": 1,
                 "sent_unix_ms": 1_795_000_100_000}
        (run / "samples.jsonl").write_text(samples + "\n" + json.dumps(extra) + "\n")
    files = RunFiles.load(run)
    verdict = judge_files(files, slo_for(files, None))  # what the run wrote as its own
    points, steps = reference_records.read_rates(run / "rates.jsonl")
    oracle = reference_judge.judge(reference_records.read_samples(run / "samples.jsonl"),
                                   reference_records.read_promise(run / "slo.toml", scale=0.1), points=points,
                                   steps=steps, expected=["low", "high", "transactional"])
    assert_agrees(verdict, oracle, placements=False)
    code, text = _gate(run, capsys)
    assert code == int(verdict.exit_code) == {"pass": 0, "fail": 1, "invalid step": 3, "undecided": 3}[case]
    for t in verdict.tiers:
        assert f"{t.status}: {t.reason}" in text
