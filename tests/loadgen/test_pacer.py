from collections import Counter

import pytest

from ingestbench.loadgen.pacer import Pacer
from ingestbench.loadgen.schedule import RateSchedule
from ingestbench.loadgen.shares import NONE, normalized_shares, request_at, switched


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


def _take(p, now, n):
    """``n`` slots handed out at ``now`` (users holding them until they are due)."""
    return [p.next_slot(now)[0] for _ in range(n)]


def _send(p, slots):
    """The seqs of ``slots`` that their pacer still owns when they are due (the users' claim)."""
    return [s.seq for s in slots if s is not None and p.claim(s.seq)]


def test_a_join_at_a_switch_request_keeps_every_request_once_even_with_slots_held_past_it():
    sched = RateSchedule.constant(100, 10)
    a, b = Pacer(sched, batch_size=1), Pacer(sched, batch_size=1)
    a.start(0.0)
    sent = _send(a, _take(a, 0.0, 50))
    held = _take(a, 0.0, 30)  # seq 50..79 handed out, not yet due
    at = request_at(sched, 1, 0.6)  # the switch: request 60
    assert at == 60
    a.set_shares([(0, 0, 1), (at, 0, 2)])
    b.start(0.0, shares=[(0, NONE, 1), (at, 1, 2)])
    sent += _send(a, held)  # a's users do not send 61, 63, ...: b owns them now
    sent += _send(a, drain(a, 0.0)) + _send(b, drain(b, 0.0))
    assert sorted(sent) == list(range(1000))


def test_a_switch_that_arrives_late_backfills_what_is_now_ours():
    sched = RateSchedule.constant(100, 10)
    a, b = Pacer(sched, batch_size=1), Pacer(sched, batch_size=1)
    a.start(0.0, index=0, count=2)
    b.start(0.0, index=1, count=2)
    sent = _send(a, _take(a, 0.0, 40))  # a is at request 80
    sent += _send(b, _take(b, 0.0, 25))  # b sent up to 49 and leaves from request 50 on
    b.reshard(NONE, 1, at_seq=50)
    assert b.idle() and b.finished()
    a.set_shares([(0, 0, 2), (50, 0, 1)], now_s=0.79)  # late: 51, 53, ..., 79 are a's now, behind it
    backfill = _take(a, 0.79, 15)
    assert [s.seq for s in backfill] == list(range(51, 80, 2))  # first, before a goes on from 80
    sent += _send(a, backfill) + _send(a, drain(a, 0.79))
    assert sorted(sent) == list(range(1000))


def test_a_late_switch_drops_and_counts_what_is_too_late_to_send():
    sched = RateSchedule.constant(100, 10)
    a = Pacer(sched, batch_size=1, max_behind_s=0.5)
    a.start(0.0, index=0, count=2)
    _send(a, _take(a, 0.0, 200))  # a is at request 400
    dropped = a.set_shares([(0, 0, 2), (100, 0, 1)], now_s=4.0)  # requests due before 3.5 s are too late
    assert dropped == (125, 125)  # 101, 103, ..., 349
    assert a.next_slot(4.0)[0].seq == 351


def test_a_slot_given_back_is_handed_out_again_first():
    p = Pacer(RateSchedule.constant(100, 10), batch_size=1)
    p.start(0.0)
    first, second = _take(p, 0.0, 2)
    p.give_back(first.seq)
    assert not p.idle()
    again = p.next_slot(0.0)[0]
    assert again.seq == first.seq and p.claim(again.seq) and p.claim(second.seq)
    assert p.next_slot(0.0)[0].seq == 2


def test_a_leaving_pacer_counts_what_it_could_not_send():
    p = Pacer(RateSchedule.constant(100, 10), batch_size=1)
    p.start(0.0)
    held = _take(p, 0.0, 10)
    p.reshard(NONE, 1, at_seq=5)
    assert _send(p, held[:3]) == [0, 1, 2] and not p.idle()
    assert p.abandon() == (2, 2)  # 3 and 4; 5.. belong to others
    assert p.idle()


def test_shares_are_checked():
    with pytest.raises(ValueError):
        normalized_shares([(1, 0, 1)])
    with pytest.raises(ValueError):
        normalized_shares([(0, 0, 1), (0, 0, 2)])
    with pytest.raises(ValueError):
        normalized_shares([(0, 3, 2)])
    assert switched([(0, 0, 1), (50, 0, 2)], 20, NONE, 7) == [(0, 0, 1), (20, NONE, 1)]
