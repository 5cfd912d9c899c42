"""The UserFlux ingest and profile wire, shared by the reference pipeline and the real UserFlux API.

Ingest: ``POST /event/ingest`` (one event) and ``POST /event/ingest/batch`` with ``{"events": [...]}``,
``Authorization: Bearer <write key>``, ``Content-Type: application/json``; success is 204. Given
``location_enrichment`` (True or False), every write says ``?locationEnrichment=true|false``, as the SDKs
do. An event is ``{"timestamp": <ms since epoch>, "userId", "anonymousId", "externalId", "sessionId", "name",
"properties", "deviceData"}``, which is exactly what the load's event factory makes, so it is encoded as it is.

Profiles: ``POST /profile`` with ``{userId, externalId, anonymousId, properties, deviceData}``, read back with
``GET /profile/{userId}`` (``{id, anonymousIds, properties, computedProperties, segments}``, 404 if absent).

>>> w = UserFluxWire("http://127.0.0.1:8080", write_key="k")
>>> r = w.ingest_encoded([b'{"name":"a"}', b'{"name":"b"}'])
>>> r.path, r.body
('/event/ingest/batch', b'{"events":[{"name":"a"},{"name":"b"}]}')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from ingestbench.targets.base import (
    JSON_HEADERS,
    HttpRequest,
    IngestResult,
    ProfileResult,
    TargetError,
    classify_status,
    loads,
)


class UserFluxWire:
    """Sans-IO builders and parsers for UserFlux-shaped ingest and profiles."""

    def __init__(self, base_url: str, *, write_key: str | None = None, read_key: str | None = None,
                 location_enrichment: bool | None = None):
        self.base_url = base_url.rstrip("/")
        # UserFlux's SDKs always say ?locationEnrichment=true|false (the API's default is not documented); None
        # leaves it out, for a server that has no such thing. The generator builds a request head once per path,
        # so the query string costs nothing per request.
        query = "" if location_enrichment is None else f"?locationEnrichment={str(location_enrichment).lower()}"
        self._ingest_path, self._batch_path = f"/event/ingest{query}", f"/event/ingest/batch{query}"
        self._profile_path = f"/profile{query}"
        self._headers: Mapping[str, str] = _bearer(write_key)
        self._read_headers: Mapping[str, str] = _bearer(read_key) if read_key else self._headers

    def __repr__(self) -> str:  # never show a key
        return f"{type(self).__name__}({self.base_url!r})"

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

    # --- transactional (profiles) -------------------------------------------------------------
    def write_profile(self, user_id: str, properties: Mapping[str, Any]) -> HttpRequest:
        body = {"userId": user_id, "externalId": None, "anonymousId": None, "properties": dict(properties),
                "deviceData": None}
        return self._post(self._profile_path, orjson.dumps(body))

    def read_profile(self, user_id: str) -> HttpRequest:
        return HttpRequest("GET", self.base_url, f"/profile/{quote(user_id, safe='')}", self._read_headers, None)

    def parse_profile(self, status: int, body: bytes) -> ProfileResult:
        if status == 404:
            return ProfileResult(found=False, status=status)
        if status != 200:
            raise TargetError(f"profile read answered HTTP {status}")
        doc = loads(body, "profile")
        if not isinstance(doc, dict):
            raise TargetError("profile response is not a JSON object")
        props = doc.get("properties")
        return ProfileResult(True, status, props if isinstance(props, dict) else {}, doc)

    def _post(self, path: str, body: bytes) -> HttpRequest:
        return HttpRequest("POST", self.base_url, path, self._headers, body)


def _bearer(key: str | None) -> Mapping[str, str]:
    headers = dict(JSON_HEADERS)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers
