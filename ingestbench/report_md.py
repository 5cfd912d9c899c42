"""``report.md``: the run as Markdown tables, readable in a terminal and in a CI job summary."""

from __future__ import annotations

from typing import Any

from ingestbench.rundir import RunFiles

EXIT_MEANING = {0: "pass", 1: "an SLO failed", 2: "usage or config error", 3: "run invalid"}


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
    verdict = EXIT_MEANING.get(code, "?") if isinstance(code, int) else run.get("status", "unknown")
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
              "| tier | band | n | p50 s | p95 s | p99 s | max s | 95% CI s | target s | lost | dup | result "
              "| reason |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in run.get("tiers", []):
        ci = f"{_s(t.get('ci_low_s'))}–{'∞' if t.get('ci_high_s') is None else _s(t.get('ci_high_s'))}"
        marks = {"pass": "✅ pass", "fail": "❌ fail", "insufficient": "⚠️ insufficient"}
        result = marks.get(t.get("status"), t.get("status"))
        lines.append(
            f"| {t['tier']} | {t.get('band', '')} | {t.get('n')} | {_s(t.get('p50_s'))} | {_s(t.get('p95_s'))} | "
            f"{_s(t.get('p99_s'))} | {_s(t.get('max_s'))} | {ci} | {_s(t.get('target_s'))} | {t.get('lost', 0)} | "
            f"{t.get('duplicates', 0)} | {result} | {t.get('reason', '')} |"
        )
    lines += ["", "## Load steps", "",
              "| step | target events/s | achieved events/s | lag p99 s | valid | note |", "|---|---|---|---|---|---|"]
    for s in run.get("steps", []):
        valid = "yes" if s.get("valid") else "**NO**"
        lines.append(f"| {s.get('step')} | {_s(s.get('target_eps'))} | {_s(s.get('achieved_eps'))} | "
                     f"{_s(s.get('lag_p99_s'))} | {valid} | {s.get('reason') or ''} |")
    outcomes: dict[str, int] = {}
    for rec in files.samples:
        outcomes[rec.get("outcome", "?")] = outcomes.get(rec.get("outcome", "?"), 0) + 1
    lines += ["", "## Canaries", "", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "none"]
    probe = run.get("probe") or {}
    if probe:
        lines.append(f"\nSent {probe.get('sent')} analytical and {probe.get('transactional_sent')} transactional "
                     f"canaries; {probe.get('abandoned')} still pending when the probe stopped (not judged); "
                     f"{probe.get('poll_failures')} of {probe.get('polls')} polls failed.")
    lines.append("")
    return "\n".join(lines)
