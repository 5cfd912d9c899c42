"""The probe and the run ask the same judge: on the same recorded files they give the same verdicts and exit
code, for runs that pass, fail, and are invalid in each way the probe can see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestbench.orchestrate.probe import judge_probe
from ingestbench.results.judging import judge_files, slo_for
from ingestbench.results.rundir import RunFiles
from records.exit_codes import ExitCode
from records.plan import ProbePlan
from tests.ingestbench.synthetic import make_run_dir

LONG = ((200, 60), (1500, 60))


def _variant(path: Path, case: str) -> Path:
    run = make_run_dir(path, status="finished", steps=LONG, high_tta_s=0.6 if case == "fail" else 0.2)
    if case == "invalid step":
        lines = (run / "rates.jsonl").read_text().splitlines()
        step = json.loads(lines[-1])
        lines[-1] = json.dumps({**step, "valid": False, "reason": "achieved 1300 of 1500 events/s"})
        (run / "rates.jsonl").write_text("\n".join(lines) + "\n")
    if case == "undecided":
        samples = (run / "samples.jsonl").read_text().rsplit("\n", 1)[0]  # drop the torn last line
        extra = {"canary_id": "u1", "path": "analytical", "outcome": "undecided", "sent_ns": 1,
                 "sent_unix_ms": 1_795_000_100_000}
        (run / "samples.jsonl").write_text(samples + "\n" + json.dumps(extra) + "\n")
    if case == "lost":
        samples = (run / "samples.jsonl").read_text().rsplit("\n", 1)[0]
        extra = {"canary_id": "l1", "path": "analytical", "outcome": "lost", "sent_ns": 1,
                 "sent_unix_ms": 1_795_000_010_000}  # in the low step's warm-up
        (run / "samples.jsonl").write_text(samples + "\n" + json.dumps(extra) + "\n")
    return run


@pytest.mark.parametrize(("case", "code"), [
    ("pass", ExitCode.OK), ("fail", ExitCode.SLO_FAILED), ("lost", ExitCode.SLO_FAILED),
    ("invalid step", ExitCode.INVALID), ("undecided", ExitCode.INVALID),
])
def test_probe_and_run_agree(tmp_path: Path, case: str, code: ExitCode) -> None:
    files = RunFiles.load(_variant(tmp_path / case, case))
    slo = slo_for(files, None)
    run = judge_files(files, slo)
    plan = ProbePlan(target="pipeline", url="http://127.0.0.1:1", slo_path=None, time_scale=0.1,
                     rate_timeline=str(files.path / "rates.jsonl"), expected_tiers=files.run.expected_tiers)
    probe = judge_probe(files.samples, plan, slo)
    assert run.exit_code == probe.exit_code == code, (run.reason, probe.reason)
    assert run.tiers == probe.tiers
    assert run.invalid_reasons == probe.invalid_reasons
