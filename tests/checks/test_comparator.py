"""Comparator rules with made-up nanoseconds: no clock, no network."""

from __future__ import annotations

import pytest

from ingestbench.checks.comparator import Comparator
from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, LOST

S = 1_000_000_000
T0_MS = 1_700_000_000_000


def make(lost_after_s: float = 10.0, late_watch_s: float | None = None) -> Comparator:
    return Comparator(path="analytical", lost_after_s=lost_after_s, late_watch_s=late_watch_s)


def test_available_has_bounds_from_last_miss_and_first_find() -> None:
    c = make()
    c.sent("a", sent_ns=1 * S, sent_unix_ms=T0_MS)
    c.acked("a", acked_ns=1 * S + 5_000_000)
    assert c.polled(["a"], started_ns=int(1.25 * S), ended_ns=int(1.26 * S), found=[]) == []
    assert c.polled(["a"], started_ns=int(1.50 * S), ended_ns=int(1.51 * S), found=[]) == []
    [obs] = c.polled(["a"], started_ns=int(1.75 * S), ended_ns=int(1.76 * S), found=["a"])
    assert obs.outcome == AVAILABLE
    assert obs.tta_s == pytest.approx(0.63)  # midpoint of (0.50, 0.76]
    assert obs.tta_high_s == pytest.approx(0.76)
    assert obs.tta_low_s == pytest.approx(0.50)
    assert obs.resolution_s == pytest.approx(0.26)
    assert obs.ack_s == pytest.approx(0.005)
    assert obs.acked_unix_ms == T0_MS + 5
    assert obs.duplicates == 0
    assert c.pending_count == 0
    assert c.query_ids() == []


def test_found_on_first_poll_has_zero_lower_bound() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    [obs] = c.polled(["a"], started_ns=100, ended_ns=300, found=["a"])
    assert obs.tta_low_s == 0.0
    assert obs.tta_high_s == pytest.approx(300e-9)
    assert obs.tta_s == pytest.approx(150e-9)


def test_duplicates_are_rows_beyond_the_first() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    c.sent("b", sent_ns=1, sent_unix_ms=T0_MS)
    decided = c.polled(["a", "b"], started_ns=10, ended_ns=20, found=["a", "b", "a", "a"])
    by_id = {o.canary_id: o for o in decided}
    assert by_id["a"].duplicates == 2
    assert by_id["b"].duplicates == 0


def test_errored_is_not_looked_for_and_not_lost() -> None:
    c = make(lost_after_s=1.0)
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    obs = c.failed("a", error="server_error: HTTP 503")
    assert obs is not None and obs.outcome == ERRORED
    assert obs.error == "server_error: HTTP 503"
    assert obs.tta_s is None and obs.tta_low_s is None
    assert c.query_ids() == []
    assert c.expire(100 * S) == []
    assert c.failed("a", error="again") is None


def test_lost_after_deadline_then_late_is_a_separate_record() -> None:
    c = make(lost_after_s=2.0, late_watch_s=5.0)
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    c.acked("a", acked_ns=10)
    c.polled(["a"], started_ns=1 * S, ended_ns=1 * S + 10, found=[])
    assert c.expire(int(1.9 * S)) == []
    [lost] = c.expire(2 * S)
    assert lost.outcome == LOST and lost.tta_s is None
    assert lost.tta_low_s == pytest.approx(1.0)
    assert c.pending_count == 0
    assert c.query_ids() == ["a"]  # still watched for a late appearance
    c.polled(["a"], started_ns=3 * S, ended_ns=3 * S + 10, found=[])
    [late] = c.polled(["a"], started_ns=4 * S, ended_ns=4 * S + 10, found=["a"])
    assert late.outcome == LATE
    assert late.canary_id == "a"
    assert late.tta_s is None  # late canaries exceeded the loss limit: no TTA for verdicts
    assert late.tta_high_s == pytest.approx(4.0, abs=1e-6)
    assert late.tta_low_s == pytest.approx(3.0)
    assert c.query_ids() == []


def test_an_ingest_still_in_flight_is_not_lost_but_errored_when_it_fails() -> None:
    """A request slower than the loss horizon that then times out: the target never took the canary."""
    c = make(lost_after_s=1.0)
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    assert c.expire(3 * S) == [] and c.pending_count == 1
    obs = c.failed("a", error="TimeoutError")
    assert obs is not None and obs.outcome == ERRORED
    c.sent("b", sent_ns=0, sent_unix_ms=T0_MS)
    c.acked("b", acked_ns=2 * S)  # acknowledged after its horizon: lost at the next expiry, like any other
    [lost] = c.expire(2 * S)
    assert lost.outcome == LOST and lost.canary_id == "b"


def test_lost_canaries_stop_being_watched_after_the_watch_window() -> None:
    c = make(lost_after_s=1.0, late_watch_s=2.0)
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    c.acked("a", acked_ns=10)
    assert len(c.expire(1 * S)) == 1
    assert c.query_ids() == ["a"]
    c.expire(3 * S)
    assert c.query_ids() == []


def test_failed_poll_is_not_a_miss() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    c.polled(["a"], started_ns=1 * S, ended_ns=1 * S, found=[])
    # a poll at 2 s failed: the caller reports nothing, so the lower bound stays at 1 s
    [obs] = c.polled(["a"], started_ns=3 * S, ended_ns=3 * S, found=["a"])
    assert obs.tta_low_s == pytest.approx(1.0)
    assert obs.resolution_s == pytest.approx(2.0)


def test_poll_started_before_send_is_not_a_miss() -> None:
    c = make()
    c.sent("a", sent_ns=5 * S, sent_unix_ms=T0_MS)
    c.polled(["a"], started_ns=4 * S, ended_ns=6 * S, found=[])
    [obs] = c.polled(["a"], started_ns=7 * S, ended_ns=7 * S, found=["a"])
    assert obs.tta_low_s == 0.0
    assert obs.last_miss_ns is None  # recorded as it is in samples.jsonl: no poll missed it


def test_ack_after_decision_is_ignored_and_unknown_rows_are_ignored() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    [obs] = c.polled(["a"], started_ns=1, ended_ns=2, found=["a", "zzz"])
    c.acked("a", acked_ns=5)
    assert obs.acked_ns is None


def test_send_twice_and_bad_arguments_raise() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    with pytest.raises(ValueError):
        c.sent("a", sent_ns=1, sent_unix_ms=T0_MS)
    with pytest.raises(ValueError):
        Comparator(path="olap", lost_after_s=1)
    with pytest.raises(ValueError):
        Comparator(path="analytical", lost_after_s=0)


def test_undecided_records_what_was_still_pending() -> None:
    c = make()
    c.sent("a", sent_ns=0, sent_unix_ms=T0_MS)
    [obs] = c.undecided()
    assert (obs.canary_id, obs.outcome, obs.tta_s, obs.tta_low_s) == ("a", "undecided", None, None)
    assert c.query_ids() == [] and c.expire(10**15) == [] and c.undecided() == []


def test_stationary_polls_remember_the_poll_before_the_first_look_up() -> None:
    """Found by the first poll that looked: the estimate is the middle of the gap since the poll before
    (which started before the send), not of the truncated bounds, so a canary visible at once is not
    biased upwards."""
    c = Comparator(path="analytical", lost_after_s=10, stationary_polls=True)
    c.polled([], started_ns=100, ended_ns=110, found=[])
    c.sent("a", sent_ns=150, sent_unix_ms=T0_MS)
    [obs] = c.polled(["a"], started_ns=300, ended_ns=310, found=["a"])
    assert obs.prior_poll_ns == 100 and obs.last_miss_ns is None
    assert (obs.tta_low_s, obs.tta_high_s) == (0.0, 160e-9)  # the bounds still hold the truth
    assert obs.tta_s == pytest.approx((100 - 150 + 310 - 150) / 2 * 1e-9)
    c.sent("b", sent_ns=320, sent_unix_ms=T0_MS)
    c.polled(["b"], started_ns=400, ended_ns=410, found=[])
    [late_found] = c.polled(["b"], started_ns=500, ended_ns=510, found=["b"])
    assert late_found.tta_s == pytest.approx((400 - 320 + 510 - 320) / 2 * 1e-9)  # a miss: the bounds' middle
    tx = make()  # reads triggered by the write: no stationary gap, the bounds' middle
    tx.polled([], started_ns=100, ended_ns=110, found=[])
    tx.sent("c", sent_ns=150, sent_unix_ms=T0_MS)
    [o] = tx.polled(["c"], started_ns=300, ended_ns=310, found=["c"])
    assert o.prior_poll_ns is None and o.tta_s == pytest.approx(80e-9)
