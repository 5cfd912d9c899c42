"""Canary events: normal-looking events from the load's own factory, marked with a unique ``canary_id``.

A canary takes the same code path as the load (same factory, same ingest endpoint); only two properties
set it apart: ``canary_id`` (a UUIDv7, so ids sort by creation time) and ``canary_sent_ms`` (the wall-clock
send time, so the target's own rows can be matched to the probe's clock).

>>> ids = Uuid7(seed=1)
>>> a, b = ids.new(1_700_000_000_000), ids.new(1_700_000_000_000)
>>> a < b and a[14] == "7"
True
"""

from __future__ import annotations

import random
from typing import Any, Protocol

CANARY_ID = "canary_id"
CANARY_SENT_MS = "canary_sent_ms"


class Uuid7:
    """RFC 9562 UUIDv7 strings: 48-bit unix ms, then a 12-bit counter (monotonic within a ms), then random."""

    def __init__(self, *, seed: int | None = None):
        self._rng = random.Random(seed)
        self._last_ms = -1
        self._counter = 0

    def new(self, unix_ms: int) -> str:
        if unix_ms <= self._last_ms:
            unix_ms = self._last_ms
            self._counter += 1
            if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                unix_ms += 1
                self._counter = 0
        else:
            self._counter = self._rng.getrandbits(8)  # leave headroom to count up within the ms
        self._last_ms = unix_ms
        value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
        value |= 0x7 << 76
        value |= self._counter << 64
        value |= 0b10 << 62
        value |= self._rng.getrandbits(62)
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_unix_ms(canary_id: str) -> int:
    """The creation time encoded in a UUIDv7 string."""
    return int(canary_id.replace("-", "")[:12], 16)


class EventSource(Protocol):
    def next_event(self, now_ms: int | None = None) -> dict[str, Any]: ...


class CanaryFactory:
    """Makes canary events from an :class:`EventSource` (the load's own ``loadgen.events.EventFactory`` in a
    run, handed in by whoever starts the probe)."""

    def __init__(self, events: EventSource, *, seed: int = 0):
        self._events = events
        self._ids = Uuid7(seed=seed)

    def make(self, sent_unix_ms: int) -> tuple[str, dict[str, Any]]:
        """``(canary_id, event)`` with ``timestamp`` and ``canary_sent_ms`` = ``sent_unix_ms``."""
        canary_id = self._ids.new(sent_unix_ms)
        event = self._events.next_event(now_ms=sent_unix_ms)
        props = dict(event.get("properties") or {})
        props[CANARY_ID] = canary_id
        props[CANARY_SENT_MS] = sent_unix_ms
        event["properties"] = props
        event["timestamp"] = sent_unix_ms
        return canary_id, event

    def make_batch(self, sent_unix_ms: int, size: int, rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
        """``(canary_id, events)``: the canary at a random place among ``size - 1`` ordinary events, the way
        the load sends batches (``size = 1``: the canary alone)."""
        canary_id, canary = self.make(sent_unix_ms)
        events = [self._events.next_event(now_ms=sent_unix_ms) for _ in range(size - 1)]
        events.insert(rng.randrange(size), canary)
        return canary_id, events
