"""UUIDv7 canary ids and canary events from the load's event factory."""

from __future__ import annotations

import random
import uuid

from ingestbench.checks.canary import CANARY_ID, CANARY_SENT_MS, CanaryFactory, Uuid7, uuid7_unix_ms
from ingestbench.loadgen.events import EventFactory


def test_uuid7_is_valid_time_ordered_and_unique() -> None:
    gen = Uuid7(seed=1)
    ids = [gen.new(1_700_000_000_000 + i // 50) for i in range(5000)]  # many per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert uuid7_unix_ms(ids[0]) == 1_700_000_000_000
    # a clock stepping backwards still yields increasing ids
    assert gen.new(1_600_000_000_000) > ids[-1]


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    gen = Uuid7(seed=2)
    ids = [gen.new(1_000) for _ in range(6000)]
    assert ids == sorted(ids) and len(set(ids)) == 6000
    assert uuid7_unix_ms(ids[-1]) > 1_000


def test_canary_is_a_normal_event_with_marker_properties() -> None:
    factory = CanaryFactory(EventFactory(seed=4), seed=4)
    canary_id, event = factory.make(1_700_000_000_123)
    plain = EventFactory(seed=4).next_event(now_ms=1_700_000_000_123)
    assert set(plain) <= set(event)
    assert event["timestamp"] == 1_700_000_000_123
    assert event["properties"][CANARY_ID] == canary_id
    assert event["properties"][CANARY_SENT_MS] == 1_700_000_000_123
    assert event["userId"] or event["anonymousId"]
    assert " " not in event["name"]
    other_id, _ = factory.make(1_700_000_000_123)
    assert other_id != canary_id


def test_any_event_source_will_do() -> None:
    class Fixed:
        def next_event(self, now_ms: int | None = None) -> dict:
            return {"name": "page_view", "userId": "u1", "timestamp": now_ms, "properties": {"path": "/"}}

    _, event = CanaryFactory(Fixed(), seed=1).make(5)
    assert event["properties"] == {"path": "/", CANARY_ID: event["properties"][CANARY_ID], CANARY_SENT_MS: 5}


def test_batch_carries_one_canary_among_ordinary_events() -> None:
    factory = CanaryFactory(EventFactory(seed=4), seed=4)
    rng = random.Random(3)
    places = set()
    for _ in range(40):
        canary_id, events = factory.make_batch(1_700_000_000_123, 10, rng)
        marked = [i for i, e in enumerate(events) if CANARY_ID in (e.get("properties") or {})]
        assert len(events) == 10 and len(marked) == 1
        assert events[marked[0]]["properties"][CANARY_ID] == canary_id
        places.add(marked[0])
    assert len(places) > 5  # anywhere in the batch, not always first
    canary_id, [alone] = factory.make_batch(1, 1, rng)
    assert alone["properties"][CANARY_ID] == canary_id
