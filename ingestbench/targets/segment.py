"""Segment-compatible collectors (Segment, RudderStack, Jitsu): a writer only.

Every flavour takes Segment's ``track`` message: ``{"type": "track", "event", "userId" | "anonymousId",
"timestamp" (ISO 8601), "properties", "context"}``; canaries also carry ``messageId`` (their canary id),
ordinary events none, so that the collector gives each its own and never deduplicates the load's repeated
templates.

=============  ======================================  ===========================  =====================
flavour        endpoints                               write key                    documented limits
=============  ======================================  ===========================  =====================
segment        ``/v1/track``, ``/v1/batch``            Basic auth user, no password 32 KB/event, 500 KB/batch
rudderstack    ``/v1/track``, ``/v1/batch``            Basic auth user, no password 32 KB/call, 4 MB/batch
jitsu          ``/api/s/s2s/track`` (one event each)   ``X-Write-Key`` header       one event per request
=============  ======================================  ===========================  =====================

A batch goes as ``{"batch": [...]}``. The limits are enforced before sending (a request that breaks one
raises ``ValueError``, and ``ingestbench run`` checks the load against them before it starts): beyond them
Segment answers 400 for the whole request. None of these has a read-back API, so TTA needs a reader on the
warehouse the collector loads (write here, read there). Secret: ``INGESTBENCH_SEGMENT_WRITE_KEY``.

>>> t = make("http://127.0.0.1:8088", {"flavour": "jitsu"}, {"INGESTBENCH_SEGMENT_WRITE_KEY": "k"})
>>> r = t.ingest([{"name": "a", "userId": "u", "timestamp": 1_700_000_000_000, "properties": {}}])
>>> r.path, r.headers["X-Write-Key"], orjson.loads(r.body)["timestamp"]
('/api/s/s2s/track', 'k', '2023-11-14T22:13:20.000Z')
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import JSON_HEADERS, HttpRequest, IngestResult, classify_status, iso_ms
from ingestbench.targets.contract import Limits
from ingestbench.targets.spec import WRITER, Option, Secret, TargetSpec

NAME = "segment"
SECRETS = ("INGESTBENCH_SEGMENT_WRITE_KEY",)
OPTIONS = {"flavour": "segment, rudderstack or jitsu (default segment): endpoints, auth and size limits"}
KB = 1024


@dataclass(frozen=True)
class Flavour:
    """One collector's endpoints, how it takes the write key, and its documented size limits."""

    single_path: str
    batch_path: str | None  # None: one event per request
    key_header: str | None  # None: the key is the Basic auth user
    max_event_bytes: int | None
    max_body_bytes: int | None


FLAVOURS = {
    "segment": Flavour("/v1/track", "/v1/batch", None, 32 * KB, 500 * KB),
    "rudderstack": Flavour("/v1/track", "/v1/batch", None, 32 * KB, 4 * KB * KB),
    "jitsu": Flavour("/api/s/s2s/track", None, "X-Write-Key", None, None),
}


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> SegmentTarget:
    SPEC.check_options(options)
    flavour = options.get("flavour", "segment").strip().lower()
    if flavour not in FLAVOURS:
        raise ConfigError(f"target-opt: flavour must be one of {', '.join(FLAVOURS)}, got {flavour!r}")
    return SegmentTarget(url, flavour, write_key=environ.get(SECRETS[0]) or None)


class SegmentTarget:
    """Sans-IO builders for a Segment-compatible collector's ingest API."""

    name = NAME

    def __init__(self, base_url: str, flavour: str, *, write_key: str | None):
        self.base_url = base_url.rstrip("/")
        self.flavour = flavour
        f = self._f = FLAVOURS[flavour]
        self.limits = Limits(max_batch_events=None if f.batch_path else 1, max_event_bytes=f.max_event_bytes,
                             max_body_bytes=f.max_body_bytes)
        headers = dict(JSON_HEADERS)
        if write_key and f.key_header:
            headers[f.key_header] = write_key
        elif write_key:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self._headers: Mapping[str, str] = headers

    def __repr__(self) -> str:  # never show the write key
        return f"SegmentTarget({self.base_url!r}, {self.flavour})"

    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        """A ``track`` message; a canary's id is also its ``messageId``."""
        props = event.get("properties") or {}
        msg: dict[str, Any] = {"type": "track", "event": event.get("name")}
        for ours, theirs in (("userId", "userId"), ("anonymousId", "anonymousId")):
            if event.get(ours) is not None:
                msg[theirs] = event[ours]
        msg["timestamp"] = iso_ms(int(event.get("timestamp") or 0))
        msg["properties"] = props
        if event.get("deviceData"):
            msg["context"] = event["deviceData"]
        canary = props.get("canary_id") if isinstance(props, dict) else None
        if isinstance(canary, str):
            msg["messageId"] = canary
        return orjson.dumps(msg)

    def format_time(self, unix_ms: int) -> bytes:
        return iso_ms(unix_ms).encode()

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        f = self._f
        if f.max_event_bytes is not None:
            biggest = max((len(e) for e in encoded), default=0)
            if biggest > f.max_event_bytes:
                raise ValueError(f"{self.flavour}: an event of {biggest} bytes is over the "
                                 f"{f.max_event_bytes // KB} KB per event limit")
        if len(encoded) == 1:
            return HttpRequest("POST", self.base_url, f.single_path, self._headers, encoded[0])
        if f.batch_path is None:
            raise ValueError(f"{self.flavour} takes one event per request, got {len(encoded)}")
        body = b'{"batch":[' + b",".join(encoded) + b"]}"
        if f.max_body_bytes is not None and len(body) > f.max_body_bytes:
            raise ValueError(f"{self.flavour}: a batch of {len(body)} bytes is over the "
                             f"{f.max_body_bytes // KB} KB per batch limit")
        return HttpRequest("POST", self.base_url, f.batch_path, self._headers, body)

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest:
        return self.ingest_encoded([self.encode_event(e) for e in events])

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
        return classify_status(status, headers, body)


SPEC = TargetSpec(
    kind=NAME,
    summary="Segment-compatible collectors (Segment, RudderStack, Jitsu): a writer only",
    make=make,
    options=(Option("flavour", OPTIONS["flavour"], default="segment"),),
    secrets=(Secret(SECRETS[0], "the source's write key", needed_by=(WRITER,)),),
    roles=(WRITER,),
)
