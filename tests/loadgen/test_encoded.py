"""Pre-encoded events are exactly the factory's events, encoded: same order, same bytes, any batch size."""

from datetime import UTC, datetime

import orjson
import pytest

from loadgen.encoded import PLACEHOLDER_MS, EncodedEvents
from loadgen.events import EventFactory
from pipeline.validation import validate_batch, validate_single
from targets.pipeline import PipelineTarget

NOW_MS = 1_700_000_000_123


@pytest.mark.parametrize("sizes", [[1, 1, 1], [100, 100, 100], [7, 30, 1, 64], [150], [5, 300, 2]])
def test_same_bytes_as_encoding_the_factory_batch(sizes):
    target = PipelineTarget("http://h")
    plain = EventFactory(seed=9, pool_size=64)
    enc = EncodedEvents(EventFactory(seed=9, pool_size=64), target.encode_event)
    assert enc.spliced == 64
    for n in sizes:  # batches that wrap the pool and batches larger than it
        expected = [orjson.dumps(e) for e in plain.batch(n, now_ms=NOW_MS)]
        assert enc.batch(n, now_ms=NOW_MS) == expected


def test_request_bodies_match_and_pass_pipeline_validation():
    target = PipelineTarget("http://h", write_key="k")
    plain, enc = EventFactory(seed=3), EncodedEvents(EventFactory(seed=3), target.encode_event)
    for n in (1, 100, 1000):
        fast, slow = target.ingest_encoded(enc.batch(n, now_ms=NOW_MS)), target.ingest(plain.batch(n, now_ms=NOW_MS))
        assert (fast.method, fast.path, fast.headers) == (slow.method, slow.path, slow.headers)
        assert fast.body is not None and orjson.loads(fast.body) == orjson.loads(slow.body or b"")
        doc = orjson.loads(fast.body)
        accepted = validate_single(doc) if n == 1 else validate_batch(doc, max_batch=1000)
        assert accepted.n_events == n


def _iso_encode(event):
    """A target that rewrites the timestamp (as PostHog does): the placeholder never appears."""
    ts = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).isoformat()
    return orjson.dumps({**event, "timestamp": ts})


def _twice_encode(event):
    """A target that repeats the timestamp for page views: splicing one place would be wrong there."""
    extra = {"sentAt": event["timestamp"]} if event["name"] == "page_viewed" else {}
    return orjson.dumps({**event, **extra})


@pytest.mark.parametrize("encode", [_iso_encode, _twice_encode])
def test_templates_without_one_placeholder_are_encoded_per_request(encode):
    plain = EventFactory(seed=2, pool_size=50)
    enc = EncodedEvents(EventFactory(seed=2, pool_size=50), encode)
    assert enc.spliced < 50
    for n in (1, 20, 75):
        assert enc.batch(n, now_ms=NOW_MS) == [encode(e) for e in plain.batch(n, now_ms=NOW_MS)]
    assert str(PLACEHOLDER_MS).encode() not in b"".join(enc.batch(50, now_ms=NOW_MS))
