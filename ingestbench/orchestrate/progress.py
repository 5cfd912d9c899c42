"""Live progress of a run: current step, target vs achieved events/s, schedule lag, canaries, running
quantiles per tier. Rich when stdout is a terminal, plain lines otherwise (or with ``--no-progress``).

The view only reads the run's files as they grow (and the probe's pending gauge when it has one), and keeps
fixed-size summaries (an HDR histogram of TTAs per tier), however many canaries a run decides. Tiers here are
live: each canary is placed on the rate timeline known so far, once that covers its send time
(the judge places them again at the end, on the complete timeline). After the load, the view shows the
drain: how many canaries are still pending and the most it can take.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hdrh.histogram import HdrHistogram

from ingestbench.checks.tiering import Tiering
from ingestbench.records.jsonl import LineTail
from ingestbench.records.observation import AVAILABLE, Observation
from ingestbench.records.slo import Slo
from ingestbench.records.timeline import TimelineTail


@dataclass
class Snapshot:
    elapsed_s: float = 0.0
    step: int | None = None
    steps_total: int = 0
    target_eps: float | None = None
    achieved_eps: float | None = None
    lag_p99_s: float | None = None
    generator_cpu: float | None = None
    host_cpu: float | None = None
    failed_events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    tta_by_tier: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(_tta_histogram))
    pending: float | None = None
    drain_left_s: float | None = None
    invalid_steps: list[int] = field(default_factory=list)

    def cpu_text(self) -> str:
        """The busiest generator process's share of a core and its machine's busy share."""
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.0%}"

        return f"generator {pct(self.generator_cpu)} of a core, machine {pct(self.host_cpu)} busy"

    def tier_line(self, tier: str) -> str:
        h = self.tta_by_tier[tier]
        n = h.get_total_count()
        if not n:
            return f"{tier}: n=0"
        p50, p95 = (h.get_value_at_percentile(p) / 1e6 for p in (50, 95))
        return f"{tier}: n={n} p50={p50:.3g}s p95={p95:.3g}s"

    def drain_text(self) -> str:
        if self.drain_left_s is None:
            return ""
        pend = "?" if self.pending is None else f"{self.pending:.0f}"
        return f"draining: {pend} canaries pending, at most {max(0.0, self.drain_left_s):.0f} s left"


def _tta_histogram() -> HdrHistogram:
    """TTAs in microseconds from 1 µs to an hour, 3 significant digits: fixed memory, however many canaries."""
    return HdrHistogram(1, 3_600_000_000, 3)


class Progress:
    def __init__(self, run_dir: Path, *, steps_total: int, slo: Slo, enabled: bool = True,
                 stream: TextIO | None = None, plain_every_s: float = 5.0):
        self.snap = Snapshot(steps_total=steps_total)
        self._tiering = Tiering(slo, window_s=slo.rate_window_s)
        self._untiered: list[Observation] = []  # waiting for the timeline to cover their send
        self._rates = TimelineTail(run_dir / "rates.jsonl")
        self._samples = LineTail(run_dir / "samples.jsonl")
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._rich = enabled and self._stream.isatty()
        self._plain_every_s = plain_every_s
        self._last_plain = 0.0
        self._started = time.monotonic()
        self._live: Any = None

    def __enter__(self) -> Progress:
        if self._rich:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(file=self._stream), refresh_per_second=4,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)

    def update(self, *, pending: float | None = None, drain_left_s: float | None = None) -> None:
        s = self.snap
        s.elapsed_s = time.monotonic() - self._started
        s.pending, s.drain_left_s = pending, drain_left_s
        new = self._rates.read_new()
        s.invalid_steps += [step.step for step in new.steps if not step.valid]
        self._tiering.extend(new.points)
        for row in new.seconds:
            s.step, s.target_eps, s.achieved_eps = row.step, row.target_eps, row.achieved_eps
            s.lag_p99_s, s.generator_cpu, s.host_cpu = row.lag_p99_s, row.generator_cpu, row.host_cpu
            s.failed_events += row.failed_events
        for rec in self._samples.read_objects():
            s.outcomes[rec.get("outcome", "?")] += 1
            if rec.get("outcome") == AVAILABLE:
                try:
                    obs = Observation.from_record(rec)
                except (TypeError, ValueError):
                    continue
                self._untiered.append(obs)
        self._place_ready()
        if not self._enabled:
            return
        if self._live is not None:
            self._live.update(self._render())
        elif time.monotonic() - self._last_plain >= self._plain_every_s:
            self._last_plain = time.monotonic()
            print(self.line(), file=self._stream, flush=True)

    def _place_ready(self) -> None:
        """Live tiers for the canaries the timeline covers by now; the rest wait for the next update."""
        waiting = []
        for obs in self._untiered:
            if not self._tiering.ready(obs.path, obs.sent_unix_ms):
                waiting.append(obs)
                continue
            a = self._tiering.place(obs.path, obs.sent_unix_ms)
            if a.judged and obs.tta_s is not None:
                self.snap.tta_by_tier[a.tier or "untiered"].record_value(max(1, round(obs.tta_s * 1e6)))
        self._untiered = waiting

    def line(self) -> str:
        s = self.snap
        step = "-" if s.step is None else f"{int(s.step) + 1}/{s.steps_total}"
        rate = (f"{s.achieved_eps:.0f}/{s.target_eps:.0f} ev/s" if s.achieved_eps is not None
                and s.target_eps is not None else "starting")
        lag = "-" if s.lag_p99_s is None else f"{s.lag_p99_s * 1000:.1f}ms"
        pend = "-" if s.pending is None else f"{s.pending:.0f}"
        tiers = "; ".join(s.tier_line(t) for t in sorted(s.tta_by_tier))
        bad = f" INVALID steps {s.invalid_steps}" if s.invalid_steps else ""
        drain = f" | {s.drain_text()}" if s.drain_left_s is not None else ""
        return (f"[{s.elapsed_s:5.0f}s] step {step} {rate} lag p99 {lag} failed {s.failed_events} "
                f"({s.cpu_text()}) | canaries "
                f"pending {pend} available {s.outcomes['available']} lost {s.outcomes['lost']} "
                f"errored {s.outcomes['errored']} | {tiers or 'no TTA yet'}{bad}{drain}")

    def _render(self) -> Any:
        from rich.table import Table

        s = self.snap
        t = Table(title=f"ingestbench run ({s.elapsed_s:.0f} s)", show_header=False, expand=False)
        t.add_column("what", style="bold")
        t.add_column("value")
        step = "-" if s.step is None else f"{int(s.step) + 1} of {s.steps_total}"
        t.add_row("step", step)
        if s.target_eps is not None:
            t.add_row("events/s", f"target {s.target_eps:.0f}, achieved {s.achieved_eps or 0:.0f}")
        t.add_row("schedule lag p99", "-" if s.lag_p99_s is None else f"{s.lag_p99_s * 1000:.1f} ms")
        t.add_row("generator CPU", s.cpu_text())
        t.add_row("failed events", str(s.failed_events))
        t.add_row("canaries", f"pending {'-' if s.pending is None else int(s.pending)}, "
                  f"available {s.outcomes['available']}, lost {s.outcomes['lost']}, errored {s.outcomes['errored']}")
        for tier in sorted(s.tta_by_tier):
            t.add_row(f"tier {tier}", s.tier_line(tier).split(": ", 1)[1])
        if s.drain_left_s is not None:
            t.add_row("drain", s.drain_text().split(": ", 1)[1])
        if s.invalid_steps:
            t.add_row("[red]INVALID[/red]", f"steps {s.invalid_steps} not reached")
        return t
