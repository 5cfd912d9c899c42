"""Vendors' own client libraries against the adapters: capture both requests on loopback, compare them field by field.

:class:`CaptureServer` answers every request on 127.0.0.1 and keeps it (gzip bodies decompressed). A vendor's SDK
and the adapter send the same event to it; :func:`wire_fields` flattens each request into named fields
(``method``, ``path``, ``query.*``, ``header.*``, ``envelope``, ``body.*`` beside the events, ``event.*`` for
the first event) and :func:`assert_same_wire` fails naming every field that differs. What one side sends and
the other does not is allowed only when an allow-list names it with its reason, and every allowance must be
used (a stale one fails) and appear in ``docs/vendor-wire.md`` (where the reasons are written for users)::

    with CaptureServer() as srv:
        sdk_client.track(...)                                  # the SDK's request
        send_generator(target, event, srv.url)                 # the generator's request
        sdk, ours = srv.wait(2)
        assert_same_wire(sdk, ours, events_key="batch", allow=ALLOW)
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ingestbench.checks.http import execute
from ingestbench.loadgen.encoded import EncodedEvents
from ingestbench.loadgen.events import EventFactory
from ingestbench.loadgen.wire import HttpConnection
from ingestbench.targets.base import HttpRequest
from tests.loopback import LoopbackApp

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "sdk"
DOC = ROOT / "docs" / "vendor-wire.md"
TRANSPORT = {  # headers of the HTTP client, not of the vendor's API: never compared
    "host": "the address dialled (loopback here)",
    "content-length": "the body's length: the bodies themselves are compared",
    "connection": "keep-alive is the HTTP client's choice",
    "accept-encoding": "what the client can decompress in an answer, not what the API takes",
    "accept": "answer formats the client takes; every vendor answers JSON or nothing",
}


@dataclass(frozen=True)
class Captured:
    """One request as it arrived: header names lower-cased; ``body`` as aiohttp reads it, decompressed when
    ``Content-Encoding`` says gzip (a body that is not gzip then is answered 400, so the SDK fails)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class CaptureServer(LoopbackApp):
    """Answers every request with ``status`` and ``answer`` and keeps it, in arrival order."""

    def __init__(self, *, status: int = 200, answer: bytes = b'{"status": 1}') -> None:
        super().__init__()
        self.status, self.answer = status, answer
        self.requests: list[Captured] = []
        self._arrived = threading.Condition()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._capture)

    async def _capture(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._arrived:
            self.requests.append(Captured(request.method, request.path, dict(request.query), headers, body))
            self._arrived.notify_all()
        if self.status == 204:
            return web.Response(status=204)
        return web.Response(status=self.status, body=self.answer, content_type="application/json")

    def wait(self, n: int, timeout_s: float = 10.0) -> list[Captured]:
        """The first ``n`` requests, waiting for them to arrive (fails naming how many came)."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{n} requests expected, {len(self.requests)} arrived in {timeout_s} s")
                self._arrived.wait(left)
            return self.requests[:n]


# --- the adapter's two request paths --------------------------------------------------------------------
def user_event(factory: EventFactory) -> tuple[int, dict[str, Any]]:
    """The first template of ``factory`` with a user id (index, template)."""
    return next((i, t) for i, t in enumerate(factory.templates) if t.get("userId"))


def send_generator(target: Any, factory: EventFactory, index: int, n: int, url: str, now_ms: int) -> None:
    """``n`` events from template ``index`` on, exactly as the load generator sends them: each template encoded
    once, the send time spliced in (:class:`EncodedEvents`), one request on the generator's own connection."""
    encoded = EncodedEvents(factory, target)
    if index:
        encoded.batch(index, now_ms=now_ms)
    req = target.ingest_encoded(encoded.batch(n, now_ms=now_ms))
    conn = HttpConnection(url, connect_timeout_s=5, timeout_s=10)
    try:
        resp = conn.request(req.method, req.path, req.headers, req.body or b"", now_s=time.monotonic())
    finally:
        conn.close()
    assert target.parse_ingest(resp.status, resp.headers, resp.body).ok, resp


def send_probe(target: Any, events: list[dict[str, Any]], url: str) -> None:
    """The events as the probe sends a canary: ``target.ingest`` run by the probe's aiohttp executor."""
    status, headers, body = send_request(target, target.ingest(events), url)
    assert target.parse_ingest(status, headers, body).ok, (status, body)


def send_request(target: Any, req: HttpRequest, url: str) -> tuple[int, dict[str, str], bytes]:
    """One of the target's requests run by the probe's aiohttp executor, at ``url``."""

    async def run() -> tuple[int, dict[str, str], bytes]:
        async with aiohttp.ClientSession() as session:
            return await execute(session, req._replace(base_url=url), 10.0)

    return asyncio.run(run())


# --- flattening and comparing ---------------------------------------------------------------------------
def wire_fields(req: Captured, *, events_key: str | None, item: str = "event") -> dict[str, Any]:
    """The request as named fields; the first event's fields are ``event.*`` (``item``) whatever the envelope:
    ``{events_key: [...]}`` or, when the body has no such list, the event itself."""
    fields: dict[str, Any] = {"method": req.method, "path": req.path}
    fields.update({f"query.{k}": v for k, v in req.query.items()})
    for name, value in req.headers.items():
        if name not in TRANSPORT:
            fields[f"header.{name}"] = _auth(value) if name == "authorization" else value
    doc = req.json() if req.body.strip() else None
    if isinstance(doc, dict) and events_key and isinstance(doc.get(events_key), list):
        fields["envelope"] = f'{{"{events_key}": [...]}}'
        for key, value in doc.items():
            if key != events_key:
                _flatten(f"body.{key}", value, fields)
        event = doc[events_key][0] if doc[events_key] else None
    else:
        fields["envelope"] = "one event as the body"
        event = doc
    _flatten(item, event, fields)
    return fields


def _auth(value: str) -> str:
    scheme, _, cred = value.partition(" ")
    if scheme.lower() == "basic":
        return f"Basic {base64.b64decode(cred).decode()} (base64)"
    return value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 20 or value[4:5] != "-" or value[10:11] != "T":
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _kind(value: Any) -> str:
    if _instant(value) is not None:
        return "an RFC 3339 time"
    return "null" if value is None else type(value).__name__


def differences(sdk: Mapping[str, Any], ours: Mapping[str, Any], allow: Mapping[str, str],
                used: set[str]) -> list[str]:
    """One line per differing field. A field named by an ``allow`` pattern may be sent by one side only, or
    with another value of the same kind; times compare as instants (to the millisecond) whatever their
    RFC 3339 spelling."""
    out = []
    for name in sorted(set(sdk) | set(ours)):
        pattern = next((p for p in allow if fnmatch.fnmatchcase(name, p)), None)
        if pattern is not None:
            used.add(pattern)
        a, b = sdk.get(name, _MISSING), ours.get(name, _MISSING)
        if a is _MISSING or b is _MISSING:
            if pattern is None:
                side = "the SDK" if b is _MISSING else "the adapter"
                out.append(f"{name}: sent by {side} only ({(a if b is _MISSING else b)!r})")
            continue
        ta, tb = _instant(a), _instant(b)
        if ta is not None and tb is not None:
            same = pattern is not None or abs((ta - tb).total_seconds()) < 0.001
        else:
            same = a == b or (pattern is not None and _kind(a) == _kind(b))
        if not same:
            out.append(f"{name}: SDK sends {a!r}, adapter sends {b!r}")
    return out


_MISSING = object()


def assert_same_wire(sdk: Captured, ours: Captured, *, events_key: str | None, allow: Mapping[str, str],
                     doc_section: str, item: str = "event") -> None:
    """Fail naming every field where the adapter's request differs from the SDK's beyond ``allow``; fail on an
    allowance that matched nothing, and on one that the ``## doc_section`` of ``docs/vendor-wire.md`` does not
    name (in backquotes)."""
    used: set[str] = set()
    diff = differences(wire_fields(sdk, events_key=events_key, item=item),
                       wire_fields(ours, events_key=events_key, item=item), allow, used)
    assert not diff, "the adapter's request differs from the vendor SDK's:\n  " + "\n  ".join(diff)
    stale = sorted(set(allow) - used)
    assert not stale, f"allowances that matched no field (remove them): {stale}"
    doc = DOC.read_text().split(f"\n## {doc_section}\n", 1)
    assert len(doc) == 2, f"{DOC.relative_to(ROOT)} has no section '## {doc_section}'"
    section = doc[1].split("\n## ", 1)[0]
    undocumented = sorted(p for p in allow if f"`{p}`" not in section)
    assert not undocumented, f"allowed differences not explained in {DOC.relative_to(ROOT)}, {doc_section}: " \
                             f"{undocumented}"


# --- the JavaScript SDKs ---------------------------------------------------------------------------------
def node_sdk(package: str) -> Path:
    """The installed npm package's folder; skipped when Node or the package is missing, failed in CI."""
    folder = NODE_DIR / "node_modules" / package
    if shutil.which("node") and (folder / "package.json").exists():
        return folder
    why = f"{package} is not installed (npm ci --prefix tests/sdk; .ci/run does it)" if shutil.which("node") \
        else "node is not installed"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{why}: in CI it must be")
    pytest.skip(why)


def run_node(sdk: str, url: str, key: str, event: Mapping[str, Any]) -> None:
    """Send ``event`` through a JavaScript SDK (``tests/sdk/send.cjs SDK``) to ``url``."""
    proc = subprocess.run(["node", str(NODE_DIR / "send.cjs"), sdk, url], input=orjson.dumps(event),
                          capture_output=True, timeout=30, env={**os.environ, "SDK_KEY": key}, check=False)
    assert proc.returncode == 0, f"node {sdk} failed: {proc.stderr.decode()[-2000:]}"
