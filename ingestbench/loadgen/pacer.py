"""Pacer: turns a RateSchedule into intended send times (open model) for this process's share.

Request ``j`` carries events ``[j * batch_size, (j + 1) * batch_size)`` and is due when its first event is
due: ``t0 + schedule.time_of_event(j * batch_size)``. Which requests are this process's, also while
generators join and leave, is :mod:`ingestbench.loadgen.shares`.

Users ask for the next slot, sleep until it is due, and report when they actually started; the difference is
the **schedule lag**. Users do not wake at each slot's own instant: they send at ``send_s``, the slot's time
rounded *up* to the next ``tick_s`` boundary after ``t0``, so all the requests due in one tick go out
together after a single wake-up: each wake-up of the generator costs CPU (measured in ``benchmarks/README.md``).
The lag histogram includes the rounding, so it is paid for honestly (about half a tick at p50).

A request more than ``max_behind_s`` late is not sent at all (it is *dropped* and counted): catching up in a
burst would put one step's traffic into the next. While a target asks to back off (429 with Retry-After),
:meth:`Pacer.hold_until` drops the slots falling in that window.

The pacer does no I/O and never sleeps; times are seconds on whatever monotonic clock the caller uses:

>>> p = Pacer(RateSchedule.constant(1000, 10), batch_size=10, tick_s=0.01)
>>> p.start(t0_s=100.0)
>>> p.next_slot(100.0)
(Slot(seq=0, intended_s=100.0, events=10, step=0, send_s=100.0), None)
>>> p.next_slot(100.0)[0].intended_s  # the next request, 10 events later at 1,000 events/s
100.01
>>> p.next_slot(102.5)  # 2.5 s later: requests more than max_behind_s (1 s) late are dropped, and counted
(Slot(seq=150, intended_s=101.5, events=10, step=0, send_s=101.5), Dropped(requests=148, events=1480))
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ingestbench.loadgen.schedule import RateSchedule
from ingestbench.loadgen.shares import (
    NONE,
    Share,
    first_difference,
    next_owned,
    normalized_shares,
    owned_ranges,
    owns,
    request_at,
    switched,
)

STEP_EDGE_S = 0.002


class Slot(NamedTuple):
    """One request to send: its sequence number, when it is due, how many events, which step, and when to
    send it (``intended_s`` rounded up to the pacer's tick).

    A NamedTuple rather than a frozen dataclass: one is built per request and this is 5x cheaper.
    """

    seq: int
    intended_s: float
    events: int
    step: int
    send_s: float


class Dropped(NamedTuple):
    """Requests skipped by one :meth:`Pacer.next_slot` call because they were too late to send."""

    requests: int
    events: int


class Pacer:
    """Hands out due send times for one process's share of a schedule; see the module docstring."""

    def __init__(self, schedule: RateSchedule, *, batch_size: int, max_behind_s: float = 1.0,
                 tick_s: float = 0.0):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not max_behind_s > 0:
            raise ValueError("max_behind_s must be > 0")
        if not tick_s >= 0:
            raise ValueError("tick_s must be >= 0")
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_behind_s = max_behind_s
        self.tick_s = tick_s
        self._step_ends = [schedule.step_bounds(i)[1] for i in range(len(schedule.segments))]
        self.total_events = math.floor(schedule.total_events + 1e-9)
        self.total_requests = math.ceil(self.total_events / batch_size)
        self.t0_s: float | None = None
        self.shares: list[Share] = [(0, 0, 1)]
        self._froms: list[int] = [0]
        self.index = 0
        self.count = 1
        self._next_seq = 0  # every request of ours before it has been handed out (or dropped)
        self._extra: list[int] = []  # heap: given back or backfilled requests, handed out before _next_seq
        self._extra_set: set[int] = set()
        self._out: set[int] = set()  # handed out to a user and not yet claimed (sent) or given back
        self._hold_until_s = -math.inf
        self.dropped_requests = 0
        self.dropped_events = 0

    @property
    def started(self) -> bool:
        return self.t0_s is not None

    def request_at(self, offset_s: float) -> int:
        return request_at(self.schedule, self.batch_size, offset_s)

    def start(self, t0_s: float, *, index: int = 0, count: int = 1, from_s: float | None = None,
              shares: Iterable[Sequence[int]] | None = None) -> None:
        """Begin the schedule at ``t0_s`` as process ``index`` of ``count``, or with the history ``shares``.

        ``from_s`` (a joining worker) skips the requests due before it, which others already sent.
        """
        self.t0_s = t0_s
        self._next_seq = 0
        self._extra, self._extra_set, self._out = [], set(), set()
        if shares is None:
            first = self.request_at(from_s - t0_s) if from_s is not None and from_s > t0_s else 0
            shares = [(0, index, count)] if first == 0 else [(0, NONE, 1), (first, index, count)]
        self._install(normalized_shares(shares))

    def reshard(self, index: int, count: int, *, at_seq: int | None = None,
                now_s: float | None = None) -> Dropped | None:
        """Own requests ``j % count == index`` from request ``at_seq`` on (default: the current position)."""
        if index != NONE and (count < 1 or not 0 <= index < count):
            raise ValueError(f"bad share: index {index} of {count}")
        at = self._next_seq if at_seq is None else at_seq
        return self.set_shares(switched(self.shares, at, index, count), now_s=now_s)

    def set_shares(self, shares: Iterable[Sequence[int]], *, now_s: float | None = None) -> Dropped | None:
        """Take a new history of shares (see the module docstring). Requests now ours that are already behind
        the position are backfilled; those more than ``max_behind_s`` late at ``now_s`` are dropped and
        returned (for the meter)."""
        new = normalized_shares(shares)
        old = self.shares
        self._install(new)
        lo = first_difference(old, new)
        if self.t0_s is None or lo is None or lo >= self._next_seq:
            return None
        cut = 0 if now_s is None else self.request_at(now_s - self.max_behind_s - self.t0_s)
        requests = events = 0
        for r in owned_ranges(self.shares, lo, min(self._next_seq, self.total_requests)):
            for j in r:
                if owns(old, j) or j in self._out or j in self._extra_set:
                    continue  # handed out (or dropped) already, or still held by a user who now sends it
                if j < cut:
                    requests += 1
                    events += self._events_in(j)
                else:
                    heapq.heappush(self._extra, j)
                    self._extra_set.add(j)
        return self._count_dropped(requests, events)

    def owns(self, seq: int) -> bool:
        if len(self._froms) == 1:
            return self.index != NONE and seq % self.count == self.index
        return owns(self.shares, seq)

    def claim(self, seq: int) -> bool:
        """A user is about to send ``seq``: False if a change of shares gave it to another generator since."""
        self._out.discard(seq)
        return self.owns(seq)

    def give_back(self, seq: int) -> None:
        """A user stopped before sending ``seq``: hand it out again (first)."""
        self._out.discard(seq)
        if self.owns(seq) and seq not in self._extra_set:
            heapq.heappush(self._extra, seq)
            self._extra_set.add(seq)

    def abandon(self) -> Dropped | None:
        """Stop for good (a leaving generator): requests handed out and not sent, or given back, count as
        dropped."""
        pending = {j for j in self._out | self._extra_set if self.owns(j)}
        self._out.clear()
        self._extra.clear()
        self._extra_set.clear()
        return self._count_dropped(len(pending), sum(self._events_in(j) for j in pending))

    def idle(self) -> bool:
        """Nothing of ours is left to send: all handed out, and every slot of ours sent or given back."""
        return not any(self.owns(j) for j in self._out) and self.finished()

    def hold_until(self, t_s: float) -> None:
        """Send nothing due before ``t_s`` (a target's Retry-After); those slots are dropped."""
        self._hold_until_s = max(self._hold_until_s, t_s)

    def finished(self) -> bool:
        """Nothing more to hand out."""
        return (self.started and not any(self.owns(j) for j in self._extra)
                and self._next_owned(self._next_seq) >= self.total_requests)

    def next_slot(self, now_s: float) -> tuple[Slot | None, Dropped | None]:
        """The next request to send (None when not started or done) and what was dropped to get there."""
        if self.t0_s is None:
            return None, None
        t0 = self.t0_s
        floor_s = now_s - self.max_behind_s
        if self._hold_until_s > floor_s:
            floor_s = self._hold_until_s
        dropped = None
        if self._extra:
            slot, dropped = self._next_extra(floor_s)
            if slot is not None:
                return slot, dropped
        seq = self._next_owned(self._next_seq)
        if seq >= self.total_requests:
            self._next_seq = self.total_requests
            return None, dropped
        found = self.schedule.locate_event(seq * self.batch_size)
        assert found is not None
        if t0 + found[0] >= floor_s:  # the common case: on time
            self._next_seq = seq + 1
            self._out.add(seq)
            return self._slot(seq, found), dropped
        n = self.schedule.events_until(floor_s - t0)
        late = self._next_owned(max(seq, math.ceil(n / self.batch_size - 1e-9)))
        if late < self.total_requests and self._due(late) < floor_s:  # rounding at the edge
            late = self._next_owned(late + 1)
        requests = sum(len(r) for r in owned_ranges(self.shares, seq, min(late, self.total_requests)))
        events = requests * self.batch_size
        last = self.total_requests - 1
        if requests and late > last >= seq and self.owns(last):
            events -= self.batch_size - self._events_in(last)
        dropped = _merged(dropped, self._count_dropped(requests, events))
        if late >= self.total_requests:
            self._next_seq = self.total_requests
            return None, dropped
        self._next_seq = late + 1
        self._out.add(late)
        found = self.schedule.locate_event(late * self.batch_size)
        assert found is not None
        return self._slot(late, found), dropped

    # --- internals ------------------------------------------------------------------------------
    def _install(self, shares: list[Share]) -> None:
        self.shares = shares
        self._froms = [s[0] for s in shares]
        self.index, self.count = shares[-1][1], shares[-1][2]

    def _next_owned(self, seq: int) -> int:
        """The first request of ours at or after ``seq`` (``total_requests`` if none)."""
        if len(self._froms) == 1:  # the common case, once per request: no history to walk
            if self.index == NONE:
                return self.total_requests
            return min(seq + (self.index - seq) % self.count, self.total_requests)
        return next_owned(self.shares, seq, self.total_requests)

    def _next_extra(self, floor_s: float) -> tuple[Slot | None, Dropped | None]:
        assert self.t0_s is not None
        requests = events = 0
        while self._extra:
            seq = heapq.heappop(self._extra)
            self._extra_set.discard(seq)
            if not self.owns(seq) or seq in self._out:
                continue  # a later change gave it to another generator
            found = self.schedule.locate_event(seq * self.batch_size)
            assert found is not None
            if self.t0_s + found[0] >= floor_s:
                self._out.add(seq)
                return self._slot(seq, found), self._count_dropped(requests, events)
            requests += 1
            events += self._events_in(seq)
        return None, self._count_dropped(requests, events)

    def _count_dropped(self, requests: int, events: int) -> Dropped | None:
        if not requests:
            return None
        self.dropped_requests += requests
        self.dropped_events += events
        return Dropped(requests, events)

    def _slot(self, seq: int, found: tuple[float, int]) -> Slot:
        """The slot of request ``seq``, due ``found[0]`` after t0 in step ``found[1]``.

        Rounding up to the tick never carries a request out of its step: one due in a step's last tick is
        sent ``STEP_EDGE_S`` before the step ends, so every step's requests start (and are counted) in it.
        """
        assert self.t0_s is not None
        offset, step, tick = found[0], found[1], self.tick_s
        send = offset
        if tick:
            send = max(offset, min(math.ceil(offset / tick - 1e-9) * tick, self._step_ends[step] - STEP_EDGE_S))
        return Slot(seq, self.t0_s + offset, self._events_in(seq), step, self.t0_s + send)

    def _due(self, seq: int) -> float:
        t = self.schedule.time_of_event(seq * self.batch_size)
        assert self.t0_s is not None and t is not None
        return self.t0_s + t

    def _events_in(self, seq: int) -> int:
        """Events in request ``seq``: ``batch_size``, fewer in the schedule's last request."""
        return max(0, min(self.batch_size, self.total_events - seq * self.batch_size))


def _merged(a: Dropped | None, b: Dropped | None) -> Dropped | None:
    if a is None or b is None:
        return a or b
    return Dropped(a.requests + b.requests, a.events + b.events)
