"""The Locust user that sends paced ingest requests (FastHttp client, sans-IO target builders).

Each iteration takes the next due slot from the process's :class:`~loadgen.pacer.Pacer`, builds the request
from pre-encoded events (:mod:`loadgen.encoded`, stamped with the send time) *before* the slot is due, sleeps
until its send tick, sends, and meters the schedule lag (actual start - intended start), the outcome by kind
and the latency. A 429 with ``Retry-After`` holds the pacer.
"""

from __future__ import annotations

import socket
from typing import Any

import gevent
from locust import FastHttpUser, constant, task

from loadgen.worker import WorkerSide

IDLE_SLEEP_S = 0.05


def _error_kind(error: Any) -> str:
    """``timeout`` or ``connection_error``. geventhttpclient wraps the socket's error in ``RetriesExceeded``
    (even with no retries) and keeps it as ``original``: a read timeout would otherwise count as a
    connection error."""
    original = getattr(error, "original", None)
    if isinstance(error, socket.timeout | TimeoutError | gevent.Timeout) or isinstance(
            original, socket.timeout | TimeoutError | gevent.Timeout):
        return "timeout"
    return "connection_error"


class IngestUser(FastHttpUser):
    """Sends this process's share of the schedule; the pool size comes from the shape (Little's law)."""

    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0
    max_retries = 0

    def on_start(self) -> None:
        self.side: WorkerSide = self.environment.ingestbench_worker

    @task
    def send(self) -> None:
        side = self.side
        pacer, meter, encoded, target = side.pacer, side.meter, side.events, side.target
        if pacer is None or meter is None or encoded is None or target is None:
            gevent.sleep(IDLE_SLEEP_S)
            return
        clock = side.clock
        now = clock()
        slot, dropped = pacer.next_slot(now)
        if dropped is not None:
            meter.record_dropped(now, events=dropped.events)
        if slot is None:
            gevent.sleep(IDLE_SLEEP_S * 4 if pacer.finished() else IDLE_SLEEP_S)
            return
        req = target.ingest_encoded(encoded.batch(slot.events, now_ms=side.unix_ms(slot.send_s)))
        delay = slot.send_s - clock()
        if delay > 0:
            gevent.sleep(delay)
        start = clock()
        meter.record_start(start, step=slot.step, events=slot.events, lag_s=start - slot.intended_s)
        name = "ingest" if slot.events == 1 else "ingest_batch"
        body: Any = req.body  # bytes are sent as-is; Locust's annotation only lists str | dict
        with self.client.request(req.method, req.path, data=body, headers=dict(req.headers),
                                 catch_response=True, name=name) as resp:
            end = clock()
            status = resp.status_code or 0
            if status == 0:
                kind = _error_kind(resp.error)
                resp.failure(f"{kind}: {resp.error!r}")
            else:
                result = target.parse_ingest(status, resp.headers or {}, resp.content or b"")
                kind = result.kind
                if result.ok:
                    resp.success()
                else:
                    resp.failure(f"{kind}: HTTP {status} {result.error or ''}".strip())
                if result.retry_after_s:
                    pacer.hold_until(end + result.retry_after_s)
        meter.record_result(end, events=slot.events, kind=kind, latency_s=end - start)
