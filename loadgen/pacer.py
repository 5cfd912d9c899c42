"""Pacer: turns a RateSchedule into intended send times (open model) for this process's share.

Request ``j`` carries events ``[j * batch_size, (j + 1) * batch_size)`` and is due when its first event is
due: ``t0 + schedule.time_of_event(j * batch_size)``. With ``count`` generator processes, process ``index``
owns the requests with ``j % count == index``, so the shares interleave and always add up to the whole
schedule; :meth:`Pacer.reshard` changes ``(index, count)`` when a worker joins or leaves.

Users ask for the next slot, sleep until it is due, and report when they actually started; the difference is
the **schedule lag**. Users do not wake at each slot's own instant: they send at ``send_s``, the slot's time
rounded *up* to the next ``tick_s`` boundary after ``t0``, so all the requests due in one tick go out
together after a single wake-up. On the 2-core VM this was measured on, each separate wake-up of the
generator process is expensive: 2,000 paced single events/s cost 433 µs of generator CPU per request with
exact send times and 366 µs with a 10 ms tick (``benchmarks/README.md``). The lag histogram includes the
rounding, so it is paid for honestly (about half a tick at p50).

A request more than ``max_behind_s`` late is not sent at all (it is *dropped* and counted): catching up in a
burst would put one step's traffic into the next. While a target asks to back off (429 with Retry-After),
:meth:`Pacer.hold_until` drops the slots falling in that window.

The pacer does no I/O and never sleeps; times are seconds on whatever monotonic clock the caller uses::

    p = Pacer(RateSchedule.constant(1000, 10), batch_size=10, tick_s=0.01)
    p.start(t0_s=clock())
    slot, dropped = p.next_slot(clock())   # Slot(seq=0, intended_s=t0, events=10, step=0, send_s=t0)
"""

from __future__ import annotations

import math
from typing import NamedTuple

from loadgen.schedule import RateSchedule

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
        self.index = 0
        self.count = 1
        self._next_seq = 0
        self._hold_until_s = -math.inf
        self.dropped_requests = 0
        self.dropped_events = 0

    @property
    def started(self) -> bool:
        return self.t0_s is not None

    def start(self, t0_s: float, *, index: int = 0, count: int = 1, from_s: float | None = None) -> None:
        """Begin the schedule at ``t0_s`` as process ``index`` of ``count``.

        ``from_s`` (a joining worker) skips the requests due before it, which others already sent.
        """
        self.t0_s = t0_s
        self._next_seq = 0
        if from_s is not None and from_s > t0_s:
            self._next_seq = math.ceil(self.schedule.events_until(from_s - t0_s) / self.batch_size - 1e-9)
        self.reshard(index, count)

    def reshard(self, index: int, count: int) -> None:
        """Own requests ``j % count == index`` from the current position on."""
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"bad share: index {index} of {count}")
        self.index, self.count = index, count
        self._next_seq = _first_at_or_after(self._next_seq, index, count)

    def hold_until(self, t_s: float) -> None:
        """Send nothing due before ``t_s`` (a target's Retry-After); those slots are dropped."""
        self._hold_until_s = max(self._hold_until_s, t_s)

    def finished(self) -> bool:
        return self.started and self._next_seq >= self.total_requests

    def next_slot(self, now_s: float) -> tuple[Slot | None, Dropped | None]:
        """The next request to send (None when not started or done) and what was dropped to get there."""
        if self.t0_s is None or self._next_seq >= self.total_requests:
            return None, None
        seq = self._next_seq
        t0 = self.t0_s
        found = self.schedule.locate_event(seq * self.batch_size)
        assert found is not None
        floor_s = now_s - self.max_behind_s
        if self._hold_until_s > floor_s:
            floor_s = self._hold_until_s
        if t0 + found[0] >= floor_s:  # the common case: on time
            self._next_seq = seq + self.count
            return self._slot(seq, found), None
        n = self.schedule.events_until(floor_s - t0)
        seq = _first_at_or_after(max(seq, math.ceil(n / self.batch_size - 1e-9)), self.index, self.count)
        if seq < self.total_requests and self._due(seq) < floor_s:  # rounding at the edge
            seq += self.count
        skipped = range(self._next_seq, min(seq, self.total_requests), self.count)
        events = len(skipped) * self.batch_size
        if skipped and skipped[-1] == self.total_requests - 1:
            events -= self.batch_size - self._events_in(skipped[-1])
        dropped = Dropped(len(skipped), events)
        self.dropped_requests += len(skipped)
        self.dropped_events += events
        if seq >= self.total_requests:
            self._next_seq = seq
            return None, dropped
        self._next_seq = seq + self.count
        found = self.schedule.locate_event(seq * self.batch_size)
        assert found is not None
        return self._slot(seq, found), dropped

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


def _first_at_or_after(seq: int, index: int, count: int) -> int:
    """Smallest ``j >= seq`` with ``j % count == index``."""
    return seq + (index - seq) % count
