"""``http``: any JSON-over-HTTP ingest and query API, described by templates instead of code.

Writer: every request is ``POST {url}{path}`` carrying the load's events as they are (the UserFlux event
shape: ``timestamp`` in milliseconds, ``name``, ``userId``, ``anonymousId``, ``properties``, ...) in one of
four envelopes: ``single`` (one event as the body, one event per request), ``events`` (``{"events": [...]}``),
``batch`` (``{"batch": [...]}``) or ``ndjson`` (one event per line). Responses with a status in ``accepted``
are successes.

Reader (only with ``query_path``): ``POST {query_url}{query_path}`` (``query_url`` defaults to the URL) with
``query_body``, a JSON template in which ``{ids}`` becomes the JSON array of canary ids; in the answer,
``rows_path`` (a dotted path, ``""`` for the whole answer) leads to the list of rows and ``canary_path`` to
the canary id inside a row (``0`` for the first item of an array row).

Auth: the value of ``INGESTBENCH_HTTP_AUTH`` (e.g. ``Bearer abc``) is sent as the ``auth_header`` header
(default ``Authorization``) on every request, ingest and query alike.

>>> t = make("http://127.0.0.1:8080", {"path": "/event/ingest/batch", "query_path": "/query"}, {})
>>> t.ingest_encoded([b'{"name":"a"}']).body
b'{"events":[{"name":"a"}]}'
>>> t.query_canaries(["c-1"]).body
b'{"canary_ids": ["c-1"]}'
>>> [r.canary_id for r in t.parse_query(200, b'{"rows": [{"canary_id": "c-1"}]}')]
['c-1']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import (
    CanaryRow,
    HttpRequest,
    IngestResult,
    TargetError,
    answer_list,
    classify_status,
    dig,
)
from ingestbench.targets.contract import Limits
from ingestbench.targets.spec import READER, WRITER, Option, Secret, TargetSpec

NAME = "http"
SECRETS = ("INGESTBENCH_HTTP_AUTH",)
ENVELOPES = ("single", "events", "batch", "ndjson")
OPTIONS = {
    "path": "ingest path (default /)",
    "envelope": "single, events, batch or ndjson (default events)",
    "accepted": "statuses meaning success, comma-separated (default 200,201,202,204)",
    "auth_header": "header that carries INGESTBENCH_HTTP_AUTH (default Authorization)",
    "max_batch_events": "most events per request (default: no limit; 1 with envelope single)",
    "query_url": "base URL of the query API (default: the target URL)",
    "query_path": "query path; without it there is no reader",
    "query_body": 'JSON template of the query; {ids} becomes the id array (default {"canary_ids": {ids}})',
    "rows_path": "dotted path to the rows in the answer (default rows)",
    "canary_path": "dotted path to the canary id in a row (default canary_id)",
    "max_query_ids": "most canary ids per query (default 1000)",
    "min_poll_interval_s": "least seconds between queries, for a rate-limited API (default 0)",
}
DEFAULTS = {"path": "/", "envelope": "events", "accepted": "200,201,202,204", "auth_header": "Authorization",
            "query_body": '{"canary_ids": {ids}}', "rows_path": "rows", "canary_path": "canary_id",
            "max_query_ids": "1000", "min_poll_interval_s": "0"}
_WRAP = {"events": b'{"events":[', "batch": b'{"batch":['}


@dataclass(frozen=True)
class Templates:
    """The writer's and reader's shapes, checked once."""

    path: str
    envelope: str
    accepted: frozenset[int]
    query_url: str
    query_path: str | None
    query_body: str
    rows_path: str
    canary_path: str


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> HttpWriter:
    """A writer; a writer and reader when ``query_path`` is set."""
    SPEC.check_options(options)
    o = {**DEFAULTS, **options}
    if o["envelope"] not in ENVELOPES:
        raise ConfigError(f"target-opt: envelope must be one of {', '.join(ENVELOPES)}, got {o['envelope']!r}")
    for key in ("path", "query_path"):
        if o.get(key) and not o[key].startswith("/"):
            raise ConfigError(f"target-opt: {key} must start with /, got {o[key]!r}")
    if "{ids}" not in o["query_body"]:
        raise ConfigError(f"target-opt: query_body must contain {{ids}}, got {o['query_body']!r}")
    try:
        accepted = frozenset(int(s) for s in o["accepted"].split(",") if s.strip())
        batch = int(o["max_batch_events"]) if o.get("max_batch_events") else None
        limits = Limits(max_query_ids=int(o["max_query_ids"]), min_poll_interval_s=float(o["min_poll_interval_s"]),
                        max_batch_events=1 if o["envelope"] == "single" else batch)
    except ValueError as exc:
        raise ConfigError(f"target-opt: accepted, max_batch_events, max_query_ids and min_poll_interval_s must be "
                          f"numbers ({exc})") from None
    if (batch is not None and batch < 1) or limits.max_query_ids < 1:
        raise ConfigError(f"target-opt: max_batch_events and max_query_ids must be >= 1, got "
                          f"{o.get('max_batch_events')!r} and {o['max_query_ids']!r}")
    if not 0 <= limits.min_poll_interval_s < math.inf:
        raise ConfigError(f"target-opt: min_poll_interval_s must be a finite number >= 0, got "
                          f"{o['min_poll_interval_s']!r}")
    templates = Templates(o["path"], o["envelope"], accepted, (o.get("query_url") or url).rstrip("/"),
                          o.get("query_path") or None, o["query_body"], o["rows_path"], o["canary_path"])
    headers = {"Content-Type": "application/x-ndjson" if o["envelope"] == "ndjson" else "application/json"}
    if environ.get(SECRETS[0]):
        headers[o["auth_header"]] = environ[SECRETS[0]]
    cls = HttpTarget if templates.query_path else HttpWriter
    return cls(url, templates, limits, headers)


class HttpWriter:
    """Sans-IO ingest requests from the templates."""

    name = NAME

    def __init__(self, base_url: str, templates: Templates, limits: Limits, headers: Mapping[str, str]):
        self.base_url = base_url.rstrip("/")
        self.t, self.limits = templates, limits
        self._headers: Mapping[str, str] = dict(headers)

    def __repr__(self) -> str:  # never show the auth header
        return f"{type(self).__name__}({self.base_url!r})"

    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        return orjson.dumps(event)

    def format_time(self, unix_ms: int) -> bytes:
        return b"%d" % unix_ms

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        env = self.t.envelope
        if env == "single":
            if len(encoded) != 1:
                raise ValueError(f"envelope single takes one event per request, got {len(encoded)}")
            body = encoded[0]
        elif env == "ndjson":
            body = b"\n".join(encoded) + b"\n"
        else:
            body = _WRAP[env] + b",".join(encoded) + b"]}"
        return HttpRequest("POST", self.base_url, self.t.path, self._headers, body)

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest:
        return self.ingest_encoded([self.encode_event(e) for e in events])

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
        result = classify_status(status, headers, body)
        if result.ok and status not in self.t.accepted:
            return replace(result, ok=False, kind="unexpected", error=f"status {status} is not in accepted")
        return result


class HttpTarget(HttpWriter):
    """The writer plus canary look-ups from the query templates."""

    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        ids = list(canary_ids)
        if len(ids) > self.limits.max_query_ids:
            raise ValueError(f"at most {self.limits.max_query_ids} canary ids per query, got {len(ids)}")
        body = self.t.query_body.replace("{ids}", orjson.dumps(ids).decode()).encode()
        headers = {**self._headers, "Content-Type": "application/json"}
        return HttpRequest("POST", self.t.query_url, self.t.query_path or "/", headers, body)

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        rows = answer_list(status, body, "http query", self.t.rows_path)
        out = []
        for row in rows:
            try:
                value = dig(row, self.t.canary_path)
            except TargetError:
                continue
            if isinstance(value, str):
                out.append(CanaryRow(canary_id=value))
        return out


SPEC = TargetSpec(
    kind=NAME,
    summary="any HTTP ingest API described by templates; a reader when query_path is set",
    make=make,
    options=tuple(Option(name, text, type={"max_batch_events": "integer", "max_query_ids": "integer",
                                          "min_poll_interval_s": "number", "query_url": "url"}.get(name, "text"),
                    default=DEFAULTS.get(name)) for name, text in OPTIONS.items()),
    secrets=(Secret(SECRETS[0], "the value of the auth header (auth_header), e.g. 'Bearer <key>'"),),
    roles=(WRITER, READER),
)
