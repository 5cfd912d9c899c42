"""Step verdicts: was the asked-for rate really delivered, on time? A pure function, no I/O.

A step is **invalid** when the target acknowledged fewer than ``min_achieved_ratio`` of the events asked
for (or more than the mirror-image excess), or when schedule-lag p99 exceeds ``lag_bound_s``: an unreached
rate is never reported as reached. When an invalid step's busiest generator process used at least
``CPU_BOUND`` of a core, the reason says the generator was CPU-bound: the shortfall is the generator's, and
more generator processes (``--processes``, workers) are the remedy; when a generator's whole machine was at
least ``CPU_BOUND`` busy, it says that machine was saturated (with the target on it, neither had room).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CPU_BOUND = 0.9  # share of a core at which a generator process counts as saturated


@dataclass(frozen=True)
class StepVerdict:
    step: int
    target_eps: float
    achieved_eps: float
    lag_p50_s: float | None
    lag_p99_s: float | None
    sent_events: int
    failed_events: int
    dropped_events: int
    generator_cpu_peak: float | None
    host_cpu_peak: float | None
    valid: bool
    reason: str


def judge_step(
    *,
    step: int,
    target_eps: float,
    achieved_eps: float,
    lag_p50_s: float | None,
    lag_p99_s: float | None,
    sent_events: int = 0,
    failed_by_kind: Mapping[str, int] | None = None,
    dropped_events: int = 0,
    min_achieved_ratio: float = 0.97,
    lag_bound_s: float = 0.05,
    completed: bool = True,
    generator_cpu: float | None = None,
    host_cpu: float | None = None,
) -> StepVerdict:
    """Judge one step from its totals; the reason is one sentence naming the numbers."""
    failed = dict(failed_by_kind or {})
    failed_events = sum(failed.values())
    ratio = achieved_eps / target_eps if target_eps > 0 else 1.0
    problems = []
    if not completed:
        problems.append("the run stopped before the step ended")
    if ratio < min_achieved_ratio:
        problems.append(f"achieved {achieved_eps:.1f} of {target_eps:.1f} events/s "
                        f"({ratio:.1%} < {min_achieved_ratio:.0%})")
    elif ratio > 2 - min_achieved_ratio:
        problems.append(f"achieved {achieved_eps:.1f} events/s overshoots the target {target_eps:.1f} "
                        f"({ratio:.1%})")
    if lag_p99_s is not None and lag_p99_s > lag_bound_s:
        problems.append(f"schedule lag p99 {lag_p99_s:.3f} s > bound {lag_bound_s:.3f} s")
    extra = []
    if failed_events:
        extra.append("failed " + ", ".join(f"{k} {v}" for k, v in sorted(failed.items())))
    if dropped_events:
        extra.append(f"dropped {dropped_events} too late to send")
    if problems and generator_cpu is not None and generator_cpu >= CPU_BOUND:
        extra.append(f"generator CPU-bound: a process used {generator_cpu:.0%} of a core; add processes or workers")
    if problems and host_cpu is not None and host_cpu >= CPU_BOUND:
        extra.append(f"generator machine saturated: {host_cpu:.0%} of its CPU busy")
    tail = f" ({'; '.join(extra)})" if extra else ""
    if problems:
        reason = "; ".join(problems) + tail
    else:
        p99 = "n/a" if lag_p99_s is None else f"{lag_p99_s:.4f} s"
        reason = f"achieved {achieved_eps:.1f} of {target_eps:.1f} events/s ({ratio:.1%}), lag p99 {p99}"
        reason += tail
    return StepVerdict(step, target_eps, achieved_eps, lag_p50_s, lag_p99_s, sent_events, failed_events,
                       dropped_events, generator_cpu, host_cpu, not problems, reason)
