"""Bad input over HTTP: property-based fuzzing of every route of the reference pipeline.

One pipeline on loopback takes about 7,000 generated requests: event and batch bodies, profiles, canary-id
look-ups, raw bytes with any content type to every POST route, any profile id, any method on any path. For
each: never a 5xx, never a traceback in a response; every refusal by the API is a 4xx whose JSON body names
the offending field (``{"error", "field", "index"}``, the error one line) and stores nothing; what is accepted
is stored (events counted, a profile readable at once). At the end, the pipeline's log holds no traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.faults.fuzzcount import completed, fuzz_cases
from tests.http import Client, raw_request
from tests.pipeline.stored import assert_stored, tagged
from tests.pipeline.test_fuzz import VALID, event_like, json_values, valid_event
from tests.servers import PipelineProcess, start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]

JSON = {"Content-Type": "application/json"}
API_ROUTES = ("/event/ingest", "/event/ingest/batch", "/profile", "/query", "/internal/visibility")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with start_pipeline(tmp_path_factory.mktemp("fuzz-http"), flush_rows=500, flush_max_wait_s=0.5,
                        extra_args=["--max-batch", "50"]) as p:
        yield p
    assert "Traceback" not in p.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def client(pipeline: PipelineProcess) -> Any:
    c = Client(pipeline.url)
    yield c
    c.close()


def refusal(status: int, raw: bytes) -> dict[str, Any]:
    """A 4xx from the API: one JSON object naming the field, a one-line error."""
    assert 400 <= status < 500, (status, raw[:300])
    doc = json.loads(raw)
    assert set(doc) == {"error", "field", "index"}, doc
    assert isinstance(doc["field"], str) and doc["field"], doc
    assert isinstance(doc["error"], str) and "\n" not in doc["error"] and "Traceback" not in doc["error"], doc
    return doc


def post_events(client: Client, path: str, doc: Any) -> None:
    """POST ``doc`` (its events tagged with canary ids): a 204 stored them all, read back by id; a refusal
    stored nothing."""
    body, tags = tagged(doc, path)
    before = client.stats()["events"]
    status, raw = client.request("POST", path, body, JSON)
    if status == 204:
        assert_stored(client, path, body, before, tags)
    else:
        refusal(status, raw)
        after = client.stats()["events"]
        assert after == before, f"a refused request ({status}) stored {after - before} events"


@fuzz_cases(1500)
@given(doc=st.one_of(event_like, json_values, valid_event))
@example(doc=VALID)
@completed
def test_single_event_route(client: Client, doc: Any) -> None:
    post_events(client, "/event/ingest", doc)


@fuzz_cases(1500)
@given(events=st.one_of(st.lists(st.one_of(event_like, event_like, json_values, valid_event), max_size=60),
                        st.lists(valid_event, min_size=1, max_size=50)),
       wrap=st.sampled_from(["events", "events", "Events", "event", None]))
@example(events=[VALID, VALID], wrap="events")
@completed
def test_batch_route(client: Client, events: list[Any], wrap: str | None) -> None:
    body = events if wrap is None else {wrap: events}
    post_events(client, "/event/ingest/batch", body)


profile_like = st.fixed_dictionaries({}, optional={
    "userId": st.one_of(st.text(max_size=12), json_values), "anonymousId": st.one_of(st.none(), json_values),
    "externalId": st.one_of(st.none(), st.text(max_size=5), json_values),
    "properties": st.one_of(st.dictionaries(st.text(max_size=8), json_values, max_size=4), json_values),
    "deviceData": json_values})


@fuzz_cases(900)
@given(doc=st.one_of(profile_like, json_values))
@example(doc={"userId": "{"})  # found by this test: ids with braces were written but never read back
@example(doc={"userId": "a/b}%2F\n"})
@completed
def test_profile_routes(client: Client, doc: Any) -> None:
    status, raw = client.request("POST", "/profile", json.dumps(doc).encode(), JSON)
    if status != 204:
        refusal(status, raw)
        return
    status, got = client.get_json("/profile/" + quote(doc["userId"], safe=""))
    assert status == 200, got  # readable at once
    assert got["properties"] == {**(got["properties"]), **(doc.get("properties") or {})}


ids_like = st.one_of(st.lists(st.one_of(st.text(max_size=40), json_values), max_size=30), json_values)


@fuzz_cases(1000)
@given(ids=ids_like, route=st.sampled_from(["/query", "/internal/visibility"]),
       key=st.sampled_from(["canary_ids", "canary_id", "ids"]))
@completed
def test_lookup_routes(client: Client, ids: Any, route: str, key: str) -> None:
    status, raw = client.request("POST", route, json.dumps({key: ids}).encode(), JSON)
    if status == 200:
        rows = json.loads(raw)["rows"]
        assert isinstance(rows, list) and all(r["canary_id"] in ids for r in rows)
    else:
        refusal(status, raw)


@fuzz_cases(1000)
@given(body=st.binary(max_size=400), route=st.sampled_from(API_ROUTES),
       content_type=st.sampled_from(["application/json", "application/x+json", "text/plain", "", "application/json;"
                                     " charset=latin-1", "multipart/form-data; boundary=x", "application/json\x00"]))
@completed
def test_any_bytes_any_content_type(client: Client, pipeline: PipelineProcess, body: bytes, route: str,
                                    content_type: str) -> None:
    before = client.stats()["events"]
    headers = {"Content-Type": content_type} if content_type else {}
    if not content_type.isprintable():  # not HTTP (http.client refuses to send it): sent raw, the server's
        status, raw = raw_request(pipeline.url, "POST", route, body, headers)  # parser refuses it
        assert status == 400 and b"Traceback" not in raw, (status, raw[:300])
    else:
        status, raw = client.request("POST", route, body, headers)
    if status == 204 and route in ("/event/ingest", "/event/ingest/batch"):
        assert_stored(client, route, body, before)
    elif status in (200, 204):  # a look-up or a profile: only for a JSON object with the route's key
        doc = json.loads(body.decode("utf-8"))
        assert isinstance(doc, dict) and (route == "/profile" or "canary_ids" in doc), (route, body[:200])
        assert client.stats()["events"] == before
    else:
        if content_type.isprintable():
            refusal(status, raw)
        assert client.stats()["events"] == before


@fuzz_cases(600)
@given(user_id=st.text(max_size=40))
@completed
def test_any_profile_id(client: Client, user_id: str) -> None:
    status, raw = client.request("GET", "/profile/" + quote(user_id, safe=""))
    assert status in (200, 404), (status, raw[:200])
    if status == 404 and user_id:  # every id reaches the API (an empty one is no route at all)
        refusal(status, raw)


@fuzz_cases(600)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
       path=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4),
       known=st.sampled_from([*API_ROUTES, "/metrics", "/healthz", "/internal/stats", "/profile/u", None]))
@completed
def test_any_method_on_any_path(client: Client, method: str, path: list[str], known: str | None) -> None:
    target = known or "/" + "/".join(quote(p, safe="") for p in path)
    status, raw = client.request(method, target, b"{}" if method in ("POST", "PUT", "PATCH") else None, JSON)
    assert status < 500, (method, target, status, raw[:200])
    assert b"Traceback" not in raw

