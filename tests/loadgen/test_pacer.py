from collections import Counter

import pytest

from loadgen.pacer import Pacer
from loadgen.schedule import RateSchedule


def drain(p, now):
    """All slots due by `now` if the caller is always exactly on time."""
    out = []
    while True:
        slot, dropped = p.next_slot(now)
        assert dropped is None
        if slot is None:
            return out
        out.append(slot)


def test_not_started_gives_nothing():
    p = Pacer(RateSchedule.constant(100, 1), batch_size=1)
    assert p.next_slot(0.0) == (None, None)


def test_open_model_send_times():
    p = Pacer(RateSchedule.constant(1000, 2), batch_size=1)
    p.start(100.0)
    slots = drain(p, 100.0)
    assert len(slots) == 2000
    assert slots[0].intended_s == 100.0
    assert slots[1].intended_s == pytest.approx(100.001)
    assert slots[-1].intended_s == pytest.approx(101.999)
    assert p.finished()


def test_batches_divide_the_request_rate_and_keep_the_event_count():
    p = Pacer(RateSchedule.constant(1050, 1), batch_size=100)
    p.start(0.0)
    slots = drain(p, 0.0)
    assert len(slots) == 11
    assert sum(s.events for s in slots) == 1050
    assert slots[-1].events == 50
    assert slots[1].intended_s == pytest.approx(100 / 1050)


def test_steps_are_tagged():
    p = Pacer(RateSchedule.steps([(10, 1), (20, 1)]), batch_size=1)
    p.start(0.0)
    slots = drain(p, 0.0)
    assert [s.step for s in slots].count(0) == 10
    assert [s.step for s in slots].count(1) == 20


def test_shares_interleave_and_add_up():
    sched = RateSchedule.steps([(900, 3), (1100, 2)])
    shares = []
    for k in range(3):
        p = Pacer(sched, batch_size=1)
        p.start(0.0, index=k, count=3)
        shares.append(drain(p, 0.0))
    seqs = sorted(s.seq for share in shares for s in share)
    assert seqs == list(range(900 * 3 + 1100 * 2))
    assert all(abs(len(sh) - len(shares[0])) <= 1 for sh in shares)


def test_reshard_mid_run_keeps_the_union_exact():
    sched = RateSchedule.constant(100, 10)
    a, b = Pacer(sched, batch_size=1), Pacer(sched, batch_size=1)
    a.start(0.0, index=0, count=1)
    first = [a.next_slot(0.0)[0] for _ in range(10)]  # seq 0..9 alone
    b.start(0.0, index=1, count=2, from_s=0.1)  # joins where a is: seq 11, 13, ...
    a.reshard(0, 2)  # a continues at 10, 12, ...
    rest = drain(a, 0.0) + drain(b, 0.0)
    seqs = sorted(s.seq for s in first + rest)
    assert seqs == list(range(1000))


def test_late_slots_are_dropped_and_counted_not_burst():
    p = Pacer(RateSchedule.constant(1000, 10), batch_size=1, max_behind_s=0.5)
    p.start(0.0)
    slot, dropped = p.next_slot(3.0)  # a stall of 3 s
    assert slot is not None and slot.intended_s >= 2.5 - 1e-9
    assert slot.intended_s == pytest.approx(2.5)
    assert dropped is not None and dropped.events == 2500 == p.dropped_events
    slot2, dropped2 = p.next_slot(3.0)
    assert dropped2 is None and slot2.seq == slot.seq + 1


def test_drop_respects_share():
    p = Pacer(RateSchedule.constant(1000, 10), batch_size=1, max_behind_s=0.5)
    p.start(0.0, index=1, count=2)
    slot, dropped = p.next_slot(3.0)
    assert slot.seq % 2 == 1
    assert dropped.requests == 1250


def test_hold_until_drops_the_retry_after_window():
    p = Pacer(RateSchedule.constant(100, 10), batch_size=1)
    p.start(0.0)
    p.next_slot(0.0)
    p.hold_until(2.0)
    slot, dropped = p.next_slot(0.02)
    assert slot.intended_s == pytest.approx(2.0)
    assert dropped.events == 199


def test_drop_beyond_end_finishes():
    p = Pacer(RateSchedule.constant(100, 1), batch_size=10)
    p.start(0.0)
    slot, dropped = p.next_slot(50.0)
    assert slot is None and dropped.events == 100 and p.finished()


def test_bad_arguments():
    with pytest.raises(ValueError):
        Pacer(RateSchedule.constant(1, 1), batch_size=0)
    p = Pacer(RateSchedule.constant(1, 1), batch_size=1)
    with pytest.raises(ValueError):
        p.start(0.0, index=2, count=2)


def test_send_times_round_up_to_the_tick_and_never_precede_the_slot():
    p = Pacer(RateSchedule.constant(3000, 1), batch_size=1, tick_s=0.01)
    p.start(50.0)
    slots = drain(p, 50.0)
    assert len(slots) == 3000
    for s in slots:
        assert s.intended_s <= s.send_s < s.intended_s + 0.01 + 1e-9
        on_grid = round((s.send_s - 50.0) / 0.01, 6).is_integer()
        assert on_grid or s.intended_s > 50.99  # the last tick would be the step's end (next test)
    per_tick = Counter(round(s.send_s, 6) for s in slots)
    assert per_tick[50.0] == 1 and per_tick[50.01] == 30 and per_tick[50.99] == 30  # (t0 + (k-1) tick, t0 + k tick]
    exact = Pacer(RateSchedule.constant(3000, 1), batch_size=1)
    exact.start(50.0)
    assert all(s.send_s == s.intended_s for s in drain(exact, 50.0))
    with pytest.raises(ValueError):
        Pacer(RateSchedule.constant(1, 1), batch_size=1, tick_s=-0.1)


def test_the_tick_never_carries_a_request_into_the_next_step():
    sched = RateSchedule.steps([(995, 1), (2000, 1)])
    p = Pacer(sched, batch_size=1, tick_s=0.01)
    p.start(0.0)
    for s in drain(p, 0.0):
        start, end = sched.step_bounds(s.step)
        assert start <= s.intended_s <= s.send_s < end
