"""A loopback fake of the pipeline's API that misbehaves during time windows: the target faults of the suite.

Windows are seconds after the first load request (a request without a canary) reached it, so they fall in
the load whatever the start-up took::

    with FaultyTarget(Fault("unavailable", 3.0, 5.0)) as fake:
        ingestbench run --url fake.url ...
    fake.hits["unavailable"]    # requests answered with the fault, load and canaries
    fake.canaries_hit           # canary id -> the fault its ingest met

Kinds (ingest side, every ingest request in the window, load and canaries alike):

- ``throttled``: 429 with ``Retry-After: <retry_after_s>``;
- ``unavailable``: 503 (a storm, no ``Retry-After``);
- ``slow``: the answer comes ``delay_s`` late (longer than the clients' timeouts), nothing stored;
- ``reset``: the connection is reset (TCP RST) instead of an answer, nothing stored.

Query side: ``garbage`` answers every ``POST /query`` in the window with something that is not a query
answer (truncated JSON, HTML, a wrong shape, a body cut short of its Content-Length, in turn);
``lagging`` shows a canary only ``delay_s`` after it was ingested (for the whole run when the window is
``(0, inf)``). Outside its windows it behaves as :class:`tests.fake_target.FakeTarget`.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass

import orjson
from aiohttp import web

from tests.fake_target import FakeTarget

INGEST_FAULTS = ("throttled", "unavailable", "slow", "reset")
QUERY_FAULTS = ("garbage", "lagging")
GARBAGE = (b'{"rows": [{"canary_id": "01', b"<html><body>502 Bad Gateway</body></html>", b'{"rows": "none"}',
           b'{"rows": [{"canary_id": 12}]}')


@dataclass(frozen=True)
class Fault:
    kind: str
    start_s: float
    end_s: float = math.inf
    retry_after_s: float = 1.0
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in INGEST_FAULTS + QUERY_FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}")


class FaultyTarget(FakeTarget):
    def __init__(self, *faults: Fault):
        super().__init__()
        self.faults = faults
        self.t0: float | None = None  # monotonic time of the first load request
        self.t0_unix_s: float | None = None
        self.hits: Counter[str] = Counter()  # requests that met a fault, by kind
        self.load_requests_in: Counter[str] = Counter()  # load requests received inside each fault's window
        self.canaries_hit: dict[str, str] = {}
        self.received_at: dict[str, float] = {}  # canary id -> monotonic time it was stored
        self.arrived_unix_s: dict[str, float] = {}  # canary id -> wall time its ingest reached the fake
        self._garbage_turn = 0

    def _active(self, kinds: tuple[str, ...]) -> Fault | None:
        if self.t0 is None:
            return None
        offset = time.monotonic() - self.t0
        return next((f for f in self.faults if f.kind in kinds and f.start_s <= offset < f.end_s), None)

    async def _ingest(self, request: web.Request) -> web.Response:
        body = await request.read()
        is_load = b"canary_id" not in body
        if not is_load:
            arrived = time.time()
            for cid in _canary_ids(body):
                self.arrived_unix_s.setdefault(cid, arrived)
        if is_load and self.t0 is None:
            self.t0, self.t0_unix_s = time.monotonic(), time.time()
        fault = self._active(INGEST_FAULTS)
        if fault is None:
            response = await self._store(request, body)
            return response
        self.hits[fault.kind] += 1
        if is_load:
            self.load_requests_in[fault.kind] += 1
        else:
            for cid in _canary_ids(body):
                self.canaries_hit[cid] = fault.kind
        if fault.kind == "throttled":
            return web.Response(status=429, text="slow down", headers={"Retry-After": f"{fault.retry_after_s:g}"})
        if fault.kind == "unavailable":
            return web.Response(status=503, text="storm")
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            return web.Response(status=204)
        _reset(request)
        return web.Response(status=204)  # never sent: the connection is gone

    async def _store(self, request: web.Request, body: bytes) -> web.Response:
        """What the plain fake does, noting when each canary was stored (for the lagging query side)."""
        response = await super()._ingest(_Replay(request, body))  # type: ignore[arg-type]
        now = time.monotonic()
        for cid in _canary_ids(body) if b"canary_id" in body else []:
            self.received_at.setdefault(cid, now)
        return response

    async def _query(self, request: web.Request) -> web.StreamResponse:
        fault = self._active(QUERY_FAULTS)
        if fault is not None and fault.kind == "garbage":
            self.hits["garbage"] += 1
            turn, self._garbage_turn = self._garbage_turn, self._garbage_turn + 1
            if turn % (len(GARBAGE) + 1) == len(GARBAGE):
                return await _cut_short(request)
            return web.Response(status=200, body=GARBAGE[turn % (len(GARBAGE) + 1)],
                                content_type="application/json")
        lag = next((f.delay_s for f in self.faults if f.kind == "lagging"), None)
        if lag is None:
            return await super()._query(request)
        ids = orjson.loads(await request.read())["canary_ids"]
        now = time.monotonic()
        rows = [{"canary_id": c, "name": "fake"} for c in ids
                if c in self.visible and now - self.received_at.get(c, now) >= lag]
        return web.Response(body=orjson.dumps({"rows": rows}), content_type="application/json")


class _Replay:
    """A request whose body was already read, for the plain fake's handler."""

    def __init__(self, request: web.Request, body: bytes):
        self._request, self._body = request, body

    async def read(self) -> bytes:
        return self._body


def _canary_ids(body: bytes) -> list[str]:
    doc = orjson.loads(body)
    events = doc["events"] if isinstance(doc, dict) and "events" in doc else [doc]
    return [e["properties"]["canary_id"] for e in events if "canary_id" in (e.get("properties") or {})]


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), the way a crashing proxy does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _cut_short(request: web.Request) -> web.StreamResponse:
    """200 with a Content-Length of 4,096 and only the first bytes of a body, then the connection closes."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.content_length = 4096
    await resp.prepare(request)
    await resp.write(b'{"rows": [{"canary_id": "0')
    if request.transport is not None:
        request.transport.close()
    return resp
