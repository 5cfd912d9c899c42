"""Step checks: was the asked-for rate really delivered, on time? A pure function, no I/O.

A step is **invalid** when the target acknowledged fewer than ``min_achieved_ratio`` of the events asked
for (or more than the mirror-image excess) and the difference is more than ``slack_eps``: a request carries a
whole batch and counts in the step its first event is due in, so a step's count can miss the integral of its
rate by up to one batch (``batch_size / duration``, what matters for a short step such as a replayed row), or
when the generator fell behind its schedule for longer than a pause: an unreached rate is never reported as
reached, and one pause of the process never voids a step.

A second whose schedule-lag p99 exceeds ``lag_bound_s`` while a generator process stood still (paused for at
least half the bound: descheduled by a busy machine, stopped, blocked) is *stalled*. Its canaries are not
judged for TTA (the judge's ``stall`` window), and a step may hold :func:`allowed_stall_s` of them:
``max_stall_share`` of its seconds, and never fewer than one pause can touch (``ceil(max_behind_s) + 1``: a pause
longer than ``max_behind_s`` drops requests, and then the achieved rate decides). Past that the generator was
behind for a sustained part of the step, not paused, and the step is invalid.

Lag that no pause explains is the generator's users not keeping up (a target slow to answer holds them, or
there are too few): a step whose lag p99 over the requests started while no process was paused exceeds
``lag_bound_s`` is invalid, as it always was. A stall never hides a slow target.

>>> allowed_stall_s(6.0, share=0.25, max_behind_s=1.0), allowed_stall_s(60.0, share=0.25, max_behind_s=1.0)
(2.0, 15.0)

When an invalid step's busiest generator process used at least
``CPU_BOUND`` of a core, the reason says the generator was CPU-bound: the shortfall is the generator's, and
more generator processes (``--processes``, workers) are the remedy; when a generator's whole machine was at
least ``CPU_BOUND`` busy, it says that machine was saturated (with the target on it, neither had room).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

CPU_BOUND = 0.9  # share of a core at which a generator process counts as saturated


def allowed_stall_s(duration_s: float, *, share: float, max_behind_s: float) -> float:
    """The most stalled seconds a step of ``duration_s`` may hold and stay valid (see the module docstring)."""
    return max(share * duration_s, float(math.ceil(max_behind_s - 1e-9) + 1))


@dataclass(frozen=True)
class StepCheck:
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
    stalled_s: int = 0
    allowed_stalled_s: float | None = None


def check_step(
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
    unpaused_lag_p99_s: float | None = None,
    stalled_s: int = 0,
    allowed_stalled_s: float = math.inf,
    completed: bool = True,
    generator_cpu: float | None = None,
    host_cpu: float | None = None,
    slack_eps: float = 0.0,
) -> StepCheck:
    """Judge one step from its totals; the reason is one sentence naming the numbers."""
    failed = dict(failed_by_kind or {})
    failed_events = sum(failed.values())
    ratio = achieved_eps / target_eps if target_eps > 0 else 1.0
    problems = []
    if not completed:
        problems.append("the run stopped before the step ended")
    if ratio < min_achieved_ratio and target_eps - achieved_eps > slack_eps:
        problems.append(f"achieved {achieved_eps:.1f} of {target_eps:.1f} events/s "
                        f"({ratio:.1%} < {min_achieved_ratio:.0%})")
    elif ratio > 2 - min_achieved_ratio and achieved_eps - target_eps > slack_eps:
        problems.append(f"achieved {achieved_eps:.1f} events/s overshoots the target {target_eps:.1f} "
                        f"({ratio:.1%})")
    if unpaused_lag_p99_s is not None and unpaused_lag_p99_s > lag_bound_s:
        problems.append(f"schedule lag p99 {unpaused_lag_p99_s:.3f} s > bound {lag_bound_s:.3f} s while the "
                        "generator ran (not a pause: its users could not keep up)")
    if stalled_s > allowed_stalled_s:
        problems.append(f"the generator fell behind its schedule (lag p99 over {lag_bound_s:g} s) in {stalled_s} "
                        f"seconds, more than the {allowed_stalled_s:g} s allowed")
    extra = []
    if stalled_s and not problems:
        extra.append(f"stalled {stalled_s} s of the allowed {allowed_stalled_s:g} s: their canaries not judged")
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
    return StepCheck(step, target_eps, achieved_eps, lag_p50_s, lag_p99_s, sent_events, failed_events,
                       dropped_events, generator_cpu, host_cpu, not problems, reason, stalled_s,
                       None if math.isinf(allowed_stalled_s) else allowed_stalled_s)
