"""``report.md``: the run as Markdown tables, readable in a terminal and in a CI job summary."""

from __future__ import annotations

from typing import Any

from ingestbench.episodes import episodes
from ingestbench.rundir import RunFiles
from records.exit_codes import meaning

_WINDOW_WORDS = {"steady": "steady", "warmup": "warm-up", "transition": "transition", "outside": "outside the load"}
_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "insufficient": "⚠️ insufficient"}


def count_text(tier: dict[str, Any], outcome: str) -> str:
    """``lost`` or ``errored`` of a tier with the windows they fell in: ``3 (2 warm-up, 1 steady)``."""
    total = int(tier.get(outcome) or 0)
    if not total:
        return "0"
    kinds = ("lost", "late") if outcome == "lost" else (outcome,)
    parts = [f"{sum(counts.get(k, 0) for k in kinds)} {_WINDOW_WORDS.get(w, w)}"
             for w, counts in (tier.get("windows") or {}).items() if sum(counts.get(k, 0) for k in kinds)]
    late = f", {tier['late']} seen late" if outcome == "lost" and tier.get("late") else ""
    return f"{total} ({', '.join(parts)}{late})" if parts else str(total)


def status_text(tier: dict[str, Any]) -> str:
    status = str(tier.get("status"))
    return status if tier.get("conclusive", True) else f"{status} (not conclusive)"


def _s(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return str(v)


def render(files: RunFiles) -> str:
    run = files.run
    scenario = run.get("scenario", {})
    target = run.get("target", {})
    code = run.get("exit_code")
    verdict = meaning(code) if isinstance(code, int) else run.get("status", "unknown")
    lines = [
        f"# ingestbench run `{run.get('run_id', files.path.name)}`",
        "",
        f"**Result: {verdict}** (exit code {_s(code)}). "
        f"{run.get('gate', {}).get('reason', '')}",
        "",
        f"- scenario: `{scenario.get('name', '?')}`, time scale {_s(scenario.get('time_scale'))}",
        f"- target: `{target.get('name', '?')}` at {target.get('url', '?')}"
        + (" (embedded reference pipeline)" if target.get("embedded") else ""),
        f"- status: {run.get('status', 'unknown')}, duration {_s(run.get('duration_s'))} s",
    ]
    for reason in run.get("invalid_reasons", []):
        lines.append(f"- **invalid:** {reason}")
    lines += ["", "## Verdicts per tier", "",
              "| tier | band | canaries | n | p50 s | p95 s | p99 s | max s | 95% CI s | target s | lost | errored "
              "| dup | result | reason |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in run.get("tiers", []):
        ci = f"{_s(t.get('ci_low_s'))}–{'∞' if t.get('ci_high_s') is None else _s(t.get('ci_high_s'))}"
        result = _MARKS.get(str(t.get("status")), str(t.get("status")))
        if not t.get("conclusive", True):
            result += " (not conclusive)"
        lines.append(
            f"| {t['tier']} | {t.get('band', '')} | {t.get('canaries', '–')} | {t.get('n')} | {_s(t.get('p50_s'))} | "
            f"{_s(t.get('p95_s'))} | {_s(t.get('p99_s'))} | {_s(t.get('max_s'))} | {ci} | {_s(t.get('target_s'))} | "
            f"{count_text(t, 'lost')} | {count_text(t, 'errored')} | {t.get('duplicates', 0)} | {result} | "
            f"{t.get('reason', '')} |"
        )
    lines += ["", "## Load steps", "",
              "| step | target events/s | achieved events/s | lag p99 s | valid | note |", "|---|---|---|---|---|---|"]
    for s in run.get("steps", []):
        valid = "yes" if s.get("valid") else "**NO**"
        lines.append(f"| {s.get('step')} | {_s(s.get('target_eps'))} | {_s(s.get('achieved_eps'))} | "
                     f"{_s(s.get('lag_p99_s'))} | {valid} | {s.get('reason') or ''} |")
    found = episodes(files)
    if found:
        lines += ["", "## What went wrong, and when", "",
                  "Seconds after the load started (negative: before it).", "",
                  "| from s | to s | where | what |", "|---|---|---|---|"]
        lines += [f"| {e.start_s:.1f} | {e.end_s:.1f} | {e.source} | {e.what} |" for e in found]
    outcomes: dict[str, int] = {}
    for rec in files.judged or files.samples:
        outcomes[rec.get("outcome", "?")] = outcomes.get(rec.get("outcome", "?"), 0) + 1
    lines += ["", "## Canaries", "", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "none"]
    probe = run.get("probe") or {}
    if probe:
        lines.append(f"\nSent {probe.get('sent')} analytical and {probe.get('transactional_sent')} transactional "
                     f"canaries; drained {_s(probe.get('drain_s'))} s after the load; {probe.get('undecided')} "
                     f"undecided; {probe.get('poll_failures')} of {probe.get('polls')} polls failed.")
        if probe.get("load_eps"):
            lines.append(f"Canaries rode in batches of {probe.get('canary_batch_size')} events, like the load: "
                         f"the probe added ~{_s(float(probe['load_eps']))} events/s.")
    lines.append("")
    return "\n".join(lines)
