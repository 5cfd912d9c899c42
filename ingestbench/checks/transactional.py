"""The transactional path: write a profile carrying a fresh canary id, read it straight back.

Measures the "immediately available" promise for profile state. One canary at a time: write
(``sent_ns`` before the request, ``acked_ns`` on 2xx), then read back at once and, while the read shows an
older canary, again every ``retry_s``; the first read showing this canary decides ``available``. Reads
that fail are not misses. Not seen within ``lost_after_s`` means ``lost``. When asked to stop, the check
under way is finished (it is bounded by ``lost_after_s``); only ``abort`` leaves it undecided.
"""

from __future__ import annotations

import asyncio
import logging
import random

import aiohttp

from ingestbench.checks.analytical import Sink
from ingestbench.checks.canary import CANARY_ID, CANARY_SENT_MS, Uuid7
from ingestbench.checks.clock import Clock, sleep_or_stop
from ingestbench.checks.comparator import Comparator
from ingestbench.checks.http import describe, execute
from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.targets.base import TargetError
from ingestbench.targets.contract import ProfileStore

log = logging.getLogger(__name__)
_NS_PER_S = 1_000_000_000


class TransactionalProbe:
    def __init__(self, *, target: ProfileStore, session: aiohttp.ClientSession, comparator: Comparator,
                 clock: Clock, sink: Sink, metrics: ProbeMetrics | None = None, interval_s: float = 1.0,
                 retry_s: float = 0.05, timeout_s: float = 5.0, user_id: str | None = None,
                 rng: random.Random | None = None):
        self._target, self._session, self._cmp = target, session, comparator
        self._clock, self._sink, self._metrics = clock, sink, metrics
        self.interval_s, self.retry_s, self.timeout_s = interval_s, retry_s, timeout_s
        self._rng = rng or random.Random()
        self.user_id = user_id or f"ingestbench-canary-{self._rng.getrandbits(32):08x}"
        self._ids = Uuid7(seed=self._rng.getrandbits(32))
        self.sent = 0

    async def run(self, stop: asyncio.Event, abort: asyncio.Event | None = None) -> None:
        abort = abort or asyncio.Event()
        while not stop.is_set():
            started_ns = self._clock.monotonic_ns()
            await self.probe_once(abort)
            spent_s = (self._clock.monotonic_ns() - started_ns) / _NS_PER_S
            await sleep_or_stop(stop, self.interval_s - spent_s)

    async def probe_once(self, abort: asyncio.Event) -> None:
        """Write one canary and read until it is decided (or ``abort``: it stays pending, undecided)."""
        sent_unix_ms = self._clock.unix_ms()
        canary_id = self._ids.new(sent_unix_ms)
        req = self._target.write_profile(self.user_id, {CANARY_ID: canary_id, CANARY_SENT_MS: sent_unix_ms})
        sent_ns = self._clock.monotonic_ns()
        self._cmp.sent(canary_id, sent_ns=sent_ns, sent_unix_ms=sent_unix_ms)
        self.sent += 1
        try:
            status, headers, body = await execute(self._session, req, self.timeout_s)
            result = self._target.parse_ingest(status, headers, body)
            error = None if result.ok else f"{result.kind}: HTTP {result.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = describe(exc)
        if error is not None:
            obs = self._cmp.failed(canary_id, error=error)
            if obs is not None:
                self._sink(obs)
            return
        self._cmp.acked(canary_id, acked_ns=self._clock.monotonic_ns())
        while self._cmp.pending_count and not abort.is_set():
            await self._read(canary_id)
            for obs in self._cmp.expire(self._clock.monotonic_ns()):
                self._sink(obs)
            if self._metrics is not None:
                self._metrics.set_pending(self._cmp.path, self._cmp.pending_count)
            if self._cmp.pending_count:
                await sleep_or_stop(abort, self.retry_s)
        self._cmp.stop_watching_lost()  # one canary at a time: a lost one is not read again

    async def _read(self, canary_id: str) -> None:
        started_ns = self._clock.monotonic_ns()
        try:
            status, _, body = await execute(self._session, self._target.read_profile(self.user_id), self.timeout_s)
            profile = self._target.parse_profile(status, body)
        except (aiohttp.ClientError, TimeoutError, OSError, TargetError) as exc:
            log.debug("profile read failed: %s", describe(exc))
            if self._metrics is not None:
                self._metrics.poll(self._cmp.path, (self._clock.monotonic_ns() - started_ns) / _NS_PER_S, False)
            return
        ended_ns = self._clock.monotonic_ns()
        if self._metrics is not None:
            self._metrics.poll(self._cmp.path, (ended_ns - started_ns) / _NS_PER_S, True)
        found = [canary_id] if profile.found and profile.properties.get(CANARY_ID) == canary_id else []
        for obs in self._cmp.polled([canary_id], started_ns=started_ns, ended_ns=ended_ns, found=found):
            self._sink(obs)
