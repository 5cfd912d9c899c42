"""Size-or-time visibility, checked against a real pipeline with small settings (wait 2 s, 200 rows)."""

import time
import uuid

import pytest

from tests.http import Client
from tests.servers import start_pipeline

pytestmark = pytest.mark.server
WAIT_S = 2.0
ROWS = 200


def event(cid: str) -> dict:
    return {"name": "page_view", "anonymousId": "anon-1", "timestamp": int(time.time() * 1000),
            "properties": {"canary_id": cid}}


def poll_until_visible(client: Client, cid: str, sent: float, limit_s: float) -> float:
    while time.monotonic() - sent < limit_s:
        status, doc = client.post_json("/query", {"canary_ids": [cid]})
        assert status == 200
        if doc["rows"]:
            return time.monotonic() - sent
        time.sleep(0.02)
    raise AssertionError(f"canary {cid} not visible within {limit_s}s")


def flush_counts(client: Client) -> dict[str, float]:
    _, body = client.request("GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("ingestbench_pipeline_flushes_total{"):
            reason = line.split('reason="')[1].split('"')[0]
            out[reason] = float(line.rsplit(" ", 1)[1])
    return out


@pytest.fixture
def client(tmp_path):
    with start_pipeline(tmp_path, flush_rows=ROWS, flush_max_wait_s=WAIT_S) as p:
        c = Client(p.url)
        yield c
        c.close()


def test_trickle_waits_for_the_time_rule(client):
    # 1) a canary into an empty buffer is visible after flush-max-wait, not before
    cid = str(uuid.uuid4())
    sent = time.monotonic()
    assert client.post_json("/event/ingest", event(cid))[0] == 204
    tta = poll_until_visible(client, cid, sent, WAIT_S + 3)
    assert WAIT_S - 0.5 <= tta <= WAIT_S + 0.5, tta

    # 2) a 10 events/s trickle for 5 s: no event waits longer than the max wait, each flush's oldest ~= wait
    ids = []
    start = time.monotonic()
    for i in range(50):
        time.sleep(max(0.0, start + i * 0.1 - time.monotonic()))
        cid = str(uuid.uuid4())
        assert client.post_json("/event/ingest", event(cid))[0] == 204
        ids.append(cid)
    time.sleep(WAIT_S + 0.5)
    _, truth = client.post_json("/internal/visibility", {"canary_ids": ids})
    rows = truth["rows"]
    assert len(rows) == 50
    delays = [(r["visible_at_ms"] - r["received_at_ms"]) / 1000 for r in rows]
    assert max(delays) <= WAIT_S + 0.5, max(delays)
    by_flush: dict[float, list[float]] = {}
    for r, d in zip(rows, delays, strict=True):
        by_flush.setdefault(r["visible_at_ms"], []).append(d)
    assert len(by_flush) >= 2
    for group in by_flush.values():
        assert WAIT_S - 0.5 <= max(group) <= WAIT_S + 0.5, group
    counts = flush_counts(client)
    assert counts.get("time", 0) >= 3 and counts.get("size", 0) == 0, counts


def test_above_rows_per_wait_the_size_rule_makes_it_fast(client):
    # 1,000 events/s (batches of 20 every 20 ms) is far above 200 rows / 2 s = 100 events/s
    ttas = []
    start = time.monotonic()
    for i in range(100):
        time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
        batch = [event(str(uuid.uuid4())) for _ in range(20)]
        assert client.post_json("/event/ingest/batch", {"events": batch})[0] == 204
        if i % 25 == 10:
            cid = batch[0]["properties"]["canary_id"]
            _, truth = client.post_json("/internal/visibility", {"canary_ids": [cid]})
            ttas.append(cid)
    time.sleep(0.5)
    _, truth = client.post_json("/internal/visibility", {"canary_ids": ttas})
    delays = [(r["visible_at_ms"] - r["received_at_ms"]) / 1000 for r in truth["rows"]]
    assert len(delays) == len(ttas) == 4
    # 200 rows accumulate in ~0.2 s at this rate: visibility is an order of magnitude below the 2 s wait
    assert max(delays) < 0.5, delays
    counts = flush_counts(client)
    assert counts.get("size", 0) >= 9, counts
