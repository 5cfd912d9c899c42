"""The Locust user that sends paced ingest requests (lean keep-alive client, sans-IO target builders).

Each user is one connection. It takes the next due slot from the process's :class:`~ingestbench.loadgen.pacer.Pacer`,
builds the request from pre-encoded events (:mod:`ingestbench.loadgen.encoded`, stamped with the send time) *before* the
slot is due, sleeps until its send tick, sends, and meters the schedule lag (actual start - intended start),
the outcome by kind and the latency. A 429 with ``Retry-After`` holds the pacer.

Why it is built this way (``benchmarks/README.md`` has the numbers): a paced request's generator CPU went
mostly to the general-purpose HTTP client stack and to Locust's per-task and per-request bookkeeping, not to
pacing. So the task runs as one long loop (Locust's task machinery, and its ``sleep(0)`` between tasks, once
per user instead of once per request), requests go through :class:`~ingestbench.loadgen.wire.HttpConnection` (request
head built once, one ``sendall``, framing headers found without parsing the rest), and Locust's statistics
are recorded in bulk (:mod:`ingestbench.loadgen.locust_stats`). Locust still runs the users, the web UI, ``--processes``
and master/worker mode as before.
"""

from __future__ import annotations

import socket
from typing import Any

import gevent
from gevent import GreenletExit
from locust import User, constant, task
from locust.user.task import LOCUST_STATE_STOPPING

from ingestbench.loadgen.locust_stats import BulkStats
from ingestbench.loadgen.wire import HttpConnection
from ingestbench.loadgen.worker import WorkerSide

IDLE_SLEEP_S = 0.05


def _error_kind(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError | gevent.Timeout):
        return "timeout"
    return "connection_error"


class IngestUser(User):
    """Sends this process's share of the schedule; the pool size comes from the shape (Little's law)."""

    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.side: WorkerSide = self.environment.ingestbench_worker
        self.stats: BulkStats = self.environment.ingestbench_stats
        self._conn: HttpConnection | None = None
        self._conn_url = ""

    @property
    def conn(self) -> HttpConnection:
        """The connection to the target the plan names (a worker on another machine learns it from the plan,
        which may arrive after this user started)."""
        url = self.side.host or self.host or "http://127.0.0.1"
        if self._conn is None or self._conn_url != url:
            if self._conn is not None:
                self._conn.close()
            self._conn = HttpConnection(url, connect_timeout_s=self.connection_timeout,
                                        timeout_s=self.network_timeout, tls=self.environment.ingestbench_tls)
            self._conn_url = url
        return self._conn

    def on_stop(self) -> None:
        if self._conn is not None:
            self._conn.close()

    @task
    def send(self) -> None:
        """Send until the user is asked to stop (a graceful stop ends the loop after the request in flight)."""
        while self._state != LOCUST_STATE_STOPPING:
            self.send_one()

    def send_one(self) -> None:
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
            self.stats.maybe_flush(now)
            gevent.sleep(IDLE_SLEEP_S * 4 if pacer.finished() else IDLE_SLEEP_S)
            return
        req = target.ingest_encoded(encoded.batch(slot.events, now_ms=side.unix_ms(slot.send_s)))
        delay = slot.send_s - now
        if delay > 0:
            try:
                gevent.sleep(delay)
            except GreenletExit:  # stopped holding the slot (Locust moved users to another generator, or quits)
                pacer.give_back(slot.seq)
                raise
            start = clock()
        else:
            start = now
        if not pacer.claim(slot.seq):
            return  # while it waited, a change of shares gave the request to another generator
        events = slot.events
        meter.record_start(start, step=slot.step, events=events, lag_s=start - slot.intended_s)
        name = "ingest" if events == 1 else "ingest_batch"
        body: Any = req.body
        error: str | None = None
        try:
            resp = self.conn.request(req.method, req.path, req.headers, body, now_s=start)
        except Exception as exc:  # every failure to get an answer is counted, by kind
            end = clock()
            kind = _error_kind(exc)
            error = f"{kind}: {exc!r}"
            length = 0
        else:
            end = clock()
            status = resp.status
            result = target.parse_ingest(status, resp.headers, resp.body)
            kind = result.kind
            length = len(resp.body)
            if not result.ok:
                error = f"{kind}: HTTP {status} {result.error or ''}".strip()
            if result.retry_after_s:
                pacer.hold_until(end + result.retry_after_s)
        meter.record_result(end, events=events, kind=kind, latency_s=end - start)
        stats = self.stats
        stats.add(name, (end - start) * 1000.0, length, int(side.unix_ms(end) // 1000))
        if error is not None:
            stats.error(name, error)
        stats.maybe_flush(end)
