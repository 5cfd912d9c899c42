"""Achieved rates from Prometheus instant-query answers."""

from __future__ import annotations

import orjson

from ingestbench.checks.rates import parse_prom_answer
from ingestbench.records.timeline import RatePoint


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
