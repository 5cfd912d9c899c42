"""The probe's clocks, injectable: one monotonic clock for durations, the wall clock for placing events."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int: ...
    def unix_ms(self) -> int: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """``time.monotonic_ns`` for TTA, ``time.time_ns`` for timestamps compared with other processes."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def unix_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``, returning early (True) when ``stop`` is set."""
    if stop.is_set():
        return True
    if seconds <= 0:
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
