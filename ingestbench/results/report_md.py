"""``report.md``: the run as Markdown tables, readable in a terminal and in a CI job summary."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ingestbench.records.exit_codes import meaning
from ingestbench.records.numbers import fmt
from ingestbench.records.observation import OUTCOMES
from ingestbench.records.verdicts import TierVerdict
from ingestbench.results import generators_report, resources_report
from ingestbench.results.episodes import episodes
from ingestbench.results.rundir import RunFiles

_WINDOW_WORDS = {"steady": "steady", "warmup": "warm-up", "transition": "transition", "outside": "outside the load",
                 "stall": "generator stall"}
_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "insufficient": "⚠️ insufficient"}
MAX_STEP_ROWS = 20  # past this many steps (a replayed shape) the table lists the invalid ones only


def count_text(tier: TierVerdict, outcome: str) -> str:
    """``lost`` or ``errored`` of a tier with the windows they fell in: ``3 (2 warm-up, 1 steady)``."""
    total = tier.lost if outcome == "lost" else tier.errored
    if not total:
        return "0"
    kinds = ("lost", "late") if outcome == "lost" else (outcome,)
    parts = [f"{sum(counts.get(k, 0) for k in kinds)} {_WINDOW_WORDS.get(w, w)}"
             for w, counts in tier.windows.items() if sum(counts.get(k, 0) for k in kinds)]
    late = f", {tier.late} seen late" if outcome == "lost" and tier.late else ""
    return f"{total} ({', '.join(parts)}{late})" if parts else str(total)


def status_text(tier: TierVerdict) -> str:
    return tier.status if tier.conclusive else f"{tier.status} (not conclusive)"


def ci_text(tier: TierVerdict) -> str:
    """The 95 % interval: an unbounded side shows as ``?`` (low) or ``∞`` (high)."""
    low = "?" if tier.ci_low_s is None else fmt(tier.ci_low_s)
    return f"{low}–{fmt(tier.ci_high_s) if tier.ci_high_s is not None else '∞'}"


def verdict_text(files: RunFiles) -> str:
    run = files.run
    return meaning(run.exit_code) if run.exit_code is not None else run.status


def render(files: RunFiles) -> str:
    """The whole Markdown report: the summary, then the canaries."""
    return summary(files) + "\n" + canaries(files)


def summary(files: RunFiles) -> str:
    """The result, what ran, and the tables of tiers, steps and what went wrong (what ``run`` prints)."""
    run = files.run
    scenario, target = run.scenario, run.target
    lines = [
        f"# ingestbench run `{run.run_id}`",
        "",
        f"**Result: {verdict_text(files)}** (exit code {fmt(run.exit_code)}). {run.gate.reason if run.gate else ''}",
        "",
        f"- scenario: `{scenario.name}`, time scale {fmt(scenario.time_scale)}",
        f"- target: `{target.name}` at {target.url or '?'}" + (" (embedded reference pipeline)" if target.embedded
                                                               else ""),
        f"- status: {run.status}, duration {fmt(run.duration_s)} s",
    ]
    if run.tags:
        lines.append("- tags: " + ", ".join(f"`{k}={v}`" for k, v in sorted(run.tags.items())))
    lines += [f"- **invalid:** {reason}" for reason in run.invalid_reasons]
    lines += [f"- note: {note}" for note in run.notes]
    lines += ["", "## Verdicts per tier", "",
              "| tier | band | canaries | n | p50 s | p95 s | p99 s | max s | 95% CI s | target s | lost | errored "
              "| dup | result | reason |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in run.tiers:
        result = _MARKS.get(t.status, t.status) + ("" if t.conclusive else " (not conclusive)")
        lines.append(
            f"| {t.tier} | {t.band} | {t.canaries} | {t.n} | {fmt(t.p50_s)} | {fmt(t.p95_s)} | {fmt(t.p99_s)} | "
            f"{fmt(t.max_s)} | {ci_text(t)} | {fmt(t.target_s)} | {count_text(t, 'lost')} | "
            f"{count_text(t, 'errored')} | {t.duplicates} | {result} | {t.reason} |")
    lines += ["", "## Load steps", ""]
    shown = run.steps
    if len(run.steps) > MAX_STEP_ROWS:  # a replayed shape: the invalid steps only, every step is in run.json
        shown = tuple(s for s in run.steps if not s.valid)
        valid = len(run.steps) - len(shown)
        lines += [f"{len(run.steps)} steps: {valid} valid, {len(shown)} invalid"
                  + (" (listed below)" if shown else "") + "; every step is in run.json and rates.jsonl.", ""]
    if shown:
        lines += ["| step | target events/s | achieved events/s | lag p99 s | stalled s | valid | note |",
                  "|---|---|---|---|---|---|---|"]
    for s in shown:
        stalled = f"{s.stalled_s} of {fmt(s.allowed_stalled_s)}" if s.allowed_stalled_s is not None else "-"
        lines.append(f"| {s.step} | {fmt(s.target_eps)} | {fmt(s.achieved_eps)} | {fmt(s.lag_p99_s)} | {stalled} | "
                     f"{'yes' if s.valid else '**NO**'} | {s.reason or ''} |")
    lines += generators_report.markdown(run.generators)
    lines += resources_report.markdown(run.resources, resources_report.limits_of(run.slo))
    found = episodes(files)
    if found:
        lines += ["", "## What went wrong, and when", "",
                  "Seconds after the load started (negative: before it).", "",
                  "| from s | to s | where | what |", "|---|---|---|---|"]
        lines += [f"| {e.start_s:.1f} | {e.end_s:.1f} | {e.source} | {e.what} |" for e in found]
    return "\n".join(lines) + "\n"


def canaries(files: RunFiles) -> str:
    """What happened to the canaries, and what the probe added to the load."""
    run = files.run
    lines = []
    codes = files.judged.outcome if files.judged is not None else files.samples.outcome
    outcomes = Counter({OUTCOMES[c]: int(n) for c, n in enumerate(np.bincount(codes, minlength=len(OUTCOMES))) if n})
    lines += ["## Canaries", "", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "none"]
    p = run.probe
    if p.sent is not None:
        lines.append(f"\nSent {p.sent} analytical and {p.transactional_sent} transactional canaries; drained "
                     f"{fmt(p.drain_s)} s after the load; {p.undecided} undecided; {p.poll_failures} of {p.polls} "
                     "polls failed.")
    if p.load_eps:
        lines.append(f"Canaries rode in batches of {p.canary_batch_size} events, like the load: the probe added "
                     f"~{fmt(float(p.load_eps))} events/s.")
    lines.append("")
    return "\n".join(lines)
