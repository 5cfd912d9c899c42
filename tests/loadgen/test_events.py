import re
import statistics
import subprocess
import sys

import orjson
import pytest

from ingestbench.loadgen.events import CASINGS, EventFactory

WIRE_KEYS = {"timestamp", "userId", "anonymousId", "externalId", "sessionId", "name", "properties", "deviceData"}


def _walk_keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _walk_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_keys(v)


def test_wire_shape_and_identity():
    f = EventFactory(seed=3)
    for e in f.batch(2000, now_ms=1_700_000_000_123):
        assert set(e) == WIRE_KEYS
        assert e["timestamp"] == 1_700_000_000_123
        assert e["userId"] or e["anonymousId"]
        assert isinstance(e["properties"], dict) and len(e["properties"]) == 8
        assert e["deviceData"] is None or isinstance(e["deviceData"], dict)
        assert not re.search(r"\s", e["name"])


@pytest.mark.parametrize("casing,pattern", [
    ("snake_case", r"^[a-z0-9]+(_[a-z0-9]+)*$"),
    ("camelCase", r"^[a-z][a-zA-Z0-9]*$"),
    ("TitleCase", r"^[A-Z][a-zA-Z0-9]*$"),
])
def test_casing_applies_to_names_and_keys(casing, pattern):
    f = EventFactory(seed=1, casing=casing, property_count=20)
    for e in f.batch(500):
        assert re.match(pattern, e["name"]), e["name"]
        for key in _walk_keys(e["properties"]):
            if key != "storage_gb":
                assert re.match(pattern, key), key


def test_deterministic_for_a_seed_and_differs_across_seeds():
    a = EventFactory(seed=5).batch(100, now_ms=1)
    b = EventFactory(seed=5).batch(100, now_ms=1)
    c = EventFactory(seed=6).batch(100, now_ms=1)
    assert a == b
    assert a != c


def test_nested_and_arrays_present_when_asked_and_absent_otherwise():
    with_nested = EventFactory(seed=1, nested=True).batch(50)
    assert all(any(isinstance(v, dict) for v in e["properties"].values()) for e in with_nested)
    assert all(any(isinstance(v, list) for v in e["properties"].values()) for e in with_nested)
    flat = EventFactory(seed=1, nested=False).batch(50)
    assert not any(isinstance(v, dict | list) for e in flat for v in e["properties"].values())


def test_product_mix_clients_and_backends():
    events = EventFactory(seed=2, pool_size=4096).batch(4096)
    names = {e["name"] for e in events}
    assert {"page_viewed", "button_clicked", "signup_completed", "payment_succeeded"} <= names
    client = [e for e in events if e["name"] == "page_viewed"]
    backend = [e for e in events if e["name"] == "payment_succeeded"]
    assert all(e["deviceData"] for e in client)
    assert all(e["deviceData"] is None for e in backend)
    anonymous = sum(1 for e in events if e["userId"] is None) / len(events)
    assert 0.25 < anonymous < 0.35  # default anonymous_ratio 0.3


@pytest.mark.parametrize("payload_bytes", [800, 2000])
def test_payload_size_reaches_target(payload_bytes):
    f = EventFactory(seed=1, payload_bytes=payload_bytes)
    sizes = [len(orjson.dumps(e)) for e in f.batch(1000, now_ms=1_700_000_000_000)]
    assert abs(statistics.mean(sizes) - payload_bytes) / payload_bytes < 0.02


def test_copies_are_independent_for_canary_ids():
    f = EventFactory(seed=1, pool_size=1)
    a, b = f.next_event(), f.next_event()
    a["properties"]["canary_id"] = "c-1"
    assert "canary_id" not in b["properties"]
    assert "canary_id" not in f.next_event()["properties"]


def test_injected_clock():
    f = EventFactory(seed=1, clock_ms=lambda: 42_000.9)
    assert f.next_event()["timestamp"] == 42_000
    assert {e["timestamp"] for e in f.batch(3)} == {42_000}


@pytest.mark.parametrize("kwargs", [{"casing": "kebab-case"}, {"anonymous_ratio": 1.5}, {"property_count": -1}])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        EventFactory(seed=1, **kwargs)


def test_all_casings_known():
    assert CASINGS == ("snake_case", "camelCase", "TitleCase")


def test_importable_without_locust_or_gevent():
    code = ("import sys, ingestbench.loadgen.events, ingestbench.loadgen.encoded, ingestbench.loadgen.schedule; "
            "import ingestbench.loadgen.pacer, ingestbench.loadgen.meter; "
            "import ingestbench.loadgen.merger; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
