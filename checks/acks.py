"""Writer-only targets: canaries are sent and acknowledged, never looked up.

With no reader there is no time to availability to measure, only whether and how fast the target accepted
each canary. :class:`AckLedger` takes the writer's reports in place of a
:class:`~checks.comparator.Comparator` and keeps the acknowledgement latencies; nothing becomes an
observation (an observation without a look-up would pass for a loss)::

    ledger = AckLedger()
    ledger.sent("c1", sent_ns=0, sent_unix_ms=1_700_000_000_000)
    ledger.acked("c1", acked_ns=4_000_000)
    ledger.summary().p50_s  # 0.004
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.quantiles import quantile
from records.observation import Observation

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class AckSummary:
    """Canaries acknowledged and refused, and the acknowledgement latency (nearest-rank, seconds)."""

    acked: int
    errored: int
    p50_s: float | None
    p95_s: float | None


class AckLedger:
    """Sent canaries until answered; then only the answer's latency or the failure is kept."""

    def __init__(self) -> None:
        self._sent_ns: dict[str, int] = {}
        self._ack_s: list[float] = []
        self.errored = 0

    @property
    def pending_count(self) -> int:
        """Canaries whose ingest has not been answered yet."""
        return len(self._sent_ns)

    def sent(self, canary_id: str, *, sent_ns: int, sent_unix_ms: int) -> None:
        self._sent_ns[canary_id] = sent_ns

    def acked(self, canary_id: str, *, acked_ns: int) -> None:
        sent_ns = self._sent_ns.pop(canary_id, None)
        if sent_ns is not None:
            self._ack_s.append((acked_ns - sent_ns) / _NS_PER_S)

    def failed(self, canary_id: str, *, error: str) -> Observation | None:
        """Counted, not recorded: with no look-up, an error rate over acknowledgements alone would mislead."""
        if self._sent_ns.pop(canary_id, None) is not None:
            self.errored += 1
        return None

    def summary(self) -> AckSummary:
        values = np.sort(np.array(self._ack_s, dtype=float))
        return AckSummary(len(self._ack_s), self.errored, quantile(values, 50), quantile(values, 95))
