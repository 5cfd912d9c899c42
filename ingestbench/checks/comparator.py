"""Turn sends, acks and poll answers into :class:`Observation` s: a pure, clock-free state machine.

The caller reports what happened with the times it measured; the comparator never reads a clock, so
every rule is tested with made-up nanoseconds::

    c = Comparator(path="analytical", lost_after_s=120)
    c.sent("c1", sent_ns=0, sent_unix_ms=1_700_000_000_000)
    c.polled(["c1"], started_ns=100, ended_ns=200, found=[])          # a miss
    [obs] = c.polled(["c1"], started_ns=300, ended_ns=400, found=["c1"])
    (obs.tta_low_s, obs.tta_high_s) == (100e-9, 400e-9)   # tta_s is their midpoint, 250e-9

Rules:
- ``available``: the first poll whose answer contains the canary; ``seen_ns`` is when that answer arrived,
  ``last_miss_ns`` when the last poll that did not contain it was sent, ``prior_poll_ns`` (stationary polls
  only) when the poll before the first one that looked it up was sent.
- ``errored``: the ingest request failed; the canary stops being looked for, and is not counted as lost.
- ``lost``: acknowledged, and not seen ``lost_after_s`` after it was sent (an ingest still in flight waits for
  its answer: a request that fails, timing out included, makes the canary ``errored``, not lost). It is then
  still watched for ``late_watch_s``:
  if it shows up, a second, ``late`` observation for the same ``canary_id`` is emitted (never merged).
- ``undecided``: still pending when the probe had to stop (:meth:`Comparator.undecided`); only an
  interrupted run has these.
- ``duplicates``: rows beyond the first for the same canary in the answer that found it.
- A failed poll is neither a miss nor a find: it only widens the bounds of the next decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, LOST, PATHS, UNDECIDED, Observation

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class _Pending:
    canary_id: str
    sent_ns: int
    sent_unix_ms: int
    acked_ns: int | None = None
    last_miss_ns: int | None = None
    prior_poll_ns: int | None = None
    looked_up: bool = False


class Comparator:
    """Pending canaries of one path and the decisions about them."""

    def __init__(self, *, path: str, lost_after_s: float, late_watch_s: float | None = None,
                 stationary_polls: bool = False):
        """``stationary_polls``: polls run on their own clock, whatever the sends do (the analytical reader),
        so the poll before a canary's first look-up bounds the gap its visibility fell in."""
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        if lost_after_s <= 0:
            raise ValueError("lost_after_s must be > 0")
        self.path = path
        self._lost_after_ns = int(lost_after_s * _NS_PER_S)
        watch_s = lost_after_s if late_watch_s is None else late_watch_s
        self._late_watch_ns = int(watch_s * _NS_PER_S)
        self._pending: dict[str, _Pending] = {}
        self._stationary = stationary_polls
        self._prev_started_ns: int | None = None  # start of the previous successful poll
        self._lost: dict[str, Observation] = {}  # declared lost, still watched for a late appearance

    # --- what the writer reports ------------------------------------------------------------
    def sent(self, canary_id: str, *, sent_ns: int, sent_unix_ms: int) -> None:
        """The canary's ingest request is about to go out: from now on it is looked for."""
        if canary_id in self._pending or canary_id in self._lost:
            raise ValueError(f"canary {canary_id!r} sent twice")
        self._pending[canary_id] = _Pending(canary_id, sent_ns, sent_unix_ms)

    def acked(self, canary_id: str, *, acked_ns: int) -> None:
        """The target acknowledged the ingest (ignored when the canary was already decided)."""
        item = self._pending.get(canary_id)
        if item is not None:
            self._pending[canary_id] = replace(item, acked_ns=acked_ns)

    def failed(self, canary_id: str, *, error: str) -> Observation | None:
        """The ingest request failed: an ``errored`` observation (None if already decided)."""
        item = self._pending.pop(canary_id, None)
        if item is None:
            return None
        return self._decide(item, ERRORED, None, 0, error=error)

    # --- what the reader reports ------------------------------------------------------------
    def query_ids(self) -> list[str]:
        """Everything one poll must look up: pending canaries plus lost ones still watched for."""
        return [*self._pending, *self._lost]

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def polled(
        self, ids: Sequence[str], *, started_ns: int, ended_ns: int, found: Iterable[str]
    ) -> list[Observation]:
        """A successful poll that looked up ``ids`` and returned one entry per row in ``found``."""
        counts = Counter(found)
        decided: list[Observation] = []
        for cid in ids:
            n = counts.get(cid, 0)
            item = self._pending.get(cid)
            if item is not None and not item.looked_up:
                prior = self._prev_started_ns if self._stationary else None
                item = self._pending[cid] = replace(item, looked_up=True, prior_poll_ns=prior)
            if item is not None:
                if n == 0:
                    if started_ns >= item.sent_ns:
                        self._pending[cid] = replace(item, last_miss_ns=started_ns)
                    continue
                del self._pending[cid]
                decided.append(self._decide(item, AVAILABLE, ended_ns, n - 1))
                continue
            lost = self._lost.get(cid)
            if lost is not None and n > 0:
                del self._lost[cid]
                decided.append(replace(lost, outcome=LATE, seen_ns=ended_ns, duplicates=n - 1))
            elif lost is not None and started_ns >= lost.sent_ns:
                self._lost[cid] = replace(lost, last_miss_ns=started_ns)
        self._prev_started_ns = started_ns
        return decided

    def expire(self, now_ns: int) -> list[Observation]:
        """Declare ``lost`` every acknowledged canary older than ``lost_after_s``; stop watching old lost ones.

        A canary whose ingest is still in flight (neither acknowledged nor failed) is not lost yet: the target
        never took it, so it ends ``errored`` if the request fails (a timeout too), and is judged on its TTA
        (``late`` past the horizon) if it is acknowledged after all. The writer's request timeout bounds the wait.
        """
        decided = []
        for cid, item in list(self._pending.items()):
            if item.acked_ns is not None and now_ns - item.sent_ns >= self._lost_after_ns:
                del self._pending[cid]
                obs = self._decide(item, LOST, None, 0)
                self._lost[cid] = obs
                decided.append(obs)
        horizon = self._lost_after_ns + self._late_watch_ns
        for cid, obs in list(self._lost.items()):
            if now_ns - obs.sent_ns >= horizon:
                del self._lost[cid]
        return decided

    def stop_watching_lost(self) -> None:
        """Forget the lost canaries still watched for a late appearance (no ``late`` record will come)."""
        self._lost.clear()

    def undecided(self) -> list[Observation]:
        """Stop looking (shutdown): every still pending canary as an ``undecided`` observation."""
        out = [self._decide(item, UNDECIDED, None, 0) for item in self._pending.values()]
        self._pending.clear()
        self._lost.clear()
        return out

    def _decide(self, item: _Pending, outcome: str, seen_ns: int | None, duplicates: int,
                error: str | None = None) -> Observation:
        return Observation(
            canary_id=item.canary_id,
            path=self.path,
            outcome=outcome,
            sent_ns=item.sent_ns,
            sent_unix_ms=item.sent_unix_ms,
            acked_ns=item.acked_ns,
            seen_ns=seen_ns,
            last_miss_ns=item.last_miss_ns,
            prior_poll_ns=item.prior_poll_ns,
            duplicates=duplicates,
            error=error,
        )
