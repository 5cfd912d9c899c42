"""The sans-IO builders and parsers for the reference pipeline (no network)."""

import orjson
import pytest

from ingestbench.targets.base import TargetError
from ingestbench.targets.pipeline import PipelineTarget

EVENT = {"name": "page_viewed", "userId": "u", "timestamp": 1.7e12, "properties": {}}


def test_ingest_picks_the_endpoint_and_carries_the_key():
    t = PipelineTarget("http://h:1/", write_key="k")
    one, many = t.ingest([EVENT]), t.ingest([EVENT, EVENT])
    assert (one.method, one.path, one.url) == ("POST", "/event/ingest", "http://h:1/event/ingest")
    assert many.path == "/event/ingest/batch" and orjson.loads(many.body)["events"] == [EVENT, EVENT]
    assert one.headers["Authorization"] == "Bearer k" and one.headers["Content-Type"] == "application/json"
    assert "k" not in repr(t)
    assert PipelineTarget("http://h:1", location_enrichment=True).ingest([EVENT]).path.endswith("=true")


def test_parse_ingest_classifies_failures():
    t = PipelineTarget("http://h")
    assert t.parse_ingest(204, {}, b"").ok
    throttled = t.parse_ingest(429, {"Retry-After": "2"}, b"slow down")
    assert (throttled.kind, throttled.retry_after_s) == ("throttled", 2.0)
    assert t.parse_ingest(400, {}, b"{}").kind == "rejected"
    assert t.parse_ingest(503, {}, b"").kind == "server_error"


def test_query_round_trip_and_bad_answers():
    t = PipelineTarget("http://h")
    req = t.query_canaries(["a", "b"])
    assert req.path == "/query" and orjson.loads(req.body) == {"canary_ids": ["a", "b"]}
    rows = t.parse_query(200, b'{"rows": [{"canary_id": "a", "name": "x", "timestamp": 1, "userId": "u"}]}')
    assert rows[0].canary_id == "a" and rows[0].user_id == "u"
    for status, body in ((500, b"boom"), (200, b"not json"), (200, b'{"rows": [{}]}'), (200, b"{}")):
        with pytest.raises(TargetError):
            t.parse_query(status, body)
    with pytest.raises(ValueError):
        t.query_canaries([str(i) for i in range(10_001)])


def test_profiles():
    t = PipelineTarget("http://h")
    assert t.read_profile("a b/c").path == "/profile/a%20b%2Fc"
    assert t.parse_profile(404, b"").found is False
    found = t.parse_profile(200, b'{"id": "u", "properties": {"plan": "pro"}}')
    assert found.found and found.properties == {"plan": "pro"}
    assert orjson.loads(t.write_profile("u", {"plan": "pro"}).body)["userId"] == "u"
