"""The shares of a schedule's requests among generator processes, and how they change over time.

With ``count`` generator processes, process ``index`` owns the requests with ``j % count == index``. A share
history ``[(from_seq, index, count), ...]`` says which rule holds from which request on (``index``
:data:`NONE`: none of the requests).

When generators join or leave, the split changes at a *switch request*: requests
before it keep the old split, requests from it on take the new one. A pacer holds its own view of that
history as ``shares``, ``[(from_seq, index, count), ...]`` (``index`` :data:`NONE`: none of the requests from
there on; a joiner's history starts with it), and every generator gets the same switch request from the
master (:func:`request_at` of a time a little ahead, so that the change reaches everybody before it takes
effect; :meth:`Pacer.set_shares`). If a change arrives late, requests the generator now owns that are
already behind its position are handed out first (*backfill*: late, so they are sent with their lag or
dropped and counted, never lost), and a slot a user holds that a change gave to another generator is not
sent (:meth:`Pacer.claim`). A user that is stopped while holding a slot gives it back (:meth:`Pacer.give_back`),
so when Locust moves users between generators their slots are sent by another user instead of vanishing.

>>> shares = switched([(0, 0, 1)], 10, 1, 2)  # alone, then the second of two from request 10
>>> [j for j in range(8, 16) if owns(shares, j)]
[8, 9, 11, 13, 15]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

from ingestbench.loadgen.schedule import RateSchedule

NONE = -1  # a share index: none of the requests

Share = tuple[int, int, int]  # (from_seq, index, count): requests from from_seq on with j % count == index


def request_at(schedule: RateSchedule, batch_size: int, offset_s: float) -> int:
    """The first request due at or after ``offset_s`` into the schedule: where a change of shares that should
    take effect at that time switches."""
    if offset_s <= 0:
        return 0
    return math.ceil(schedule.events_until(offset_s) / batch_size - 1e-9)


def normalized_shares(shares: Iterable[Sequence[int]]) -> list[Share]:
    """``shares`` checked (first from request 0, increasing, a valid share each) with ``NONE`` written one way."""
    out: list[Share] = []
    for raw in shares:
        from_seq, index, count = (int(x) for x in raw)
        if index == NONE:
            count = 1
        elif count < 1 or not 0 <= index < count:
            raise ValueError(f"bad share: index {index} of {count}")
        if out and from_seq <= out[-1][0]:
            raise ValueError(f"shares must start at increasing requests, got {from_seq} after {out[-1][0]}")
        if not out and from_seq != 0:
            raise ValueError("the first share must start at request 0")
        out.append((from_seq, index, count))
    if not out:
        raise ValueError("no shares")
    return out


def switched(shares: Sequence[Share], from_seq: int, index: int, count: int) -> list[Share]:
    """``shares`` with ``(index, count)`` from request ``from_seq`` on (later switches replaced)."""
    return normalized_shares([*(s for s in shares if s[0] < from_seq), (max(0, from_seq), index, count)])


def params_at(shares: Sequence[Share], seq: int) -> tuple[int, int]:
    k = bisect.bisect_right(shares, (seq, math.inf, math.inf)) - 1
    return shares[k][1], shares[k][2]


def owns(shares: Sequence[Share], seq: int) -> bool:
    index, count = params_at(shares, seq)
    return index != NONE and seq % count == index


def first_difference(old: Sequence[Share], new: Sequence[Share]) -> int | None:
    """The first request whose owner rule differs between two histories (None: the same)."""
    for b in sorted({s[0] for s in old} | {s[0] for s in new}):
        if params_at(old, b) != params_at(new, b):
            return b
    return None


def first_at_or_after(seq: int, index: int, count: int) -> int:
    """Smallest ``j >= seq`` with ``j % count == index``."""
    return seq + (index - seq) % count


def next_owned(shares: Sequence[Share], seq: int, total: int) -> int:
    """The first request at or after ``seq`` that ``shares`` give this generator (``total`` if none)."""
    froms = [s[0] for s in shares]
    k = bisect.bisect_right(froms, seq) - 1
    while k < len(froms):
        end = froms[k + 1] if k + 1 < len(froms) else total
        _, index, count = shares[k]
        if index != NONE:
            j = first_at_or_after(max(seq, froms[k]), index, count)
            if j < end:
                return min(j, total)
        k += 1
    return total


def owned_ranges(shares: Sequence[Share], a: int, b: int) -> list[range]:
    """The requests in ``[a, b)`` that ``shares`` give this generator, as one arithmetic range per share."""
    out = []
    for k, (start, index, count) in enumerate(shares):
        end = shares[k + 1][0] if k + 1 < len(shares) else max(b, start)
        lo, hi = max(a, start), min(b, end)
        if index != NONE and lo < hi:
            out.append(range(first_at_or_after(lo, index, count), hi, count))
    return out
