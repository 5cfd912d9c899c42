"""Requests for the reference pipeline (and anything speaking its UserFlux-compatible API).

Ingest follows the UserFlux wire protocol: ``POST /event/ingest`` (one event) and
``POST /event/ingest/batch`` with ``{"events": [...]}``, ``Authorization: Bearer <write key>``, 204 on
success. The query side is the pipeline's own ``POST /query`` with ``{"canary_ids": [...]}``.

Options (``[target]`` / ``--target-opt``): ``location_enrichment`` (``true``/``false``, default false) sends
the SDKs' ``?locationEnrichment`` flag. Secret: the write key, from ``INGESTBENCH_WRITE_KEY``.

Example::

    t = make("http://127.0.0.1:8080", {}, {})
    req = t.query_canaries(["c-1", "c-2"])
    rows = t.parse_query(200, b'{"rows": [{"canary_id": "c-1"}]}')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from records.config import ConfigError
from targets.base import (
    JSON_HEADERS,
    CanaryRow,
    HttpRequest,
    IngestResult,
    ProfileResult,
    TargetError,
    classify_status,
)
from targets.contract import Limits
from targets.registry import check_options

NAME = "pipeline"
MAX_QUERY_IDS = 10_000
SECRETS = ("INGESTBENCH_WRITE_KEY",)
OPTIONS = {"location_enrichment": "send ?locationEnrichment=true (true/false, default false)"}


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> PipelineTarget:
    """The entry point: validates the options, takes the write key from the environment."""
    check_options(NAME, options, OPTIONS)
    enrich = options.get("location_enrichment", "false").strip().lower()
    if enrich not in ("true", "false"):
        raise ConfigError(f"target-opt: location_enrichment must be true or false, got {enrich!r}")
    return PipelineTarget(url, write_key=environ.get(SECRETS[0]) or None, location_enrichment=enrich == "true")


class PipelineTarget:
    """Sans-IO builders and parsers for the reference pipeline's HTTP API."""

    name = NAME
    limits = Limits(max_query_ids=MAX_QUERY_IDS, max_body_bytes=5 * 1024 * 1024, max_batch_events=1000)

    def __init__(self, base_url: str, *, write_key: str | None = None, location_enrichment: bool = False):
        self.base_url = base_url.rstrip("/")
        # the SDKs' optional ?locationEnrichment flag is sent only when asked for: a query string costs the
        # generator a URL parse and requote per request (measured ~5 % of a single-event request in Locust)
        query = "?locationEnrichment=true" if location_enrichment else ""
        self._ingest_path, self._batch_path = f"/event/ingest{query}", f"/event/ingest/batch{query}"
        headers = dict(JSON_HEADERS)
        if write_key:
            headers["Authorization"] = f"Bearer {write_key}"
        self._headers: Mapping[str, str] = headers

    def __repr__(self) -> str:  # never show the write key
        return f"PipelineTarget({self.base_url!r})"

    # --- ingest -------------------------------------------------------------------------------
    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest:
        """Single-event endpoint for one event, the batch endpoint otherwise."""
        return self.ingest_encoded([self.encode_event(e) for e in events])

    # the load generator encodes each event template once and hands the bytes to ingest_encoded
    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        """One event in this target's wire encoding, as it appears inside a request body."""
        return orjson.dumps(event)

    def format_time(self, unix_ms: int) -> bytes:
        """The wire's ``timestamp``: milliseconds since the epoch, a JSON number."""
        return b"%d" % unix_ms

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        """Like :meth:`ingest`, for events already passed through :meth:`encode_event`."""
        if len(encoded) == 1:
            return self._post(self._ingest_path, encoded[0])
        return self._post(self._batch_path, b'{"events":[' + b",".join(encoded) + b"]}")

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
        return classify_status(status, headers, body)

    # --- analytical read-back -----------------------------------------------------------------
    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        ids = list(canary_ids)
        if len(ids) > MAX_QUERY_IDS:
            raise ValueError(f"at most {MAX_QUERY_IDS} canary ids per query, got {len(ids)}")
        return self._post("/query", orjson.dumps({"canary_ids": ids}))

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        if status != 200:
            raise TargetError(f"query answered HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
        doc = _loads(body, "query")
        rows = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(rows, list):
            raise TargetError("query response has no 'rows' list")
        out = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("canary_id"), str):
                raise TargetError("query row without a string 'canary_id'")
            out.append(
                CanaryRow(
                    canary_id=row["canary_id"],
                    name=row.get("name"),
                    timestamp_ms=row.get("timestamp"),
                    user_id=row.get("userId"),
                    anonymous_id=row.get("anonymousId"),
                )
            )
        return out

    # --- ground truth (reference pipeline only) ------------------------------------------------
    def visibility(self, canary_ids: Iterable[str]) -> HttpRequest:
        return self._post("/internal/visibility", orjson.dumps({"canary_ids": list(canary_ids)}))

    def parse_visibility(self, status: int, body: bytes) -> list[dict[str, Any]]:
        """Rows of ``{canary_id, received_at_ms, visible_at_ms}`` (``visible_at_ms`` None while unflushed)."""
        if status != 200:
            raise TargetError(f"visibility answered HTTP {status}")
        doc = _loads(body, "visibility")
        rows = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(rows, list):
            raise TargetError("visibility response has no 'rows' list")
        return rows

    # --- transactional (profiles) -------------------------------------------------------------
    def write_profile(self, user_id: str, properties: Mapping[str, Any]) -> HttpRequest:
        body = {"userId": user_id, "externalId": None, "anonymousId": None, "properties": dict(properties),
                "deviceData": None}
        return self._post("/profile", orjson.dumps(body))

    def read_profile(self, user_id: str) -> HttpRequest:
        return HttpRequest("GET", self.base_url, f"/profile/{quote(user_id, safe='')}", self._headers, None)

    def parse_profile(self, status: int, body: bytes) -> ProfileResult:
        if status == 404:
            return ProfileResult(found=False, status=status)
        if status != 200:
            raise TargetError(f"profile read answered HTTP {status}")
        doc = _loads(body, "profile")
        if not isinstance(doc, dict):
            raise TargetError("profile response is not a JSON object")
        props = doc.get("properties")
        return ProfileResult(True, status, props if isinstance(props, dict) else {}, doc)

    def _post(self, path: str, body: bytes) -> HttpRequest:
        return HttpRequest("POST", self.base_url, path, self._headers, body)


def _loads(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TargetError(f"{what} response is not JSON: {exc}") from None
