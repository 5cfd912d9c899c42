"""Group commit and the flush timer, between the HTTP handlers and the store.

Handlers call :meth:`Ingestor.submit_events` / :meth:`submit_profile` and await the returned future; a
single committer task takes everything submitted since its last commit, writes it in one SQLite
transaction on the writer thread, fsyncs once, and only then resolves the futures (the 204). While one
group commits, the next one gathers, so the fsync cost is shared by however many requests are in flight.

The same task applies the flush rule (:class:`ingestbench.pipeline.flush.FlushPolicy`): a size flush joins the
transaction that crossed ``flush_rows``; a time flush fires when the oldest buffered event's deadline
passes. On start, acknowledged events that were never flushed (a crash) are picked up from the store and
flushed as promised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ingestbench.pipeline.flush import FlushPolicy
from ingestbench.pipeline.metrics import PipelineMetrics
from ingestbench.pipeline.store import Store
from ingestbench.pipeline.validation import Accepted

log = logging.getLogger(__name__)


@dataclass
class _Job:
    future: asyncio.Future[None]
    received_at_ms: float
    accepted: Accepted | None = None
    raw: bytes = b""
    profile: tuple[str, dict[str, Any]] | None = None


@dataclass
class _Buffer:
    """Acknowledged, not yet visible: ``(received_at_ms, count)`` in arrival order."""

    groups: deque[tuple[float, int]] = field(default_factory=deque)
    count: int = 0

    def add(self, received_at_ms: float, n: int) -> None:
        self.groups.append((received_at_ms, n))
        self.count += n

    @property
    def oldest_ms(self) -> float | None:
        return self.groups[0][0] if self.groups else None

    def take(self) -> list[tuple[float, int]]:
        taken = list(self.groups)
        self.groups.clear()
        self.count = 0
        return taken


class Ingestor:
    """Owns the writer thread, the buffer accounting and the committer task."""

    def __init__(self, store: Store, policy: FlushPolicy, metrics: PipelineMetrics,
                 *, clock_ms: Callable[[], float] = lambda: time.time() * 1000.0):
        self._store = store
        self._policy = policy
        self._metrics = metrics
        self._clock_ms = clock_ms
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-writer")
        self._pending: list[_Job] = []
        self._wake = asyncio.Event()
        self._buffer = _Buffer()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        backlog = await loop.run_in_executor(self._writer, self._store.backlog)
        for received_ms, n in backlog.groups:
            self._buffer.add(received_ms, n)
        self._metrics.buffered.set(self._buffer.count)
        if self._buffer.count:
            log.info("recovered %d acknowledged events that were not yet visible; they will be flushed",
                     self._buffer.count)
        self._task = asyncio.create_task(self._run(), name="pipeline-committer")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._writer.shutdown(wait=True)

    def submit_events(self, accepted: Accepted, raw: bytes, received_at_ms: float) -> asyncio.Future[None]:
        return self._submit(_Job(asyncio.get_running_loop().create_future(), received_at_ms, accepted, raw))

    def submit_profile(self, user_id: str, doc: dict[str, Any]) -> asyncio.Future[None]:
        job = _Job(asyncio.get_running_loop().create_future(), self._clock_ms(), profile=(user_id, doc))
        return self._submit(job)

    def _submit(self, job: _Job) -> asyncio.Future[None]:
        if self._closing:
            job.future.set_exception(RuntimeError("pipeline is shutting down"))
            return job.future
        self._pending.append(job)
        self._wake.set()
        return job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._sleep_until_work()
            jobs, self._pending = self._pending, []
            self._wake.clear()
            try:
                flushed = await self._commit(loop, jobs)
            except Exception as exc:  # the store failed: nothing of this group is acknowledged
                log.error("commit failed, %d requests answered 503: %s", len(jobs), exc)
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(None)
            self._account(jobs, flushed)

    async def _sleep_until_work(self) -> None:
        oldest_ms = self._buffer.oldest_ms
        deadline_s = self._policy.deadline_s(None if oldest_ms is None else oldest_ms / 1000.0)
        timeout = None if deadline_s is None else max(0.0, deadline_s - self._clock_ms() / 1000.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _commit(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> tuple[str, float] | None:
        """Write a group and maybe a flush, then commit (WAL write + fsync) on the writer thread.

        The inserts are cheap CPU work and run right here; only the COMMIT, which blocks on the disk with the
        GIL released, goes to the thread. One hand-off per group keeps the two threads from fighting over
        the GIL once per statement. Returns the flush ``(reason, visible_at_ms)`` or None, where
        ``visible_at_ms`` is when the commit that made its rows visible returned.
        """
        store = self._store
        if not jobs and self._policy.reason(
            buffered=self._buffer.count,
            oldest_received_s=None if self._buffer.oldest_ms is None else self._buffer.oldest_ms / 1000.0,
            now_s=self._clock_ms() / 1000.0,
        ) is None:
            return None
        started = time.perf_counter()
        store.begin()
        try:
            new = 0
            for job in jobs:
                if job.profile is not None:
                    store.upsert_profile(job.profile[0], job.profile[1], job.received_at_ms)
                elif job.accepted is not None:
                    new += store.insert_events(job.received_at_ms, job.accepted, job.raw)
            flush = self._decide_flush(jobs, new)
            if flush is not None:
                reason, at_ms = flush
                store.record_flush(store.last_id(), at_ms, reason, self._buffer.count + new)
            committed_ms = await loop.run_in_executor(self._writer, self._commit_now)
        except BaseException:
            store.rollback()
            raise
        elapsed = time.perf_counter() - started
        self._metrics.commit_duration.observe(elapsed)
        if flush is None:
            return None
        self._metrics.flush_duration.observe(elapsed)
        store.note_visible(store.last_id(), committed_ms)  # the ground truth: rows are visible from now on
        return flush[0], committed_ms

    def _commit_now(self) -> float:
        """On the writer thread: COMMIT, then the time from which readers see the transaction."""
        self._store.commit()
        return self._clock_ms()

    def _decide_flush(self, jobs: list[_Job], new: int) -> tuple[str, float] | None:
        oldest = self._buffer.oldest_ms
        if oldest is None:
            oldest = min((j.received_at_ms for j in jobs if j.accepted is not None), default=None)
        now_ms = self._clock_ms()
        reason = self._policy.reason(
            buffered=self._buffer.count + new,
            oldest_received_s=None if oldest is None else oldest / 1000.0,
            now_s=now_ms / 1000.0,
        )
        return None if reason is None else (reason, now_ms)

    def _account(self, jobs: list[_Job], flushed: tuple[str, float] | None) -> None:
        m = self._metrics
        for job in jobs:
            if job.profile is not None:
                m.profiles_written.inc()
            elif job.accepted is not None:
                self._buffer.add(job.received_at_ms, job.accepted.n_events)
                m.events_received.inc(job.accepted.n_events)
        if flushed is not None:
            reason, at_ms = flushed
            groups = self._buffer.take()
            m.flushes.labels(reason).inc()
            m.events_visible.inc(sum(n for _, n in groups))
            m.visibility_delay.observe_many(((at_ms - r) / 1000.0, n) for r, n in groups)
        m.buffered.set(self._buffer.count)
