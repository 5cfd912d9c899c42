"""kill -9 right after 204s: every acknowledged event is found after a restart, and is flushed later."""

import threading
import time
import uuid

import pytest

from tests.http import Client
from tests.servers import start_pipeline

pytestmark = pytest.mark.server
WAIT_S = 1.5


def test_acknowledged_events_survive_kill_9_and_are_flushed(tmp_path):
    with start_pipeline(tmp_path, flush_rows=1_000_000, flush_max_wait_s=WAIT_S) as p:
        acked: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[str] = []

        def sender() -> None:
            c = Client(p.url, timeout_s=5)
            while not stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(50)]
                batch = [{"name": "purchase_completed", "userId": "u", "timestamp": int(time.time() * 1000),
                          "properties": {"canary_id": cid, "amount": 12.5}} for cid in ids]
                try:
                    status, _ = c.post_json("/event/ingest/batch", {"events": batch})
                except OSError:
                    return  # the server died under us: in-flight requests were not acknowledged
                if status == 204:
                    with lock:
                        acked.extend(ids)
                else:
                    errors.append(str(status))
                    return

        threads = [threading.Thread(target=sender) for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 3000 and time.monotonic() < deadline:
            time.sleep(0.005)
        p.kill9()  # right after 204s, with requests still in flight
        with lock:
            acked_at_kill = list(acked)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        assert not errors, errors
        assert len(acked_at_kill) >= 3000

        p.restart()
        c = Client(p.url)
        found: dict[str, dict] = {}
        for i in range(0, len(acked_at_kill), 5000):
            _, truth = c.post_json("/internal/visibility", {"canary_ids": acked_at_kill[i:i + 5000]})
            for row in truth["rows"]:
                found[row["canary_id"]] = row
        missing = [cid for cid in acked_at_kill if cid not in found]
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:3]}"
        stored = c.stats()["events"]
        assert stored >= len(acked_at_kill)

        # flushed later as promised: the time rule picks the backlog up after the restart
        deadline = time.monotonic() + WAIT_S + 5
        visible = 0
        while time.monotonic() < deadline:
            _, doc = c.post_json("/query", {"canary_ids": acked_at_kill[:5000]})
            visible = len(doc["rows"])
            if visible == min(5000, len(acked_at_kill)):
                break
            time.sleep(0.1)
        assert visible == min(5000, len(acked_at_kill))
        assert c.stats()["visible"] == stored
        c.close()
