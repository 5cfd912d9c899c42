"""Durability under fire: 20 rounds of ``kill -9`` of the pipeline during sustained batched load.

Three sender threads post batches of 50 events, each event with a unique ``canary_id`` (so the ground-truth
endpoint can find it), without ever retrying a request (a retry of a request whose answer was lost would
store it twice and blame the pipeline for the client). Each round waits until a few hundred more events are
acknowledged, kills the pipeline at a random moment a little later, restarts it on the same store and port,
and reconciles by event id: every event that got a 204 is stored exactly once, and becomes visible within the
flush window after the restart (with a margin scaled by how long the restart took on this machine). The
senders keep going through the restarts (refused connections are counted, not acknowledged). The figures are
written to ``durability.json`` in the test's directory.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.http import Client
from tests.servers import PipelineProcess, start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]

ROUNDS = 20
BATCH = 50
PER_ROUND = 300  # events acknowledged in a round before its kill
FLUSH_WAIT_S = 1.0


def visible_within_s(restart_s: float) -> float:
    """How soon after a restart the acknowledged events must be visible: the flush window, plus a margin that
    grows with how slow the machine is right now, measured by the restart itself (a second, plus twice the
    restart: 2 s on a quiet machine where a restart takes about half a second)."""
    return FLUSH_WAIT_S + 1.0 + 2.0 * restart_s


class Senders:
    """Threads posting batches of uniquely marked events; ``acked`` holds the ids of every 204."""

    def __init__(self, url: str, threads: int = 3):
        self.url = url
        self.acked: list[str] = []
        self.unacked: list[str] = []  # the request failed: stored or not, the client was never told
        self.other: Counter[int] = Counter()  # any answer but 204 (must stay empty)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Senders:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def _send(self, index: int) -> None:
        host, port = self.url.removeprefix("http://").split(":")
        conn: http.client.HTTPConnection | None = None
        seq = 0
        while not self.stop.is_set():
            ids = [f"d{index}-{seq + k}" for k in range(BATCH)]
            seq += BATCH
            body = json.dumps({"events": [
                {"name": "order_placed", "userId": f"u{index}", "timestamp": int(time.time() * 1000),
                 "properties": {"canary_id": cid, "amount": 12.5, "items": [{"sku": "a", "qty": 1}]}}
                for cid in ids]}).encode()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request("POST", "/event/ingest/batch", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unacked.extend(ids)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)  # the pipeline is down: try again shortly, with a new batch
                continue
            with self.lock:
                if resp.status == 204:
                    self.acked.extend(ids)
                else:
                    self.other[resp.status] += 1
        if conn is not None:
            conn.close()


def stored_counts(client: Client, ids: list[str]) -> Counter[str]:
    """Events stored per id, from the ground-truth endpoint (one row per stored event)."""
    counts: Counter[str] = Counter()
    for i in range(0, len(ids), 5000):
        status, doc = client.post_json("/internal/visibility", {"canary_ids": ids[i:i + 5000]})
        assert status == 200, doc
        counts.update(row["canary_id"] for row in doc["rows"])
    return counts


def seconds_until_visible(client: Client, ids: list[str], timeout_s: float) -> float:
    """How long until every id is returned by the query API (fails past ``timeout_s``)."""
    started = time.monotonic()
    while True:
        visible = set()
        for i in range(0, len(ids), 5000):
            status, doc = client.post_json("/query", {"canary_ids": ids[i:i + 5000]})
            assert status == 200, doc
            visible |= {row["canary_id"] for row in doc["rows"]}
        elapsed = time.monotonic() - started
        if len(visible) == len(set(ids)):
            return elapsed
        missing = len(set(ids)) - len(visible)
        assert elapsed < timeout_s, f"{missing} acknowledged events not visible after {elapsed:.1f} s"
        time.sleep(0.05)


def test_20_kill_9_rounds_lose_and_duplicate_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(13)
    rounds = []
    with start_pipeline(tmp_path, flush_rows=5000, flush_max_wait_s=FLUSH_WAIT_S) as p, Senders(p.url) as senders:
        checked = 0
        for r in range(ROUNDS):
            target = senders.count() + PER_ROUND
            deadline = time.monotonic() + 60
            while senders.count() < target:
                assert time.monotonic() < deadline, f"round {r}: the load stalled"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next group commits
            p.kill9()
            with senders.lock:
                acked = list(senders.acked)
            started = time.monotonic()
            p.restart()
            restart_s = time.monotonic() - started
            client = Client(p.url, timeout_s=30)
            new = acked[checked:]
            counts = stored_counts(client, new)
            lost = [c for c in new if counts[c] == 0]
            duplicated = [c for c in new if counts[c] > 1]
            assert not lost, f"round {r}: {len(lost)} acknowledged events lost, e.g. {lost[:3]}"
            assert not duplicated, f"round {r}: {len(duplicated)} stored twice, e.g. {duplicated[:3]}"
            visible_s = seconds_until_visible(client, new, visible_within_s(restart_s))
            client.close()
            rounds.append({"round": r, "acknowledged": len(new), "restart_s": round(restart_s, 3),
                           "visible_after_restart_s": round(visible_s, 3)})
            checked = len(acked)
        final = _final(p, senders)
    assert not senders.other, senders.other
    assert final["lost"] == 0 and final["duplicated"] == 0, final
    assert final["acknowledged"] >= ROUNDS * PER_ROUND
    figures = {"rounds": ROUNDS, **final,
               "max_visible_after_restart_s": max(r["visible_after_restart_s"] for r in rounds),
               "max_restart_s": max(r["restart_s"] for r in rounds), "per_round": rounds}
    (tmp_path / "durability.json").write_text(json.dumps(figures, indent=2))
    print("durability:", json.dumps({k: v for k, v in figures.items() if k != "per_round"}))


def _final(p: PipelineProcess, senders: Senders) -> dict[str, int]:
    """Every acknowledged event of the whole test, reconciled once more after the last restart."""
    senders.stop.set()
    for t in senders.threads:
        t.join(30)
    client = Client(p.url, timeout_s=30)
    acked = list(senders.acked)
    counts = stored_counts(client, acked)
    maybe = stored_counts(client, senders.unacked)
    stats = client.stats()
    client.close()
    return {"acknowledged": len(acked), "lost": sum(1 for c in acked if counts[c] == 0),
            "duplicated": sum(1 for c in acked if counts[c] > 1), "unacknowledged": len(senders.unacked),
            "unacknowledged_but_stored": sum(1 for c in senders.unacked if maybe[c]),
            "stored_events": stats["events"], "visible_events": stats["visible"]}
