"""The ingest, profile and query API over HTTP against a real pipeline process on loopback."""

import json
import uuid

import pytest

from tests.http import Client
from tests.servers import start_pipeline

pytestmark = pytest.mark.server
TS = 1_764_000_000_000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    with start_pipeline(tmp, flush_rows=5, flush_max_wait_s=0.3,
                        extra_args=["--max-batch", "50", "--max-body-bytes", "200000"]) as p:
        yield p


@pytest.fixture(scope="module")
def client(pipeline):
    c = Client(pipeline.url)
    yield c
    c.close()


def ev(cid: str | None = None, **kw):
    props = {"canary_id": cid} if cid else {}
    return {"name": "feature_used", "userId": "u1", "timestamp": TS, "properties": props, **kw}


def assert_rejected(client, path, body, headers, status, field=None, index=None):
    before = client.stats()["events"]
    code, raw = client.request("POST", path, body, headers)
    assert code == status, raw
    doc = json.loads(raw)
    assert set(doc) == {"error", "field", "index"}
    assert doc["error"] and "\n" not in doc["error"]
    if field is not None:
        assert doc["field"] == field
    assert doc["index"] == index
    assert client.stats()["events"] == before, "a rejected request stored something"
    return doc


def test_single_and_batch_ingest_are_acknowledged_with_204(client):
    before = client.stats()["events"]
    assert client.post_json("/event/ingest?locationEnrichment=false", ev())[0] == 204
    assert client.post_json("/event/ingest/batch", {"events": [ev(), ev(), ev()]})[0] == 204
    assert client.stats()["events"] == before + 4


def test_query_returns_only_flushed_events_and_duplicates_twice(client, pipeline):
    cid = str(uuid.uuid4())
    assert client.post_json("/event/ingest/batch", {"events": [ev(cid), ev(cid)]})[0] == 204
    # flush_rows=5: pad to force a size flush now
    assert client.post_json("/event/ingest/batch", {"events": [ev()] * 5})[0] == 204
    status, doc = client.post_json("/query", {"canary_ids": [cid, "unknown"]})
    assert status == 200
    assert [r["canary_id"] for r in doc["rows"]] == [cid, cid]
    assert doc["rows"][0] == {"canary_id": cid, "name": "feature_used", "timestamp": TS, "userId": "u1",
                              "anonymousId": None}
    status, truth = client.post_json("/internal/visibility", {"canary_ids": [cid]})
    assert status == 200 and len(truth["rows"]) == 2
    for row in truth["rows"]:
        assert row["visible_at_ms"] >= row["received_at_ms"]


def test_unflushed_event_is_invisible_but_has_ground_truth(client):
    cid = str(uuid.uuid4())
    assert client.post_json("/event/ingest", ev(cid))[0] == 204
    status, doc = client.post_json("/query", {"canary_ids": [cid]})
    assert status == 200 and doc["rows"] == []
    _, truth = client.post_json("/internal/visibility", {"canary_ids": [cid]})
    assert truth["rows"][0]["visible_at_ms"] is None
    assert truth["rows"][0]["received_at_ms"] > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "$"),
        (b"[1, 2]", "$"),
        (b'"text"', "$"),
        (json.dumps({"userId": "u", "timestamp": TS}).encode(), "$.name"),
        (json.dumps(ev(name=3)).encode(), "$.name"),
        (json.dumps(ev(name="")).encode(), "$.name"),
        (json.dumps(ev(name="n" * 201)).encode(), "$.name"),
        (json.dumps(ev(name="has space")).encode(), "$.name"),
        (json.dumps(ev(userId=None)).encode(), "$.userId"),
        (json.dumps(ev(timestamp="yesterday")).encode(), "$.timestamp"),
        (json.dumps(ev(properties=["a"])).encode(), "$.properties"),
    ],
)
def test_single_event_rules_give_400(client, body, field):
    assert_rejected(client, "/event/ingest", body, JSON, 400, field)


def test_batch_is_all_or_nothing(client):
    events = [ev(), ev(), ev(name="bad name"), ev()]
    doc = assert_rejected(client, "/event/ingest/batch", json.dumps({"events": events}).encode(), JSON, 400,
                          "$.events[2].name", 2)
    assert "white space" in doc["error"]


def test_batch_over_max_batch_is_413(client):
    body = json.dumps({"events": [ev()] * 51}).encode()
    assert_rejected(client, "/event/ingest/batch", body, JSON, 413, "$.events")


def test_body_over_max_bytes_is_413(client):
    body = json.dumps(ev(properties={"blob": "x" * 250_000})).encode()
    assert_rejected(client, "/event/ingest", body, JSON, 413, "$")


def test_chunked_body_over_max_bytes_is_413(client):
    big = json.dumps({"events": [ev(properties={"blob": "x" * 10_000})] * 30}).encode()

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    before = client.stats()["events"]
    import http.client

    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    conn.request("POST", "/event/ingest/batch", body=chunks(), headers={**JSON, "Transfer-Encoding": "chunked"},
                 encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()
    assert client.stats()["events"] == before


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    assert_rejected(client, "/event/ingest", json.dumps(ev()).encode(), headers, 415, "Content-Type")


def test_json_content_type_with_charset_is_fine(client):
    code, _ = client.request("POST", "/event/ingest", json.dumps(ev()).encode(),
                             {"Content-Type": "application/json; charset=utf-8"})
    assert code == 204


def test_profile_is_readable_immediately_and_merges(client):
    uid = f"user-{uuid.uuid4()}"
    assert client.get_json(f"/profile/{uid}")[0] == 404
    assert client.post_json("/profile", {"userId": uid, "anonymousId": "a1", "properties": {"plan": "free"}})[0] == 204
    status, doc = client.get_json(f"/profile/{uid}")
    assert status == 200 and doc["properties"] == {"plan": "free"} and doc["id"] == uid
    assert client.post_json("/profile", {"userId": uid, "properties": {"seats": 3}})[0] == 204
    status, doc = client.get_json(f"/profile/{uid}")
    assert doc["properties"] == {"plan": "free", "seats": 3}
    assert doc["anonymousIds"] == ["a1"]
    assert set(doc) >= {"id", "anonymousIds", "properties", "computedProperties", "segments"}


def test_profile_without_user_id_is_400(client):
    code, doc = client.post_json("/profile", {"properties": {}})
    assert code == 400 and doc["field"] == "$.userId"


def test_query_validation(client):
    assert client.post_json("/query", {"canary_ids": "x"})[0] == 400
    assert client.post_json("/query", {"canary_ids": ["a"] * 10_001})[0] == 413
    status, doc = client.post_json("/query", {"canary_ids": [f"id-{i}" for i in range(10_000)]})
    assert status == 200 and doc["rows"] == []


def test_healthz_and_metrics(client):
    assert client.get_json("/healthz")[0] == 200
    status, body = client.request("GET", "/metrics")
    text = body.decode()
    assert status == 200
    for name in ("ingestbench_pipeline_events_received_total", "ingestbench_pipeline_events_visible_total",
                 "ingestbench_pipeline_buffered_events", "ingestbench_pipeline_flush_duration_seconds_bucket",
                 "ingestbench_pipeline_visibility_delay_seconds_bucket", "ingestbench_pipeline_flushes_total"):
        assert name in text, name


def test_write_key_is_enforced(tmp_path):
    with start_pipeline(tmp_path, env={"INGESTBENCH_WRITE_KEY": "s3cret-key"}) as p:
        c = Client(p.url)
        assert c.post_json("/event/ingest", ev())[0] == 401
        assert c.post_json("/event/ingest", ev(), {"Authorization": "Bearer wrong"})[0] == 401
        assert c.post_json("/event/ingest", ev(), {"Authorization": "Bearer s3cret-key"})[0] == 204
        assert c.get_json("/healthz")[0] == 200
        c.close()
        assert "s3cret-key" not in p.tail(100)


def test_no_write_key_warns_once(pipeline):
    assert pipeline.tail(200).count("no write key configured") == 1
