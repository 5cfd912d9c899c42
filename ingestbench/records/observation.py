"""What became of one canary: the unit every other part of ``checks`` passes around.

Times are kept as the probe measured them: ``*_ns`` on one monotonic clock (TTA is a difference of two
of them), plus ``sent_unix_ms`` on the wall clock so that the observation can be placed on a rate
timeline and compared with a target's own timestamps. Failures are data: an ingest that failed is an
``errored`` observation, a canary never seen is ``lost``.

TTA is reported with its bounds. The canary became visible after the last poll that missed it started
and before the first poll that found it answered, so ``tta_low_s < true TTA <= tta_high_s``::

    sent ──── miss ──── miss ──── found
                        ^last_miss_ns   ^seen_ns

``tta_s`` estimates the TTA without bias. The reader jitters the start of every poll, so polls fall at a
random phase relative to the moment a canary becomes visible (a target that flushes on a timer of its own
cannot lock in phase with them), and the moment lies uniformly within the gap between the poll start before
it and the first answer after it: the midpoint of that gap is unbiased. Usually that gap is the bounds. When
the first poll that looked the canary up found it, the poll before it started before the send
(``prior_poll_ns``): the midpoint of *that* gap is the unbiased one, and it can fall below the send for a
canary visible almost at once (a negative ``tta_s``, within half a poll interval), where clipping to the
bounds would bias every fast canary upwards. ``tta_high_s`` is the conservative bound: what a reader polling
at that interval experienced. Both bounds are recorded; the truth lies between them.

An observation holds facts only. Which tier it counts for, and whether it fell in a warm-up or transition
window, is decided once, by the judge (:mod:`ingestbench.checks.judge`), from the complete rate timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from ingestbench.records.fields import known

AVAILABLE = "available"
LOST = "lost"
ERRORED = "errored"
LATE = "late"
UNDECIDED = "undecided"  # only when the probe was stopped before it could decide: the run is invalid
OUTCOMES = (AVAILABLE, LOST, ERRORED, LATE, UNDECIDED)

ANALYTICAL = "analytical"
TRANSACTIONAL = "transactional"
PATHS = (ANALYTICAL, TRANSACTIONAL)

_NS_PER_S = 1_000_000_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """What became of one canary, as the probe measured it."""

    canary_id: str
    path: str
    outcome: str
    sent_ns: int
    sent_unix_ms: int
    acked_ns: int | None = None
    seen_ns: int | None = None
    last_miss_ns: int | None = None
    prior_poll_ns: int | None = None
    duplicates: int = 0
    error: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.path not in PATHS:
            raise ValueError(f"unknown path {self.path!r}")
        if self.outcome in (AVAILABLE, LATE) and self.seen_ns is None:
            raise ValueError(f"{self.outcome} observation needs seen_ns")

    @property
    def tta_high_s(self) -> float | None:
        """Upper bound of the TTA: when the first poll that found it answered, minus send."""
        if self.seen_ns is None:
            return None
        return (self.seen_ns - self.sent_ns) / _NS_PER_S

    @property
    def tta_low_s(self) -> float | None:
        """Lower bound: the start of the last poll that missed it (0 when the first poll found it)."""
        if self.outcome in (ERRORED, UNDECIDED):
            return None
        if self.last_miss_ns is None:
            return 0.0
        return max(0.0, (self.last_miss_ns - self.sent_ns) / _NS_PER_S)

    @property
    def tta_s(self) -> float | None:
        """The TTA for verdicts (midpoint of the bounds); only ``available`` canaries have one (late ones
        exceeded the loss horizon and are judged as beyond it)."""
        high, low = self.tta_high_s, self.tta_low_s
        if self.outcome != AVAILABLE or high is None or low is None:
            return None
        if self.last_miss_ns is None and self.prior_poll_ns is not None:
            # found by the first poll that looked: the gap around it began with the poll before (see above)
            return ((self.prior_poll_ns - self.sent_ns) / _NS_PER_S + high) / 2
        return (low + high) / 2

    @property
    def resolution_s(self) -> float | None:
        high, low = self.tta_high_s, self.tta_low_s
        return None if high is None or low is None else high - low

    @property
    def acked_unix_ms(self) -> int | None:
        if self.acked_ns is None:
            return None
        return self.sent_unix_ms + round((self.acked_ns - self.sent_ns) / 1_000_000)

    @property
    def ack_s(self) -> float | None:
        return None if self.acked_ns is None else (self.acked_ns - self.sent_ns) / _NS_PER_S

    def to_record(self) -> dict[str, Any]:
        """The ``samples.jsonl`` line: the facts, in field order (the file's public contract). The seconds
        derived from them (``tta_s`` and its bounds) are in ``judged.jsonl``, next to the tier they count for."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Observation:
        """Inverse of :meth:`to_record`; derived keys are recomputed, unknown keys (such as the tiers that
        older results stored with each sample) ignored."""
        return cls(**known(cls, record))


def load_samples(path: str | Path) -> list[Observation]:
    """Read ``samples.jsonl`` back; a malformed line (e.g. torn by a crash) is skipped with a warning."""
    out: list[Observation] = []
    if not Path(path).exists():
        return out
    with Path(path).open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(Observation.from_record(orjson.loads(line)))
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                log.warning("%s:%d: skipped unreadable sample (%s)", path, number, exc)
    return out
