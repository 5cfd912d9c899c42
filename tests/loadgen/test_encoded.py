"""Pre-encoded events are exactly the factory's events, encoded: same order, same bytes, any batch size."""

from datetime import UTC, datetime

import orjson
import pytest

from ingestbench.loadgen.encoded import PLACEHOLDER_MS, EncodedEvents
from ingestbench.loadgen.events import EventFactory
from ingestbench.pipeline.validation import validate_batch, validate_single
from ingestbench.targets.pipeline import PipelineTarget

NOW_MS = 1_700_000_000_123


@pytest.mark.parametrize("sizes", [[1, 1, 1], [100, 100, 100], [7, 30, 1, 64], [150], [5, 300, 2]])
def test_same_bytes_as_encoding_the_factory_batch(sizes):
    target = PipelineTarget("http://h")
    plain = EventFactory(seed=9, pool_size=64)
    enc = EncodedEvents(EventFactory(seed=9, pool_size=64), target)
    assert enc.spliced == 64
    for n in sizes:  # batches that wrap the pool and batches larger than it
        expected = [orjson.dumps(e) for e in plain.batch(n, now_ms=NOW_MS)]
        assert enc.batch(n, now_ms=NOW_MS) == expected


def test_request_bodies_match_and_pass_pipeline_validation():
    target = PipelineTarget("http://h", write_key="k")
    plain, enc = EventFactory(seed=3), EncodedEvents(EventFactory(seed=3), target)
    for n in (1, 100, 1000):
        fast, slow = target.ingest_encoded(enc.batch(n, now_ms=NOW_MS)), target.ingest(plain.batch(n, now_ms=NOW_MS))
        assert (fast.method, fast.path, fast.headers) == (slow.method, slow.path, slow.headers)
        assert fast.body is not None and orjson.loads(fast.body) == orjson.loads(slow.body or b"")
        doc = orjson.loads(fast.body)
        accepted = validate_single(doc) if n == 1 else validate_batch(doc, max_batch=1000)
        assert accepted.n_events == n


class IsoTarget:
    """A target that writes the time as ISO 8601 (as PostHog does): it says so in ``format_time``."""

    def encode_event(self, event):
        return orjson.dumps({**event, "timestamp": self._iso(event["timestamp"])})

    def format_time(self, unix_ms):
        return orjson.dumps(self._iso(unix_ms))[1:-1]

    @staticmethod
    def _iso(unix_ms):
        return datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat(timespec="milliseconds")


class TwiceTarget(PipelineTarget):
    """A target that repeats the timestamp for page views: splicing one place would be wrong there."""

    def encode_event(self, event):
        extra = {"sentAt": event["timestamp"]} if event["name"] == "page_viewed" else {}
        return orjson.dumps({**event, **extra})


def test_the_target_says_how_it_writes_a_time():
    target, plain = IsoTarget(), EventFactory(seed=2, pool_size=50)
    enc = EncodedEvents(EventFactory(seed=2, pool_size=50), target)
    assert enc.spliced == 50  # every template on the fast path, ISO times and all
    for n in (1, 20, 75):
        assert enc.batch(n, now_ms=NOW_MS) == [target.encode_event(e) for e in plain.batch(n, now_ms=NOW_MS)]


def test_templates_without_one_placeholder_are_encoded_per_request():
    target, plain = TwiceTarget("http://h"), EventFactory(seed=2, pool_size=50)
    enc = EncodedEvents(EventFactory(seed=2, pool_size=50), target)
    assert 0 < enc.spliced < 50
    for n in (1, 20, 75):
        assert enc.batch(n, now_ms=NOW_MS) == [target.encode_event(e) for e in plain.batch(n, now_ms=NOW_MS)]
    assert str(PLACEHOLDER_MS).encode() not in b"".join(enc.batch(50, now_ms=NOW_MS))
