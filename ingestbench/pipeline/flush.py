"""The size-or-time micro-batch rule, as pure functions.

Buffered (acknowledged, not yet visible) events are flushed when they number ``flush_rows`` **or** the
oldest of them has waited ``flush_max_wait_s``, whichever comes first. More traffic therefore means faster
visibility: the knee the harness is built to show.

>>> policy = FlushPolicy(flush_rows=3000, flush_max_wait_s=30.0)
>>> policy.reason(buffered=3000, oldest_received_s=100.0, now_s=101.0)
'size'
>>> policy.reason(buffered=10, oldest_received_s=100.0, now_s=130.0)
'time'
>>> policy.reason(buffered=10, oldest_received_s=100.0, now_s=101.0) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlushPolicy:
    flush_rows: int
    flush_max_wait_s: float

    def __post_init__(self) -> None:
        if self.flush_rows < 1:
            raise ValueError("flush_rows must be >= 1")
        if self.flush_max_wait_s <= 0:
            raise ValueError("flush_max_wait_s must be > 0")

    def reason(self, *, buffered: int, oldest_received_s: float | None, now_s: float) -> str | None:
        """``'size'``, ``'time'`` or None (keep buffering)."""
        if buffered <= 0:
            return None
        if buffered >= self.flush_rows:
            return "size"
        if oldest_received_s is not None and now_s - oldest_received_s >= self.flush_max_wait_s:
            return "time"
        return None

    def deadline_s(self, oldest_received_s: float | None) -> float | None:
        """When the time rule fires for the current buffer (None when the buffer is empty)."""
        return None if oldest_received_s is None else oldest_received_s + self.flush_max_wait_s
