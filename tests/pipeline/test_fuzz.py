"""Arbitrary JSON and bytes against the ingest endpoints: never a 5xx, nothing stored when rejected, and a
204 means the body's events are stored and read back (:mod:`tests.pipeline.stored`)."""

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.http import Client
from tests.pipeline.stored import assert_stored, tagged
from tests.servers import start_pipeline

pytestmark = pytest.mark.server

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=30), json_values),
        "userId": st.one_of(st.none(), st.text(max_size=5), json_values),
        "anonymousId": st.one_of(st.none(), st.text(max_size=5)),
        "timestamp": st.one_of(st.integers(), st.floats(allow_nan=False), json_values),
        "properties": st.one_of(st.dictionaries(st.text(max_size=8), json_values, max_size=4), json_values),
        "deviceData": json_values,
    },
)
# events the API must accept (any properties, ids and names within the documented rules): a 204 is checked
valid_event = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z_$.]{1,40}", fullmatch=True),
     "timestamp": st.one_of(st.integers(min_value=10**11, max_value=10**14 - 1),
                            st.floats(min_value=1e11, max_value=9.9e13))},
    optional={"userId": st.text(min_size=1, max_size=8), "anonymousId": st.text(min_size=1, max_size=8),
              "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=4)},
).filter(lambda e: e.get("userId") or e.get("anonymousId"))
VALID = {"name": "signup", "userId": "u1", "timestamp": 1764000000000, "properties": {"plan": "pro"}}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with start_pipeline(tmp_path_factory.mktemp("fuzz"), flush_rows=50, flush_max_wait_s=1.0,
                        extra_args=["--max-batch", "20"]) as p:
        c = Client(p.url)
        yield c
        c.close()


def check(client, path, body, tags=None):
    before = client.stats()["events"]
    status, raw = client.request("POST", path, body, {"Content-Type": "application/json"})
    assert status < 500, raw
    if status == 204:
        assert_stored(client, path, body, before, tags)
        return
    after = client.stats()["events"]
    assert 400 <= status < 500
    doc = json.loads(raw)
    assert set(doc) == {"error", "field", "index"}
    assert after == before, f"rejected request ({status}) stored {after - before} events"


@SETTINGS
@given(doc=st.one_of(json_values, event_like, valid_event))
@example(doc=VALID)
def test_single_endpoint_arbitrary_json(client, doc):
    check(client, "/event/ingest", *tagged(doc, "/event/ingest"))


@SETTINGS
@given(events=st.one_of(st.lists(st.one_of(event_like, json_values, valid_event), max_size=25),
                        st.lists(valid_event, min_size=1, max_size=20)))
@example(events=[VALID, VALID])
def test_batch_endpoint_arbitrary_events(client, events):
    check(client, "/event/ingest/batch", *tagged({"events": events}, "/event/ingest/batch"))


@SETTINGS
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(client, body):
    check(client, "/event/ingest", body)
    check(client, "/event/ingest/batch", body)
    status, _ = client.request("POST", "/query", body, {"Content-Type": "application/json"})
    assert status < 500
