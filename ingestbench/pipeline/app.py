"""The pipeline's HTTP API (aiohttp): UserFlux-compatible ingest, profiles, query, ground truth, metrics.

Routes::

    POST /event/ingest            one event                        -> 204 once durably stored
    POST /event/ingest/batch      {"events": [...]}                -> 204 once durably stored
    POST /profile                 {userId, properties, ...}        -> 204, readable at once
    GET  /profile/{userId}        -> 200 profile JSON | 404
    POST /query                   {"canary_ids": [...]}            -> 200 {"rows": [...]} (visible events only)
    POST /internal/visibility     {"canary_ids": [...]}            -> 200 {"rows": [{canary_id, received_at_ms,
                                                                      visible_at_ms}]} (ground truth)
    GET  /internal/stats          -> 200 {"events", "visible", "profiles"} counted in the store
    GET  /metrics                 Prometheus exposition
    GET  /healthz                 200

Every rejection is a 4xx with ``{"error", "field", "index"}`` and stores nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from ingestbench.pipeline.flush import FlushPolicy
from ingestbench.pipeline.ingestor import Ingestor
from ingestbench.pipeline.metrics import PipelineMetrics
from ingestbench.pipeline.store import Store
from ingestbench.pipeline.validation import (
    Accepted,
    ValidationError,
    validate_batch,
    validate_canary_ids,
    validate_profile,
    validate_single,
)
from ingestbench.records import defaults
from ingestbench.records.exposition import render, run_registry

log = logging.getLogger("ingestbench.pipeline")

MAX_QUERY_IDS = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PipelineConfig:
    data_dir: Path
    flush_rows: int = defaults.FLUSH_ROWS
    flush_max_wait_s: float = defaults.FLUSH_MAX_WAIT_S
    write_key: str | None = None
    max_body_bytes: int = defaults.MAX_BODY_BYTES
    max_batch: int = defaults.MAX_BATCH_EVENTS
    run_id: str | None = None  # a run_id label on every metric: the run that started this pipeline
    tags: dict[str, str] = field(default_factory=dict)  # the run's other labels (--tag)

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.write_key else "unset"
        return (f"PipelineConfig(data_dir={str(self.data_dir)!r}, flush_rows={self.flush_rows}, "
                f"flush_max_wait_s={self.flush_max_wait_s}, write_key={key}, "
                f"max_body_bytes={self.max_body_bytes}, max_batch={self.max_batch})")


def _error(exc: ValidationError) -> web.Response:
    return web.Response(status=exc.status, body=orjson.dumps(exc.body()), content_type="application/json")


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")


class PipelineApp:
    """Builds the aiohttp application around one store, one ingestor and one metrics registry."""

    def __init__(self, config: PipelineConfig, *, registry: CollectorRegistry | None = None):
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = PipelineMetrics(self.registry)
        self._exposed = run_registry(self.registry, {"run_id": config.run_id, **config.tags})
        self._store: Store | None = None
        self._ingestor: Ingestor | None = None
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pipeline-reader")
        self._auth = f"Bearer {config.write_key}".encode() if config.write_key else None

    def build(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes, middlewares=[self._guard])
        app.router.add_post("/event/ingest", self._ingest_single)
        app.router.add_post("/event/ingest/batch", self._ingest_batch)
        app.router.add_post("/profile", self._write_profile)
        # any id a profile can be written with reads back: the default segment pattern refused { and }
        app.router.add_get("/profile/{user_id:[^/]+}", self._read_profile)
        app.router.add_post("/query", self._query)
        app.router.add_post("/internal/visibility", self._visibility)
        app.router.add_get("/internal/stats", self._stats)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        if not self.config.write_key:
            log.warning("no write key configured: any Authorization header is accepted")
        self._store = Store.open(self.config.data_dir)
        policy = FlushPolicy(self.config.flush_rows, self.config.flush_max_wait_s)
        self._ingestor = Ingestor(self._store, policy, self.metrics)
        await self._ingestor.start()

    async def _on_cleanup(self, _app: web.Application) -> None:
        if self._ingestor is not None:
            await self._ingestor.close()
        self._readers.shutdown(wait=True)
        if self._store is not None:
            self._store.close()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Auth, content type and size checks shared by every API route."""
        if request.path in ("/metrics", "/healthz"):
            return await handler(request)
        if self._auth is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, self._auth):
                self.metrics.events_rejected.labels("401").inc()
                return _error(ValidationError("missing or wrong write key (Authorization: Bearer <key>)",
                                              "Authorization", status=401))
        if request.method == "POST":
            if request.content_type != "application/json" and not request.content_type.endswith("+json"):
                self.metrics.events_rejected.labels("415").inc()
                return _error(ValidationError(
                    f"content type must be application/json, got {request.content_type!r}",
                    "Content-Type", status=415))
            if request.content_length is not None and request.content_length > self.config.max_body_bytes:
                return self._too_large()
        try:
            return await handler(request)
        except ValidationError as exc:
            self.metrics.events_rejected.labels(str(exc.status)).inc()
            return _error(exc)

    def _too_large(self) -> web.Response:
        self.metrics.events_rejected.labels("413").inc()
        return _error(ValidationError(f"body is larger than {self.config.max_body_bytes} bytes", "$",
                                      status=413))

    async def _read_json(self, request: web.Request) -> tuple[Any, bytes]:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ValidationError(f"body is larger than {self.config.max_body_bytes} bytes", "$",
                                  status=413) from None
        try:
            return orjson.loads(raw), raw
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"body is not valid JSON ({exc.msg})", "$") from None

    async def _commit_events(self, accepted: Accepted, raw: bytes, received_ms: float) -> web.Response:
        assert self._ingestor is not None
        try:
            await self._ingestor.submit_events(accepted, raw, received_ms)
        except Exception as exc:
            return _json({"error": f"events were not stored: {exc}", "field": None, "index": None}, 503)
        return web.Response(status=204)

    async def _ingest_single(self, request: web.Request) -> web.Response:
        received_ms = time.time() * 1000.0
        doc, raw = await self._read_json(request)
        accepted = validate_single(doc)
        del doc
        return await self._commit_events(accepted, raw, received_ms)

    async def _ingest_batch(self, request: web.Request) -> web.Response:
        received_ms = time.time() * 1000.0
        doc, raw = await self._read_json(request)
        accepted = validate_batch(doc, max_batch=self.config.max_batch)
        del doc  # the body is stored as received; do not keep the parsed tree alive while the commit waits
        return await self._commit_events(accepted, raw, received_ms)

    async def _write_profile(self, request: web.Request) -> web.Response:
        assert self._ingestor is not None
        doc, _ = await self._read_json(request)
        user_id, profile = validate_profile(doc)
        try:
            await self._ingestor.submit_profile(user_id, profile)
        except Exception as exc:
            return _json({"error": f"profile was not stored: {exc}", "field": None, "index": None}, 503)
        return web.Response(status=204)

    async def _read_profile(self, request: web.Request) -> web.Response:
        assert self._store is not None
        user_id = request.match_info["user_id"]
        body = await self._in_reader(self._store.profile, user_id)
        if body is None:
            return _json({"error": f"no profile for userId {user_id!r}", "field": "userId", "index": None},
                         404)
        return web.Response(status=200, body=body, content_type="application/json")

    async def _query(self, request: web.Request) -> web.Response:
        assert self._store is not None
        doc, _ = await self._read_json(request)
        ids = validate_canary_ids(doc, max_ids=MAX_QUERY_IDS)
        return _json({"rows": await self._in_reader(self._store.query_canaries, ids)})

    async def _visibility(self, request: web.Request) -> web.Response:
        assert self._store is not None
        doc, _ = await self._read_json(request)
        ids = validate_canary_ids(doc, max_ids=MAX_QUERY_IDS)
        return _json({"rows": await self._in_reader(self._store.visibility, ids)})

    async def _stats(self, _request: web.Request) -> web.Response:
        """Ground-truth counts from the store: events stored, events visible, profiles."""
        assert self._store is not None
        return _json(await self._in_reader(lambda _: self._store.counts(), None))  # type: ignore[union-attr]

    async def _in_reader(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._readers, fn, arg)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = render(self._exposed, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return _json({"status": "ok"})
