"""Each generator process's own account of a run, kept by the master beside the merged timeline: what it sent
and had acknowledged, its CPU, and whether it was lost (vanished without handing its share over: killed, its
machine gone, its network cut). A lost generator makes the run invalid, by name: its share of the schedule
went unsent from the moment it vanished until the others took it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestbench.records.timeline import GeneratorRow


@dataclass
class _Tally:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    dropped: int = 0
    seconds: int = 0
    cpu_sum: float = 0.0
    cpu_n: int = 0
    cpu_peak: float | None = None
    lost_at_s: float | None = None


class GeneratorTally:
    """Per-generator totals from the same bins the timeline merges."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Tally] = {}
        self._seen: dict[str, set[int]] = {}

    def add(self, worker_id: str, bins: list[dict[str, Any]]) -> None:
        t = self._by_id.setdefault(worker_id, _Tally())
        seen = self._seen.setdefault(worker_id, set())
        for b in bins:
            t.sent += int(b["sent"])
            t.ok += int(b["ok"])
            t.failed += sum(int(n) for n in b["failed"].values())
            t.dropped += int(b["dropped"])
            sec = int(b["sec"])
            if sec >= 0 and sec not in seen:
                seen.add(sec)
                t.seconds += 1
            cpu = b.get("cpu")
            if cpu is not None:
                t.cpu_sum += float(cpu)
                t.cpu_n += 1
                t.cpu_peak = max(t.cpu_peak or 0.0, float(cpu))

    def lost(self, worker_id: str, at_s: float) -> None:
        """``worker_id`` vanished without a word at schedule offset ``at_s`` (the first time counts)."""
        t = self._by_id.setdefault(worker_id, _Tally())
        if t.lost_at_s is None:
            t.lost_at_s = round(at_s, 3)

    def lost_ids(self) -> list[str]:
        return sorted(w for w, t in self._by_id.items() if t.lost_at_s is not None)

    def rows(self) -> list[GeneratorRow]:
        return [GeneratorRow(id=w, sent_events=t.sent, ok_events=t.ok, failed_events=t.failed,
                             dropped_events=t.dropped, seconds=t.seconds,
                             achieved_eps=round(t.ok / t.seconds, 3) if t.seconds else 0.0,
                             cpu_mean=round(t.cpu_sum / t.cpu_n, 4) if t.cpu_n else None,
                             cpu_peak=None if t.cpu_peak is None else round(t.cpu_peak, 4), lost_at_s=t.lost_at_s)
                for w, t in sorted(self._by_id.items())]
