"""Values shared by every target: the request to execute and the parsed results.

A target module never performs I/O. It returns an :class:`HttpRequest` (method, path, headers, body),
which the caller executes with whatever client it owns, and it parses what came back::

    req = target.ingest(events)
    resp = await session.request(req.method, req.url, headers=req.headers, data=req.body)
    result = target.parse_ingest(resp.status, resp.headers, await resp.read())
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}


class TargetError(Exception):
    """A response that could not be understood (wrong shape, not JSON). Carries a one-line message."""


class HttpRequest(NamedTuple):
    """One HTTP request to run against a target. ``path`` includes the query string.

    A NamedTuple rather than a frozen dataclass: the load generator builds one per request, 4x cheaper.
    """

    method: str
    base_url: str
    path: str
    headers: Mapping[str, str] = MappingProxyType({})
    body: bytes | None = None

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + self.path


@dataclass(frozen=True)
class IngestResult:
    """What an ingest request's response means.

    ``kind`` is ``ok`` or the failure class used in metrics and reports: ``rejected`` (4xx other than
    429), ``throttled`` (429), ``server_error`` (5xx), ``unexpected`` (any other status).
    """

    ok: bool
    status: int
    kind: str
    retry_after_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class CanaryRow:
    """One visible stored event that carries a ``canary_id`` (a duplicate delivery is two rows)."""

    canary_id: str
    name: str | None = None
    timestamp_ms: float | None = None
    user_id: str | None = None
    anonymous_id: str | None = None


@dataclass(frozen=True)
class ProfileResult:
    """A profile read back: ``found`` is False on 404."""

    found: bool
    status: int
    properties: Mapping[str, Any] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)


_OK: dict[int, IngestResult] = {}  # one immutable result per success status: the hot path allocates nothing


def classify_status(status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
    """Map an ingest response status to an :class:`IngestResult`; 2xx is success for every target."""
    if 200 <= status < 300:
        ok = _OK.get(status)
        if ok is None:
            ok = _OK[status] = IngestResult(ok=True, status=status, kind="ok")
        return ok
    error = body[:300].decode("utf-8", "replace") if body else None
    if status == 429:
        return IngestResult(False, status, "throttled", parse_retry_after(headers), error)
    if 400 <= status < 500:
        return IngestResult(False, status, "rejected", None, error)
    if status >= 500:
        return IngestResult(False, status, "server_error", parse_retry_after(headers), error)
    return IngestResult(False, status, "unexpected", None, error)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None when absent or not a number."""
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = val
            break
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def iso_ms(unix_ms: int) -> str:
    """ISO 8601 UTC with milliseconds, as analytics APIs take event times.

    >>> iso_ms(1_700_000_000_123)
    '2023-11-14T22:13:20.123Z'
    """
    seconds, ms = divmod(int(unix_ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def dig(doc: Any, path: str) -> Any:
    """The value at a dotted path (``results``, ``data.rows``, ``0`` for a list index; ``""`` is ``doc``);
    :class:`TargetError` naming the path when it is not there.

    >>> dig({"data": {"rows": [["c-1"]]}}, "data.rows.0.0")
    'c-1'
    """
    value = doc
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise TargetError(f"the answer has nothing at {path!r}")
    return value


def sql_string(value: str) -> str:
    """A SQL string literal, backslashes and quotes escaped (ClickHouse's and HogQL's rules).

    >>> sql_string("it's")
    "'it\\\\'s'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_in_list(canary_ids: Iterable[str], max_ids: int) -> str:
    """The ids as the inside of a SQL ``IN (...)``, at most ``max_ids`` of them (``ValueError`` beyond: the
    prober splits its look-ups by the reader's ``max_query_ids``).

    >>> sql_in_list(["a", "b"], 10)
    "'a', 'b'"
    """
    ids = list(canary_ids)
    if len(ids) > max_ids:
        raise ValueError(f"at most {max_ids} canary ids per query, got {len(ids)}")
    return ", ".join(sql_string(i) for i in ids) or "''"


def loads(body: bytes, what: str) -> Any:
    """JSON from a response body; a :class:`TargetError` naming ``what`` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TargetError(f"{what} response is not JSON: {exc}") from None


def answer_list(status: int, body: bytes, what: str, path: str, *, detail: str | None = None) -> list[Any]:
    """The list at ``path`` (see :func:`dig`) of a 200 JSON answer to the query ``what``; anything else is a
    :class:`TargetError` naming ``what`` (``detail``: the target's own reading of an error body).

    >>> answer_list(200, b'{"data": [{"canary_id": "c-1"}]}', "look-up", "data")
    [{'canary_id': 'c-1'}]
    """
    if status != 200:
        raise TargetError(f"{what}: HTTP {status}: {detail or body[:200].decode('utf-8', 'replace')}")
    rows = dig(loads(body, what), path)
    if not isinstance(rows, list):
        raise TargetError(f"{what}: {path!r} is not a list")
    return rows
