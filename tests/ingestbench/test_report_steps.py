"""The markdown report's step table stays readable for a replayed shape of many steps: past MAX_STEP_ROWS it lists
the invalid steps only, under a line counting valid and invalid ones; run.json keeps every step."""

from __future__ import annotations

from pathlib import Path

from ingestbench.records.run_record import RunRecord
from ingestbench.records.timeline import StepRow
from ingestbench.results import report_md
from ingestbench.results.rundir import RunFiles


def steps_section(steps: list[StepRow], tmp_path: Path) -> str:
    text = report_md.render(RunFiles(path=tmp_path, run=RunRecord(run_id="r", steps=tuple(steps))))
    return text.split("## Load steps", 1)[1].split("\n## ", 1)[0]


def step(i: int, valid: bool = True) -> StepRow:
    return StepRow(step=i, target_eps=100.0 + i, achieved_eps=100.0 + i if valid else 50.0, valid=valid,
                   reason="fine" if valid else f"achieved 50.0 of {100 + i}.0 events/s")


def test_a_few_steps_are_all_listed(tmp_path):
    text = steps_section([step(i) for i in range(report_md.MAX_STEP_ROWS)], tmp_path)
    assert text.count("\n| ") == report_md.MAX_STEP_ROWS + 1  # the header and every step
    assert "every step is in run.json" not in text


def test_a_replay_of_many_steps_lists_only_the_invalid_ones(tmp_path):
    steps = [step(i, valid=i not in (7, 61)) for i in range(98)]
    text = steps_section(steps, tmp_path)
    assert "98 steps: 96 valid, 2 invalid (listed below); every step is in run.json and rates.jsonl." in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| step")]
    assert [r.split(" | ")[0] for r in rows] == ["| 7", "| 61"], rows
    assert "achieved 50.0 of 161.0 events/s" in text
    clean = steps_section([step(i) for i in range(98)], tmp_path)
    assert "98 steps: 98 valid, 0 invalid; every step" in clean and "| step |" not in clean
    run = RunRecord(run_id="r", steps=tuple(steps))
    assert len(RunRecord.from_dict(run.to_dict()).steps) == 98  # run.json holds every step
