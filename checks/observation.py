"""What became of one canary: the unit every other part of ``checks`` passes around.

Times are kept as the probe measured them: ``*_ns`` on one monotonic clock (TTA is a difference of two
of them), plus ``sent_unix_ms`` on the wall clock so that the observation can be placed on a rate
timeline and compared with a target's own timestamps. Failures are data: an ingest that failed is an
``errored`` observation, a canary never seen is ``lost``.

TTA is reported with its bounds. The canary became visible after the last poll that missed it started
and before the first poll that found it answered, so ``tta_low_s < true TTA <= tta_high_s``::

    sent ──── miss ──── miss ──── found
                        ^last_miss_ns   ^seen_ns

``tta_s`` is the midpoint of the bounds. Polls fall at a random phase relative to the moment a canary
becomes visible, so the true value is spread evenly over the interval and the midpoint is the unbiased,
smallest-worst-case-error estimate (error within +-resolution/2). ``tta_high_s`` is the conservative
bound: what a reader polling at that interval experienced. Both bounds are recorded with every sample.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

AVAILABLE = "available"
LOST = "lost"
ERRORED = "errored"
LATE = "late"
OUTCOMES = (AVAILABLE, LOST, ERRORED, LATE)

ANALYTICAL = "analytical"
TRANSACTIONAL = "transactional"
PATHS = (ANALYTICAL, TRANSACTIONAL)

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Observation:
    """One decided canary. ``tier``/``rate_eps``/``warmup`` are filled in by tiering after the decision."""

    canary_id: str
    path: str
    outcome: str
    sent_ns: int
    sent_unix_ms: int
    acked_ns: int | None = None
    seen_ns: int | None = None
    last_miss_ns: int | None = None
    duplicates: int = 0
    error: str | None = None
    tier: str | None = None
    rate_eps: float | None = None
    warmup: bool = False

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
        if self.outcome == ERRORED:
            return None
        if self.last_miss_ns is None:
            return 0.0
        return max(0.0, (self.last_miss_ns - self.sent_ns) / _NS_PER_S)

    @property
    def tta_s(self) -> float | None:
        """The TTA for verdicts (midpoint of the bounds); only ``available`` canaries have one (late ones
        exceeded ``lost_after`` and are judged as beyond it)."""
        high, low = self.tta_high_s, self.tta_low_s
        if self.outcome != AVAILABLE or high is None or low is None:
            return None
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
        """The ``samples.jsonl`` line: all fields plus the derived seconds (the file's public contract)."""
        record: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        record.update(
            tta_s=self.tta_s,
            tta_low_s=self.tta_low_s,
            tta_high_s=self.tta_high_s,
            resolution_s=self.resolution_s,
            acked_unix_ms=self.acked_unix_ms,
            ack_s=self.ack_s,
        )
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Observation:
        """Inverse of :meth:`to_record`; derived keys are recomputed, unknown keys ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})
