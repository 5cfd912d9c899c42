"""Writer-only targets: canaries are sent and acknowledged, never looked up.

With no reader there is no time to availability to measure, only whether and how fast the target accepted
each canary. :class:`AckLedger` takes the writer's reports in place of a
:class:`~ingestbench.checks.comparator.Comparator` and keeps the acknowledgement latencies; nothing becomes an
observation (an observation without a look-up would pass for a loss). The latencies go into a histogram of
fixed size (3 significant digits, 1 µs to an hour), so a writer-only probe's memory does not grow with its run::

    ledger = AckLedger()
    ledger.sent("c1", sent_ns=0, sent_unix_ms=1_700_000_000_000)
    ledger.acked("c1", acked_ns=4_000_000)
    ledger.summary().p50_s  # 0.004, to 3 significant digits
"""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from ingestbench.records.observation import Observation

_NS_PER_US = 1_000
_MAX_US = 3_600_000_000


@dataclass(frozen=True)
class AckSummary:
    """Canaries acknowledged and refused, and the acknowledgement latency (seconds, to 3 significant digits)."""

    acked: int
    errored: int
    p50_s: float | None
    p95_s: float | None


class AckLedger:
    """Sent canaries until answered; then only the answer's latency or the failure is kept."""

    def __init__(self) -> None:
        self._sent_ns: dict[str, int] = {}
        self._ack_us = HdrHistogram(1, _MAX_US, 3)
        self.acked_count = 0
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
            self._ack_us.record_value(min(_MAX_US, max(1, (acked_ns - sent_ns) // _NS_PER_US)))
            self.acked_count += 1

    def failed(self, canary_id: str, *, error: str) -> Observation | None:
        """Counted, not recorded: with no look-up, an error rate over acknowledgements alone would mislead."""
        if self._sent_ns.pop(canary_id, None) is not None:
            self.errored += 1
        return None

    def summary(self) -> AckSummary:
        if not self.acked_count:
            return AckSummary(0, self.errored, None, None)
        p50, p95 = (self._ack_us.get_value_at_percentile(q) / 1e6 for q in (50, 95))
        return AckSummary(self.acked_count, self.errored, p50, p95)
