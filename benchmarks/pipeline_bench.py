"""Reference pipeline throughput and query latency, side by side with a bare 204 handler, in one run.

Servers are pinned to CPU 0 and the load tool (wrk) to CPU 1, so each side gets one core:

    python benchmarks/pipeline_bench.py [--duration 10] [--connections 64] [--events 1000000]

Measures: batched ingest (100 events of ~400 B per request) with durable ack in events/s; single-event ingest
in requests/s as a share of the bare handler's; ``POST /query`` for 100 ids over a store of N events (p50/p99).
Needs ``wrk`` (Debian package ``wrk``) and ``taskset``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestbench.orchestrate.children import stop_process  # noqa: E402
from ingestbench.orchestrate.net import free_port  # noqa: E402
from ingestbench.pipeline.store import Store  # noqa: E402
from ingestbench.pipeline.validation import validate_batch  # noqa: E402


def make_event(i: int, canary: str | None = None) -> dict:
    props = {"path": f"/products/{i % 5000}", "referrer": "https://example.com/search?q=shoes",
             "plan": "pro", "cart": {"items": [{"sku": f"sku-{i % 97}", "qty": 2}], "total": 59.9},
             "tags": ["a", "b", "c"], "screen": {"w": 1920, "h": 1080}}
    if canary:
        props["canary_id"] = canary
    return {"timestamp": 1_764_000_000_000 + i, "userId": f"user-{i % 10_000}", "anonymousId": None,
            "externalId": None, "sessionId": f"s-{i % 777}", "name": "page_view", "properties": props,
            "deviceData": {"browser": "Firefox", "os": "Linux"}}


def start(cmd: list[str], url: str, cpu: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["taskset", "-c", cpu, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")




def wrk(url: str, body: bytes, duration_s: int, connections: int, workdir: Path) -> dict[str, float]:
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("STATUS non2xx=%d errors=%d\\n", summary.errors.status,'
        " summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        "end\n"
    )
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(script),
         url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    status = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
            "non2xx": int(status.group(1)) if status else -1, "errors": int(status.group(2)) if status else -1}


def fill_store(data: Path, n_events: int, n_canaries: int) -> list[str]:
    """Write n_events (n_canaries of them canaries) straight into a store, all flushed."""
    store = Store.open(data)
    canaries, step = [], max(1, n_events // n_canaries)
    chunk = 20_000
    for start_i in range(0, n_events, chunk):
        events = []
        for i in range(start_i, min(n_events, start_i + chunk)):
            cid = f"canary-{i}" if i % step == 0 else None
            if cid:
                canaries.append(cid)
            events.append(make_event(i, cid))
        store.begin()
        accepted = validate_batch({"events": events}, max_batch=chunk)
        store.insert_events(time.time() * 1000, accepted, json.dumps({"events": events}).encode())
        store.commit()
    store.begin()
    store.record_flush(store.last_id(), time.time() * 1000, "size", n_events)
    store.commit()
    store.close()
    return canaries


async def query_latency(url: str, canaries: list[str], n_queries: int) -> dict[str, float]:
    import aiohttp
    import numpy as np

    rng = random.Random(7)
    lat = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n_queries):
            ids = rng.sample(canaries, 50) + [f"missing-{rng.random()}" for _ in range(50)]
            body = json.dumps({"canary_ids": ids}).encode()
            t0 = time.perf_counter()
            async with session.post(url + "/query", data=body, headers={"Content-Type": "application/json"}) as r:
                doc = await r.json()
            lat.append(time.perf_counter() - t0)
            assert r.status == 200 and len(doc["rows"]) == 50, (r.status, len(doc["rows"]))
    arr = np.array(lat) * 1000
    return {"p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99)),
            "max_ms": float(arr.max()), "n": n_queries}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (bare, pipeline, bare, ...)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--events", type=int, default=1_000_000, help="store size for the query benchmark")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    py = sys.executable
    single = json.dumps(make_event(1)).encode()
    batch = json.dumps({"events": [make_event(i) for i in range(100)]}).encode()
    results: dict[str, Any] = {"event_bytes": len(single), "batch_bytes": len(batch), "cpus": os.cpu_count(),
                               "rounds": []}
    with tempfile.TemporaryDirectory(prefix="ib-bench-") as tmp:
        work = Path(tmp)
        bare_port, pipe_port = free_port(), free_port()
        bare_url, pipe_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{pipe_port}"
        bare = start([py, str(ROOT / "benchmarks/bare204.py"), "--port", str(bare_port)], bare_url, "0")
        pipe = start([py, "-m", "ingestbench", "pipeline", "--port", str(pipe_port), "--data", str(work / "ingest")],
                     pipe_url, "0")
        try:
            for _ in range(args.rounds):  # side by side: each round runs all four, so noise hits both alike
                one: dict[str, Any] = {}
                for name, url, path, body in (("bare_single", bare_url, "/event/ingest", single),
                                              ("pipeline_single", pipe_url, "/event/ingest", single),
                                              ("bare_batch", bare_url, "/event/ingest/batch", batch),
                                              ("pipeline_batch", pipe_url, "/event/ingest/batch", batch)):
                    one[name] = wrk(url + path, body, args.duration, args.connections, work)
                results["rounds"].append(one)
            stats = json.loads(urllib.request.urlopen(pipe_url + "/internal/stats").read())
            results["pipeline_stored_events"] = stats["events"]
        finally:
            stop_process(bare)
            stop_process(pipe)
        t0 = time.perf_counter()
        canaries = fill_store(work / "query", args.events, 10_000)
        results["fill_s"] = round(time.perf_counter() - t0, 1)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        pipe = start([py, "-m", "ingestbench", "pipeline", "--port", str(port), "--data", str(work / "query")],
                     url, "0")
        try:
            results["query_100_ids"] = asyncio.run(query_latency(url, canaries, args.queries))
        finally:
            stop_process(pipe)
    rounds = results["rounds"]
    batched = [r["pipeline_batch"]["rps"] * 100 for r in rounds]
    single_share = [r["pipeline_single"]["rps"] / r["bare_single"]["rps"] for r in rounds]
    results["summary"] = {
        "batched_events_per_s_by_round": [round(b) for b in batched],
        "batched_events_per_s_median": round(median(batched)),
        "single_share_of_bare_by_round": [round(x, 3) for x in single_share],
        "single_share_of_bare_median": round(median(single_share), 3),
        "non2xx_or_errors": sum(r[k]["non2xx"] + r[k]["errors"] for r in rounds for k in r),
        "query_p99_ms": round(results["query_100_ids"]["p99_ms"], 2),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
