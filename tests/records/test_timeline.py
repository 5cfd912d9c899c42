"""The rate timeline file, read as it grows and read back whole: typed rows, torn lines skipped."""

from __future__ import annotations

from pathlib import Path

import orjson

from ingestbench.records.timeline import RatePoint, RateTimeline, SecondRow, StepRow, TimelineTail, read_timeline


def second(unix_s: float, achieved: float, target: float = 100.0) -> bytes:
    return orjson.dumps({"type": "second", "t_s": 0, "unix_s": unix_s, "target_eps": target,
                         "achieved_eps": achieved, "sent_events": 1, "failed_events": 0,
                         "lag_p50_s": None, "lag_p99_s": None, "step": 0, "valid": None}) + b"\n"


def test_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "rates.jsonl"
    tail = TimelineTail(path)
    assert tail.read_new() == RateTimeline()  # not there yet
    path.write_bytes(second(1.0, 99.0) + second(2.0, 98.0) + second(3.0, 97.0)[:20])
    assert tail.read_new().points == (RatePoint(1.0, 99.0, 100.0), RatePoint(2.0, 98.0, 100.0))
    with path.open("ab") as fh:
        fh.write(second(3.0, 97.0)[20:])
        fh.write(orjson.dumps({"type": "step", "step": 0, "target_eps": 100.0, "achieved_eps": 98.0,
                               "valid": True, "reason": "ok"}) + b"\n")
    new = tail.read_new()
    assert new.points == (RatePoint(3.0, 97.0, 100.0),)
    assert new.steps == (StepRow(step=0, target_eps=100.0, achieved_eps=98.0, valid=True, reason="ok"),)
    assert tail.read_new() == RateTimeline()
    whole = read_timeline(path)
    assert len(whole.seconds) == 3 and len(whole.steps) == 1


def test_rows_round_trip_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    row = SecondRow(t_s=4, unix_s=10.0, target_eps=None, achieved_eps=5.0, failed_by_kind={"throttled": 2})
    assert SecondRow.from_dict(row.to_dict()) == row
    step = StepRow(step=1, target_eps=10.0, achieved_eps=9.0, valid=False, reason="short", lag_p99_s=0.2)
    assert StepRow.from_dict(step.to_dict()) == step
    assert SecondRow.from_dict({"type": "second", "unix_s": "soon", "achieved_eps": 1}) is None
    assert SecondRow.from_dict({"type": "step", "step": 1}) is None
    path = tmp_path / "rates.jsonl"
    path.write_bytes(second(1.0, 9.0) + b"not json\n" + b'{"type": "second"}\n' + second(2.0, 8.0))
    assert [s.achieved_eps for s in read_timeline(path).seconds] == [9.0, 8.0]



