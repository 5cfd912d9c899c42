"""Rate sources: the load generator's timeline file as it grows, and Prometheus instant-query answers."""

from __future__ import annotations

from pathlib import Path

import orjson

from checks.rates import TimelineTail, parse_prom_answer, read_timeline
from checks.tiering import RatePoint


def second(unix_s: float, achieved: float, target: float = 100.0) -> bytes:
    return orjson.dumps({"type": "second", "t_s": 0, "unix_s": unix_s, "target_eps": target,
                         "achieved_eps": achieved, "sent_events": 1, "failed_events": 0,
                         "lag_p50_s": None, "lag_p99_s": None, "step": 0, "valid": None}) + b"\n"


def test_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "rates.jsonl"
    tail = TimelineTail(path)
    assert tail.read_new() == []  # not there yet
    path.write_bytes(second(1.0, 99.0) + second(2.0, 98.0) + second(3.0, 97.0)[:20])
    assert tail.read_new() == [RatePoint(1.0, 99.0, 100.0), RatePoint(2.0, 98.0, 100.0)]
    with path.open("ab") as fh:
        fh.write(second(3.0, 97.0)[20:])
        fh.write(orjson.dumps({"type": "step", "step": 0, "achieved_eps": 98.0}) + b"\n")
    assert tail.read_new() == [RatePoint(3.0, 97.0, 100.0)]
    assert tail.read_new() == []
    assert len(read_timeline(path)) == 3


def test_prometheus_answers() -> None:
    vector = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"i": "a"}, "value": [1700000000.5, "1200.5"]},
        {"metric": {"i": "b"}, "value": [1700000000.5, "300"]}]}})
    assert parse_prom_answer(200, vector) == RatePoint(1700000000.5, 1500.5)
    scalar = orjson.dumps({"status": "success", "data": {"resultType": "scalar", "result": [5.0, "7"]}})
    assert parse_prom_answer(200, scalar) == RatePoint(5.0, 7.0)
    empty = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    assert parse_prom_answer(200, empty) is None
    assert parse_prom_answer(400, b"{}") is None
    assert parse_prom_answer(200, b"not json") is None
    nan = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1.0, "NaN"]}]}})
    assert parse_prom_answer(200, nan) is None
