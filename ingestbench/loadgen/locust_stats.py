"""Locust's request statistics, recorded in bulk: the web UI, CSV files and summary without a per-request event.

Locust's own clients fire a ``request`` event per request, whose listener logs it twice (its name's entry and
the total), each with a wall-clock read and several dict updates. The generator instead appends
``(response time ms, length, second)`` to a list and :meth:`BulkStats.flush` merges a batch into the same
:class:`locust.stats.StatsEntry` fields that ``StatsEntry.log`` would have updated, in the same order per
second (so the response-time cache behind "current" percentiles is identical; a test compares the two).
Failures are rare and go through ``RequestStats.log_error`` as they happen.

Listeners of Locust's ``request`` event do not see these requests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from locust.stats import RequestStats, bucket_response_time

FLUSH_INTERVAL_S = 0.25


class BulkStats:
    """Pending requests per name, merged into ``stats`` by :meth:`flush` (at most every ``FLUSH_INTERVAL_S``
    from :meth:`maybe_flush`, and at the end of a run)."""

    def __init__(self, stats: RequestStats, *, method: str = "POST", clock: Any = time.monotonic):
        self.stats = stats
        self.method = method
        self.clock = clock
        self._pending: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
        self._next_flush_s = 0.0

    def add(self, name: str, response_time_ms: float, length: int, unix_s: int) -> None:
        """One finished request (success or failure) that ended in wall-clock second ``unix_s``."""
        self._pending[name].append((response_time_ms, length, unix_s))

    def error(self, name: str, error: str) -> None:
        self.stats.log_error(self.method, name, error)

    def maybe_flush(self, now_s: float) -> None:
        if now_s >= self._next_flush_s:
            self._next_flush_s = now_s + FLUSH_INTERVAL_S
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(list)
        for name, items in pending.items():
            log_many(self.stats.get(name, self.method), items)
            log_many(self.stats.total, items)


def log_many(entry: Any, items: list[tuple[float, int, int]]) -> None:
    """What ``entry.log(rt, length)`` does for each ``(rt, length, second)``, one second at a time.

    ``entry`` is a :class:`StatsEntry`; typed ``Any`` because Locust annotates response times as ``int``
    while its own clients record float milliseconds, as this does."""
    by_second: dict[int, list[tuple[float, int, int]]] = defaultdict(list)
    for item in items:
        by_second[item[2]].append(item)
    for second in sorted(by_second):
        batch = by_second[second]
        last = entry.last_request_timestamp
        if entry.use_response_times_cache and last and second > int(last):
            entry._cache_response_times(second - 1)
        n = len(batch)
        entry.num_requests += n
        entry.num_reqs_per_sec[second] += n
        if last is None or second >= last:
            entry.last_request_timestamp = float(second)
        times = entry.response_times
        total = 0.0
        for rt, length, _ in batch:
            total += rt
            times[bucket_response_time(rt)] += 1
            entry.total_content_length += length
        entry.total_response_time += total
        low = min(rt for rt, _, _ in batch)
        high = max(rt for rt, _, _ in batch)
        entry.min_response_time = low if entry.min_response_time is None else min(entry.min_response_time, low)
        entry.max_response_time = max(entry.max_response_time, high)
