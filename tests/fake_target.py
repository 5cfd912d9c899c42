"""A loopback fake of the pipeline's API that misbehaves on purpose, for end-to-end tests of the verdict.

It acknowledges ingests at once and makes canaries visible at once, except:

- ``hide_every=k``: every k-th canary it receives is acknowledged (204) but never made visible;
- ``refuse_every=k``: every k-th request that carries a canary is refused with 503 (nothing of it stored).

Requests without a canary (the load) are always acknowledged. Profiles are stored and read back at once.
It runs its own event loop in a thread (:class:`~tests.loopback.LoopbackApp`); what it hid and refused is
kept for the test to compare::

    with FakeTarget(hide_every=3) as fake:
        run ingestbench against fake.url ...
    fake.hidden  # canary ids acknowledged and never shown
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.loopback import LoopbackApp


class FakeTarget(LoopbackApp):
    def __init__(self, *, hide_every: int = 0, refuse_every: int = 0):
        super().__init__()
        self.hide_every, self.refuse_every = hide_every, refuse_every
        self.visible: set[str] = set()
        self.hidden: list[str] = []
        self.refused: list[str] = []
        self.canaries = 0
        self.canary_requests = 0
        self.events = 0
        self._profiles: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/event/ingest", self._ingest)
        app.router.add_post("/event/ingest/batch", self._ingest)
        app.router.add_post("/query", self._query)
        app.router.add_post("/profile", self._write_profile)
        app.router.add_get("/profile/{user_id}", self._read_profile)

    async def _ingest(self, request: web.Request) -> web.Response:
        body = await request.read()
        if b"canary_id" not in body:  # the load: acknowledged, nothing to remember
            self.events += body.count(b'"timestamp"')
            return web.Response(status=204)
        doc = orjson.loads(body)
        events = doc["events"] if isinstance(doc, dict) and "events" in doc else [doc]
        ids = [e["properties"]["canary_id"] for e in events if "canary_id" in (e.get("properties") or {})]
        self.canary_requests += 1
        if self.refuse_every and self.canary_requests % self.refuse_every == 0:
            self.refused.extend(ids)
            return web.Response(status=503, text="refused on purpose")
        for cid in ids:
            self.canaries += 1
            if self.hide_every and self.canaries % self.hide_every == 0:
                self.hidden.append(cid)
            else:
                self.visible.add(cid)
        self.events += len(events)
        return web.Response(status=204)

    async def _query(self, request: web.Request) -> web.Response:
        ids = orjson.loads(await request.read())["canary_ids"]
        rows = [{"canary_id": c, "name": "fake"} for c in ids if c in self.visible]
        return web.Response(body=orjson.dumps({"rows": rows}), content_type="application/json")

    async def _write_profile(self, request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        self._profiles.setdefault(doc["userId"], {}).update(doc.get("properties") or {})
        return web.Response(status=204)

    async def _read_profile(self, request: web.Request) -> web.Response:
        props = self._profiles.get(request.match_info["user_id"])
        if props is None:
            return web.Response(status=404)
        body = {"id": request.match_info["user_id"], "properties": props}
        return web.Response(body=orjson.dumps(body), content_type="application/json")
