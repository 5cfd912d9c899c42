"""Bulk-recorded Locust statistics equal what Locust's own per-request logging would have recorded."""

import os
from unittest import mock

import pytest

# Importing locust monkey-patches the whole process (sockets, threads) unless told not to: the asyncio tests
# that share this pytest process must keep the real ones. Only its stats classes are used here.
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    from locust.stats import RequestStats

    from ingestbench.loadgen.locust_stats import BulkStats
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]


def _fields(entry):
    return {k: getattr(entry, k) for k in (
        "num_requests", "num_failures", "total_response_time", "min_response_time", "max_response_time",
        "total_content_length")} | {"per_sec": dict(entry.num_reqs_per_sec), "times": dict(entry.response_times),
                                    "cache": {k: dict(v.response_times) for k, v in entry.response_times_cache.items()},
                                    "last": int(entry.last_request_timestamp)}


def test_bulk_equals_per_request_logging():
    requests = [(1000 + i // 7, 0.4 + (i * 37 % 101) / 3.0, 0 if i % 3 else 11) for i in range(60)]
    with mock.patch("locust.stats.time.time", return_value=999.5):  # entries start with a snapshot of "now"
        ref, bulk_stats = RequestStats(use_response_times_cache=True), RequestStats(use_response_times_cache=True)
        ref.get("ingest", "POST"), bulk_stats.get("ingest", "POST")
    for second, rt, length in requests:
        with mock.patch("locust.stats.time.time", return_value=second + 0.5):
            ref.log_request("POST", "ingest", rt, length)
    ref.log_error("POST", "ingest", "server_error: HTTP 500")

    bulk = BulkStats(bulk_stats)
    for n, (second, rt, length) in enumerate(requests):
        bulk.add("ingest", rt, length, second)
        if n % 13 == 0:
            bulk.flush()  # flushes fall anywhere, also inside a second
    bulk.error("ingest", "server_error: HTTP 500")
    bulk.flush()
    for a, b in ((ref.total, bulk_stats.total), (ref.get("ingest", "POST"), bulk_stats.get("ingest", "POST"))):
        fa, fb = _fields(a), _fields(b)
        assert fa["total_response_time"] == pytest.approx(fb.pop("total_response_time"))
        fa.pop("total_response_time")
        assert fa == fb
    assert list(ref.errors) == list(bulk_stats.errors)


def test_maybe_flush_is_rate_limited():
    stats = RequestStats()
    bulk = BulkStats(stats)
    bulk.add("ingest", 1.0, 0, 5)
    bulk.maybe_flush(10.0)
    bulk.add("ingest", 1.0, 0, 5)
    bulk.maybe_flush(10.1)
    assert stats.total.num_requests == 1
    bulk.maybe_flush(10.3)
    assert stats.total.num_requests == 2
