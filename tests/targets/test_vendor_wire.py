"""Every target's sans-IO requests against the documented wire shapes: method, path, headers, auth, body
envelope, size limits, the cache-busting nonce, the query-rate floor (no network)."""

from __future__ import annotations

import base64

import orjson
import pytest

from ingestbench.loadgen.encoded import EncodedEvents
from ingestbench.loadgen.events import EventFactory
from ingestbench.records.config import ConfigError
from ingestbench.targets.base import TargetError
from ingestbench.targets.contract import Provisioner, Reader, TokenAuth, Writer
from ingestbench.targets.registry import make_target

EVENT = {"name": "page_viewed", "userId": "u-1", "anonymousId": None, "timestamp": 1_700_000_000_123,
         "properties": {"plan": "pro"}, "deviceData": {"browser": "Firefox"}}
CANARY = {**EVENT, "properties": {"canary_id": "0190-c"}}
SECRET = "s3cr3t-value"


def test_segment_flavours_take_the_key_their_own_way():
    env = {"INGESTBENCH_SEGMENT_WRITE_KEY": SECRET}
    seg = make_target("segment", "http://h", options={}, environ=env)
    one, many = seg.ingest([EVENT]), seg.ingest([EVENT, CANARY])
    assert (one.method, one.path, many.path) == ("POST", "/v1/track", "/v1/batch")
    assert one.headers["Authorization"] == "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
    msgs = orjson.loads(many.body)["batch"]
    assert msgs[0] == {"type": "track", "event": "page_viewed", "userId": "u-1",
                       "timestamp": "2023-11-14T22:13:20.123Z", "properties": {"plan": "pro"},
                       "context": {"browser": "Firefox"}}
    assert "messageId" not in msgs[0] and msgs[1]["messageId"] == "0190-c"  # the load is never deduplicated
    jitsu = make_target("segment", "http://h", options={"flavour": "jitsu"}, environ=env)
    assert jitsu.ingest([EVENT]).path == "/api/s/s2s/track" and jitsu.ingest([EVENT]).headers["X-Write-Key"] == SECRET
    assert jitsu.limits.max_batch_events == 1
    with pytest.raises(ValueError, match="one event per request"):
        jitsu.ingest([EVENT, EVENT])
    assert SECRET not in repr(seg) and not isinstance(seg, Reader)


@pytest.mark.parametrize(("flavour", "events", "message"), [
    ("segment", [{**EVENT, "properties": {"blob": "x" * 33_000}}], "32 KB per event"),
    ("segment", [{**EVENT, "properties": {"blob": "x" * 20_000}}] * 26, "500 KB per batch"),
    ("rudderstack", [{**EVENT, "properties": {"blob": "x" * 33_000}}], "32 KB per event"),
])
def test_segment_limits_are_enforced_before_sending(flavour, events, message):
    t = make_target("segment", "http://h", options={"flavour": flavour}, environ={})
    with pytest.raises(ValueError, match=message):
        t.ingest(events)


def test_rudderstack_takes_a_batch_segment_refuses():
    batch = [{**EVENT, "properties": {"blob": "x" * 20_000}}] * 26  # ~520 KB: over 500 KB, under 4 MB
    assert make_target("segment", "http://h", options={"flavour": "rudderstack"}, environ={}).ingest(batch)


def test_posthog_batch_and_hogql_with_the_rate_floor():
    env = {"INGESTBENCH_POSTHOG_PROJECT_KEY": "phc_" + SECRET, "INGESTBENCH_POSTHOG_PERSONAL_KEY": "phx_" + SECRET}
    writer_only = make_target("posthog", "http://i", options={}, environ=env)
    assert isinstance(writer_only, Writer) and not isinstance(writer_only, Reader)
    t = make_target("posthog", "http://i", options={"project_id": "7", "app_url": "http://app",
                                                      "max_queries_per_hour": "240"}, environ=env)
    req = t.ingest([EVENT, {**EVENT, "userId": None, "anonymousId": "a-1"}])
    body = orjson.loads(req.body)
    assert (req.path, body["api_key"]) == ("/batch/", "phc_" + SECRET)
    assert [e["distinct_id"] for e in body["batch"]] == ["u-1", "a-1"]
    assert body["batch"][0]["timestamp"] == "2023-11-14T22:13:20.123Z" and body["batch"][0]["event"] == "page_viewed"
    q = t.query_canaries(["c-1", "it's"])
    doc = orjson.loads(q.body)
    assert (q.url, q.headers["Authorization"]) == ("http://app/api/projects/7/query/", "Bearer phx_" + SECRET)
    assert doc["refresh"] == "force_blocking" and doc["query"]["kind"] == "HogQLQuery"
    assert "properties.canary_id in ('c-1', 'it\\'s')" in doc["query"]["query"]
    assert t.limits.min_poll_interval_s == 15.0  # 240 an hour
    assert [r.canary_id for r in t.parse_query(200, b'{"results": [["c-1"]], "columns": ["x"]}')] == ["c-1"]
    with pytest.raises(TargetError, match="429"):
        t.parse_query(429, b"slow down")
    assert SECRET not in repr(t)


def test_userflux_token_then_base64_sql_with_a_fresh_nonce_each_time():
    env = {"INGESTBENCH_USERFLUX_WRITE_KEY": SECRET, "INGESTBENCH_USERFLUX_CLIENT_SECRET": "cs"}
    assert not isinstance(make_target("userflux", "http://i", options={},
                                      environ={"INGESTBENCH_USERFLUX_WRITE_KEY": SECRET}), Reader)
    t = make_target("userflux", "http://i", options={"metrics_url": "http://m"}, environ=env)
    assert isinstance(t, Reader) and isinstance(t, TokenAuth)
    ingest = t.ingest([EVENT, EVENT])
    assert (ingest.path, ingest.headers["Authorization"]) == ("/event/ingest/batch?locationEnrichment=false",
                                                              f"Bearer {SECRET}")  # always, as the SDKs
    auth = t.token_request()
    assert auth.url == "http://m/metrics/auth/token"
    assert orjson.loads(auth.body) == {"clientSecret": "cs", "environmentApiKey": SECRET}
    with pytest.raises(TargetError, match="'token'"):
        t.take_token(200, b'{"access_token": "x"}')
    t.take_token(200, b'{"token": "tok"}')
    assert t.token_request() is None
    first, second = t.query_canaries(["c-1"]), t.query_canaries(["c-1"])
    assert first.url == "http://m/metrics/query" and first.headers["Authorization"] == "Bearer tok"
    assert first.body != second.body  # the result cache is keyed on the body: every poll must differ
    sql = base64.b64decode(orjson.loads(first.body)["encodedQuery"]).decode()
    assert sql.startswith("/* ingestbench ") and "FROM eventsTable WHERE JSONExtractString(properties, " \
        "'canary_id') IN ('c-1')" in sql
    assert [r.canary_id for r in t.parse_query(200, b'{"data": [{"canary_id": "c-1"}, ["c-2"]]}')] == ["c-1", "c-2"]
    t.drop_token()
    assert t.token_request() is not None


def test_http_templates_build_and_parse_what_they_say():
    env = {"INGESTBENCH_HTTP_AUTH": "Token " + SECRET}
    opts = {"path": "/in", "envelope": "batch", "auth_header": "X-Auth", "accepted": "202",
            "query_url": "http://q", "query_path": "/find", "query_body": '{"where": {"id": {"in": {ids}}}}',
            "rows_path": "result.items", "canary_path": "props.cid"}
    t = make_target("http", "http://h", options=opts, environ=env)
    req = t.ingest([EVENT])
    assert (req.url, req.headers["X-Auth"], orjson.loads(req.body)) == ("http://h/in", "Token " + SECRET,
                                                                          {"batch": [EVENT]})
    assert t.parse_ingest(202, {}, b"").ok and not t.parse_ingest(204, {}, b"").ok
    q = t.query_canaries(["a", "b"])
    assert q.url == "http://q/find" and orjson.loads(q.body) == {"where": {"id": {"in": ["a", "b"]}}}
    rows = t.parse_query(200, b'{"result": {"items": [{"props": {"cid": "a"}}, {"props": {}}]}}')
    assert [r.canary_id for r in rows] == ["a"]
    nd = make_target("http", "http://h", options={"envelope": "ndjson"}, environ={})
    assert nd.ingest([EVENT, EVENT]).body.count(b"\n") == 2 and not isinstance(nd, Reader)
    assert make_target("http", "http://h", options={"envelope": "single"}, environ={}).limits.max_batch_events == 1
    with pytest.raises(ConfigError, match="envelope"):
        make_target("http", "http://h", options={"envelope": "xml"}, environ={})
    with pytest.raises(ConfigError, match=r"\{ids\}"):
        make_target("http", "http://h", options={"query_path": "/q", "query_body": "{}"}, environ={})


def test_clickhouse_rows_queries_settings_and_errors():
    env = {"INGESTBENCH_CLICKHOUSE_USER": "u", "INGESTBENCH_CLICKHOUSE_PASSWORD": SECRET}
    t = make_target("clickhouse", "http://h:8123", environ=env,
                    options={"database": "db", "insert_settings": "async_insert=1,wait_for_async_insert=0"})
    req = t.ingest([CANARY])
    assert req.path == ("/?query=INSERT%20INTO%20db.events%20FORMAT%20JSONEachRow&async_insert=1"
                        "&wait_for_async_insert=0")
    assert (req.headers["X-ClickHouse-User"], req.headers["X-ClickHouse-Key"]) == ("u", SECRET)
    row = orjson.loads(req.body)
    assert row == {"timestamp": 1_700_000_000_123, "name": "page_viewed", "user_id": "u-1", "anonymous_id": None,
                   "session_id": None, "properties": '{"canary_id":"0190-c"}', "canary_id": "0190-c"}
    assert b"\n" in t.ingest([EVENT, EVENT]).body and isinstance(t, Provisioner)
    failed = t.parse_ingest(404, {}, b"Code: 115, e.displayText() = DB::Exception: Unknown setting async_insert, "
                                      b"e.what() = DB::Exception\n")
    assert failed.error == ("clickhouse insert into db.events: Code: 115, DB::Exception: Unknown setting "
                            "async_insert (this server does not have a setting of insert_settings)")
    custom = make_target("clickhouse", "http://h", environ={},
                         options={"canary_column": "visitParamExtractString(properties, 'canary_id')"})
    assert custom.query_canaries(["x'y"]).body == (
        b"SELECT visitParamExtractString(properties, 'canary_id') AS canary_id FROM ingestbench.events WHERE "
        b"visitParamExtractString(properties, 'canary_id') IN ('x\\'y') FORMAT JSON")
    with pytest.raises(TargetError, match=r"canary look-up in ingestbench\.events: HTTP 500: Code: 60"):
        custom.parse_query(500, b"Code: 60, e.displayText() = DB::Exception: Table x doesn't exist")
    for bad in ({"table": "a;drop"}, {"buffer": "1,2,3"}, {"buffer": "9,6,1,1,1,1"}, {"insert_settings": "x"}):
        with pytest.raises(ConfigError):
            make_target("clickhouse", "http://h", options=bad, environ={})
    assert SECRET not in repr(t)


@pytest.mark.parametrize("kind", ["clickhouse", "http", "pipeline", "posthog", "segment", "userflux"])
def test_the_generator_splices_send_times_into_every_targets_encoding(kind):
    """The load encodes each event once and splices the send time in with the target's format_time: every
    template must take the fast path, and the bytes must equal encoding the event with that time."""
    target = make_target(kind, "http://h", options={}, environ={})
    factory = EventFactory(seed=3)
    encoded = EncodedEvents(factory, target)
    assert encoded.spliced == len(factory.templates)
    now = 1_700_000_000_456
    expected = [target.encode_event({**t, "timestamp": now}) for t in factory.templates[:5]]
    assert encoded.batch(5, now_ms=now) == expected
