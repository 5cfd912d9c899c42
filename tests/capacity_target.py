"""A loopback target with a known capacity: it acknowledges every ingest at once and serves the events it has
received at most ``capacity_eps`` per second, in arrival order, queueing the rest. A canary becomes visible when
every event received before it, and itself, has been served.

Below its capacity the queue stays empty and a canary is visible at once; above it the backlog grows by the
excess every second, and so does every canary's wait: the time-to-availability promise breaks at the capacity,
while the generator keeps its rate (nothing is refused or slowed)::

    with CapacityTarget(3000) as target:
        ingestbench search --url target.url ...
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from tests.fake_target import FakeTarget


class CapacityTarget(FakeTarget):
    def __init__(self, capacity_eps: float):
        super().__init__()
        self.capacity_eps = capacity_eps
        self.received = 0  # events received
        self.served = 0.0  # events served (a fluid queue)
        self._at = time.monotonic()
        self._position: dict[str, int] = {}  # canary -> its place in the arrival order

    def _advance(self) -> None:
        now = time.monotonic()
        self.served = min(float(self.received), self.served + self.capacity_eps * (now - self._at))
        self._at = now

    async def _ingest(self, request: web.Request) -> web.Response:
        body = await request.read()
        self._advance()
        if b"canary_id" not in body:
            self.received += body.count(b'"timestamp"')
            return web.Response(status=204)
        doc = orjson.loads(body)
        events = doc["events"] if isinstance(doc, dict) and "events" in doc else [doc]
        for event in events:
            self.received += 1
            cid = (event.get("properties") or {}).get("canary_id")
            if cid is not None:
                self._position[cid] = self.received
        return web.Response(status=204)

    async def _query(self, request: web.Request) -> web.Response:
        self._advance()
        ids = orjson.loads(await request.read())["canary_ids"]
        rows = [{"canary_id": c, "name": "queued"} for c in ids
                if c in self._position and self._position[c] <= self.served]
        return web.Response(body=orjson.dumps({"rows": rows}), content_type="application/json")
