"""Loopback fakes of UserFlux, PostHog and Segment-compatible collectors, built from their documented shapes.

Each checks what the documentation says a client must send (method, path, auth, body envelope, required
fields, size limits) and refuses anything else the way the real service would (401, 400), so a target that
drifts from the wire shape fails its tests. Canaries (events whose properties carry ``canary_id``) become
visible at once; what each fake received is kept for the test to compare.

- :class:`FakeUserFlux`: ingest, profiles and the Metrics API (token, base64 SQL; answers cached for
  5 minutes keyed on the request body, as documented: a client without a nonce reads stale answers).
- :class:`FakePostHog`: ``/batch/`` and the HogQL query API with ``refresh: force_blocking`` required, and a
  query-rate limit (429 when the last 20 queries came more than a third faster than it allows, on average:
  a limit per minute or hour counts queries, it does not time each gap).
- :class:`FakeCollector`: Segment (or RudderStack, Jitsu) ingest with the flavour's auth and limits, and a
  query endpoint of its own, ``POST /warehouse/query`` with ``{"ids": [...]}``: the warehouse it loads. Given
  a ClickHouse URL it loads a real warehouse instead, every ``load_every_s``, as collectors do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.loopback import LoopbackApp

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
CACHE_S = 300.0


def _canary(props: Any) -> str | None:
    value = props.get("canary_id") if isinstance(props, dict) else None
    return value if isinstance(value, str) else None


def _bad(text: str, status: int = 400) -> web.Response:
    return web.Response(status=status, text=text)


class FakeUserFlux(LoopbackApp):
    def __init__(self, *, write_key: str, client_secret: str, token_field: str = "token") -> None:
        super().__init__()
        self.write_key, self.client_secret, self.token_field = write_key, client_secret, token_field
        self.visible: set[str] = set()
        self.tokens: set[str] = set()
        self.queries: list[str] = []  # the SQL of every Metrics query, decoded
        self.cache_hits = 0
        self._cache: dict[bytes, tuple[float, bytes]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/event/ingest", self._ingest)
        app.router.add_post("/event/ingest/batch", self._ingest)
        app.router.add_post("/profile", self._write_profile)
        app.router.add_get("/profile/{user_id}", self._read_profile)
        app.router.add_post("/metrics/auth/token", self._token)
        app.router.add_post("/metrics/query", self._query)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.write_key}"

    async def _ingest(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _bad("bad write key", 401)
        doc = orjson.loads(await request.read())
        events = doc.get("events") if request.path.endswith("/batch") else [doc]
        if not isinstance(events, list) or not events:
            return _bad("expected {\"events\": [...]}")
        for e in events:
            if not isinstance(e.get("timestamp"), int) or not e.get("name") or not (e.get("userId")
                                                                                    or e.get("anonymousId")):
                return _bad("event needs a ms timestamp, a name and userId or anonymousId")
        for e in events:
            if cid := _canary(e.get("properties")):
                self.visible.add(cid)
        return web.Response(status=204)

    async def _write_profile(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _bad("bad write key", 401)
        doc = orjson.loads(await request.read())
        self._profiles.setdefault(doc["userId"], {}).update(doc.get("properties") or {})
        return web.Response(status=204)

    async def _read_profile(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _bad("bad key", 401)
        props = self._profiles.get(request.match_info["user_id"])
        if props is None:
            return web.Response(status=404)
        body = {"id": request.match_info["user_id"], "anonymousIds": [], "properties": props,
                "computedProperties": {}, "segments": []}
        return web.json_response(body)

    async def _token(self, request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        if doc.get("clientSecret") != self.client_secret or doc.get("environmentApiKey") != self.write_key:
            return _bad("bad credentials", 401)
        token = f"t{len(self.tokens)}-{time.monotonic_ns()}"
        self.tokens.add(token)
        return web.json_response({self.token_field: token})

    async def _query(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return _bad("bad token", 401)
        raw = await request.read()
        cached = self._cache.get(raw)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            self.cache_hits += 1
            return web.Response(body=cached[1], content_type="application/json")
        sql = base64.b64decode(orjson.loads(raw)["encodedQuery"]).decode()
        self.queries.append(sql)
        ids = re.findall(r"'([^']+)'", sql.split(" IN (", 1)[1]) if " IN (" in sql else []
        body = orjson.dumps({"data": [{"canary_id": i} for i in ids if i in self.visible]})
        self._cache[raw] = (time.monotonic(), body)
        return web.Response(body=body, content_type="application/json")


class FakePostHog(LoopbackApp):
    def __init__(self, *, project_key: str, personal_key: str, project_id: int, per_hour: float) -> None:
        super().__init__()
        self.project_key, self.personal_key, self.project_id = project_key, personal_key, project_id
        self.min_gap_s = 3600.0 / per_hour
        self.visible: set[str] = set()
        self.query_times: list[float] = []
        self.throttled = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/batch/", self._batch)
        app.router.add_post(f"/api/projects/{self.project_id}/query/", self._query)

    async def _batch(self, request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        if doc.get("api_key") != self.project_key:
            return _bad("invalid api key", 401)
        for e in doc.get("batch") or []:
            if not e.get("event") or not e.get("distinct_id") or not ISO.fullmatch(str(e.get("timestamp"))):
                continue  # PostHog drops such an event silently and still answers 200
            if cid := _canary(e.get("properties")):
                self.visible.add(cid)
        return web.json_response({"status": 1})

    async def _query(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.personal_key}":
            return _bad("bad personal key", 401)
        now = time.monotonic()
        recent = [*self.query_times[-19:], now]
        if len(recent) == 20 and (recent[-1] - recent[0]) / 19 < 0.75 * self.min_gap_s:
            self.throttled += 1
            return web.json_response({"detail": "rate limited"}, status=429)
        self.query_times.append(now)
        doc = orjson.loads(await request.read())
        query = doc.get("query") or {}
        if doc.get("refresh") != "force_blocking" or query.get("kind") != "HogQLQuery":
            return _bad("expected a HogQLQuery with refresh force_blocking")
        hogql = query.get("query", "")
        ids = re.findall(r"'([^']+)'", hogql.split(" in (", 1)[1]) if " in (" in hogql else []
        return web.json_response({"results": [[i] for i in ids if i in self.visible], "columns": ["canary_id"]})


FLAVOURS = {  # path of one event, path of a batch, per-event and per-batch byte limits
    "segment": ("/v1/track", "/v1/batch", 32 * 1024, 500 * 1024),
    "rudderstack": ("/v1/track", "/v1/batch", 32 * 1024, 4 * 1024 * 1024),
    "jitsu": ("/api/s/s2s/track", None, None, None),
}


class FakeCollector(LoopbackApp):
    def __init__(self, *, flavour: str, write_key: str, clickhouse_url: str | None = None,
                 clickhouse_headers: dict[str, str] | None = None, table: str = "ingestbench.events",
                 load_every_s: float = 0.5) -> None:
        super().__init__()
        self.flavour, self.write_key = flavour, write_key
        self.clickhouse_url, self.clickhouse_headers = clickhouse_url, clickhouse_headers or {}
        self.table, self.load_every_s = table, load_every_s
        self.loaded = 0
        self.load_errors: list[str] = []
        self._unloaded: list[bytes] = []
        self.visible: set[str] = set()
        self.message_ids: set[str] = set()
        self.events = 0
        self.deduplicated = 0
        self.refused: list[str] = []

    def routes(self, app: web.Application) -> None:
        single, batch, _, _ = FLAVOURS[self.flavour]
        app.router.add_post(single, self._ingest)
        if batch:
            app.router.add_post(batch, self._ingest)
        app.router.add_post("/warehouse/query", self._query)

    def _authorized(self, request: web.Request) -> bool:
        if self.flavour == "jitsu":
            return request.headers.get("X-Write-Key") == self.write_key
        basic = base64.b64encode(f"{self.write_key}:".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {basic}"

    async def _ingest(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _bad("bad write key", 401)
        raw = await request.read()
        single, _, per_event, per_batch = FLAVOURS[self.flavour]
        doc = orjson.loads(raw)
        messages = [doc] if request.path == single else doc.get("batch")
        if (per_batch and len(raw) > per_batch) or not isinstance(messages, list):
            self.refused.append(f"batch of {len(raw)} bytes")
            return _bad("batch too large or malformed")
        for m in messages:
            if per_event and len(orjson.dumps(m)) > per_event:
                self.refused.append("event too large")
                return _bad("event too large")
            if m.get("type") != "track" or not m.get("event") or not (m.get("userId") or m.get("anonymousId")) \
                    or not ISO.fullmatch(str(m.get("timestamp"))):
                return _bad("not a track message")
        for m in messages:
            mid = m.get("messageId")
            if mid is not None and mid in self.message_ids:
                self.deduplicated += 1
                continue
            if mid is not None:
                self.message_ids.add(mid)
            self.events += 1
            if self.clickhouse_url:
                self._unloaded.append(_row(m))
            elif cid := _canary(m.get("properties")):
                self.visible.add(cid)
        return web.json_response({"success": True})

    async def on_start(self) -> None:
        if self.clickhouse_url:
            self.spawn(self._load_loop())

    async def _load_loop(self) -> None:
        """Insert what arrived since the last load into ClickHouse, one INSERT per interval."""
        query = f"INSERT INTO {self.table} FORMAT JSONEachRow"
        async with aiohttp.ClientSession() as session:
            while True:
                await asyncio.sleep(self.load_every_s)
                rows, self._unloaded = self._unloaded, []
                if not rows:
                    continue
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.post(f"{self.clickhouse_url}/", params={"query": query},
                                            data=b"\n".join(rows), headers=self.clickhouse_headers) as resp:
                        if resp.status == 200:
                            self.loaded += len(rows)
                        else:
                            self.load_errors.append((await resp.text())[:200])

    async def _query(self, request: web.Request) -> web.Response:
        ids = orjson.loads(await request.read())["ids"]
        return web.json_response({"result": {"rows": [{"id": i} for i in ids if i in self.visible]}})


def _row(message: dict[str, Any]) -> bytes:
    """A track message as a row of the events table (what a collector's ClickHouse destination writes)."""
    props = message.get("properties") or {}
    ts = datetime.fromisoformat(str(message["timestamp"]).replace("Z", "+00:00"))
    return orjson.dumps({"timestamp": int(ts.timestamp() * 1000), "name": message["event"],
                         "user_id": message.get("userId"), "anonymous_id": message.get("anonymousId"),
                         "session_id": None, "properties": orjson.dumps(props).decode(),
                         "canary_id": _canary(props) or ""})
