"""Hostile request bodies: oversized, deeply nested, not UTF-8, huge numbers. Refused, and memory stays put.

A pipeline at its default limits (5 MiB bodies, 1,000 events a batch) gets each body three times. Every one
is refused with a 4xx naming the field (``$`` for the body itself) and stores nothing, except the large but
legal one; the pipeline then still serves. Its peak resident memory (``VmHWM``) is read before and after:
the refused bodies may raise it by at most ``MAX_GROWTH_MIB``, the legal wide one (300,000 keys in 4.5 MiB,
which the pipeline must parse) by at most ``MAX_LEGAL_GROWTH_MIB``. The figures go to ``hostile.json``.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http import Client
from tests.procs import status_kib
from tests.servers import PipelineProcess, start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]

MIB = 1024 * 1024
MAX_GROWTH_MIB = 48  # the refused bodies (measured 25-34 MiB, most of it reading 5 MiB of a chunked upload)
MAX_LEGAL_GROWTH_MIB = 160
EVENT = '{"name":"page_view","userId":"u1","timestamp":1764000000000,"properties":%s}'


def nested(levels: int, open_: str, close: str) -> str:
    return open_ * levels + "1" + close * levels


HOSTILE: dict[str, tuple[str, bytes, int]] = {
    # name: (route, body, expected status)
    "6 MiB body": ("/event/ingest/batch", b'{"events":[' + b" " * (6 * MIB) + b"]}", 413),
    "arrays 10,000 deep": ("/event/ingest", nested(10_000, "[", "]").encode(), 400),
    "objects 10,000 deep": ("/event/ingest", nested(10_000, '{"a":', "}").encode(), 400),
    "properties 10,000 deep": ("/event/ingest", (EVENT % nested(10_000, '{"a":', "}")).encode(), 400),
    "batch 10,000 deep": ("/event/ingest/batch", ('{"events":[' + nested(10_000, "[", "]") + "]}").encode(), 400),
    "query ids 10,000 deep": ("/query", ('{"canary_ids":' + nested(10_000, "[", "]") + "}").encode(), 400),
    "invalid UTF-8 in a name": ("/event/ingest", b'{"name":"\xff\xfe","userId":"u","timestamp":1764000000000}', 400),
    "invalid UTF-8 in properties": ("/event/ingest", (EVENT % '{"x":"@"}').encode().replace(b"@", b"\xc3\x28"),
                                    400),
    "invalid UTF-8 in canary ids": ("/query", b'{"canary_ids":["\xed\xa0\x80"]}', 400),
    "timestamp 1e400": ("/event/ingest", b'{"name":"a","userId":"u","timestamp":1e400}', 400),
    "integer of 400 digits": ("/event/ingest", b'{"name":"a","userId":"u","timestamp":1' + b"0" * 400 + b"}", 400),
    "number of a million digits": ("/event/ingest", (EVENT % ('{"n":1' + "7" * 1_000_000 + "}")).encode(), 400),
    "name of a million characters": ("/event/ingest", json.dumps(
        {"name": "a" * 1_000_000, "userId": "u", "timestamp": 1764000000000}).encode(), 400),
    "1,001 events": ("/event/ingest/batch", json.dumps({"events": [json.loads(EVENT % "{}")] * 1001}).encode(),
                     413),
    "10,001 canary ids": ("/query", json.dumps({"canary_ids": ["c"] * 10_001}).encode(), 413),
}
# Large but legal: 4.5 MiB of properties in 300,000 keys, accepted and stored once per send.
LEGAL_WIDE = (EVENT % json.dumps({f"k{i}": i for i in range(300_000)}, separators=(",", ":"))).encode()


CHUNKED_ANSWER_S = 30.0  # a 64 MiB chunked upload is answered (413) within this, counted from its first byte


def chunked_upload(url: str, route: str, total: int, chunk: int = 64 * 1024) -> tuple[int | None, float]:
    """POST ``total`` bytes with chunked transfer encoding (no Content-Length to refuse it by); returns the
    status of the answer (None: no answer) and the seconds it took. The answer is read as soon as it comes,
    between chunks: a server that refuses the body stops reading it, and a reset after that may drop an
    answer that was not read in time."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    head = b""
    with socket.create_connection((host, int(port)), timeout=CHUNKED_ANSWER_S) as sock:
        sock.sendall(f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        piece = f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
        sent = 0
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(piece)
                sent += chunk
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: its answer, if any, is read below
        with contextlib.suppress(OSError):
            while b"\r\n" not in head and time.monotonic() - started < CHUNKED_ANSWER_S:
                more = sock.recv(4096)
                if not more:
                    break
                head += more
    elapsed = time.monotonic() - started
    return (int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None), elapsed


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineProcess]:
    with start_pipeline(tmp_path_factory.mktemp("hostile"), flush_rows=1000, flush_max_wait_s=0.5) as p:
        yield p


def test_hostile_bodies_are_refused_without_exhausting_memory(pipeline: PipelineProcess, tmp_path: Path) -> None:
    assert pipeline.proc is not None
    pid = pipeline.proc.pid
    client = Client(pipeline.url, timeout_s=60)
    for _ in range(20):  # warm up: a few ordinary requests, so the baseline is a serving pipeline's
        assert client.request("POST", "/event/ingest", (EVENT % '{"a":1}').encode(),
                              {"Content-Type": "application/json"})[0] == 204
    baseline = status_kib(pid, "VmHWM")
    assert baseline is not None
    results = {}
    for name, (route, body, expected) in HOSTILE.items():
        for _ in range(3):
            before = client.stats()["events"]
            started = time.monotonic()
            status, raw = client.request("POST", route, body, {"Content-Type": "application/json"})
            elapsed = time.monotonic() - started
            assert status == expected, (name, status, raw[:300])
            doc = json.loads(raw)
            assert set(doc) == {"error", "field", "index"} and "\n" not in doc["error"], (name, doc)
            assert client.stats()["events"] == before, name
        results[name] = {"status": status, "error": doc["error"][:120], "field": doc["field"],
                         "seconds": round(elapsed, 3)}
    for _ in range(3):
        status, seconds = chunked_upload(pipeline.url, "/event/ingest/batch", 64 * MIB)
        assert status == 413 and seconds < CHUNKED_ANSWER_S, (status, seconds)
    results["64 MiB chunked, no Content-Length"] = {"status": status, "seconds": round(seconds, 3)}
    refused_peak = status_kib(pid, "VmHWM")
    assert refused_peak is not None
    for _ in range(3):
        status, raw = client.request("POST", "/event/ingest", LEGAL_WIDE, {"Content-Type": "application/json"})
        assert status == 204, raw[:300]
    peak = status_kib(pid, "VmHWM")
    assert peak is not None
    growth_mib = (refused_peak - baseline) / 1024
    legal_growth_mib = (peak - refused_peak) / 1024
    assert client.request("GET", "/healthz")[0] == 200  # still serving
    assert client.request("POST", "/event/ingest", (EVENT % "{}").encode(), {"Content-Type": "application/json"})[0] \
        == 204
    client.close()
    figures = {"baseline_peak_rss_mib": round(baseline / 1024, 1),
               "peak_rss_after_refusals_mib": round(refused_peak / 1024, 1),
               "growth_refused_mib": round(growth_mib, 1), "peak_rss_after_legal_wide_mib": round(peak / 1024, 1),
               "growth_legal_wide_mib": round(legal_growth_mib, 1),
               "legal_wide_body_mib": round(len(LEGAL_WIDE) / MIB, 2), "cases": results}
    (tmp_path / "hostile.json").write_text(json.dumps(figures, indent=2))
    print("hostile:", json.dumps({k: v for k, v in figures.items() if k != "cases"}))
    assert growth_mib < MAX_GROWTH_MIB and legal_growth_mib < MAX_LEGAL_GROWTH_MIB, figures
    assert "Traceback" not in pipeline.log_path.read_text(errors="replace")
