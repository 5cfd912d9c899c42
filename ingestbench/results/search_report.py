"""A search's reports: ``report.md`` (the one-line answer per tier, then every step) and ``report.html`` (the
judged percentile against the rate, per tier, with its target and both bounds drawn), in the search's directory.
Each step's own reports are in its run directory."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.verdicts import FAIL, PASS
from ingestbench.results.report_html import CSS, SIZE_PROBE
from ingestbench.results.search import DELIVERED
from ingestbench.results.search_result import SearchResult, TierResult, r
from ingestbench.results.svg import Axis, Chart

REPORT_MD, REPORT_HTML = "report.md", "report.html"
SEARCH_CSS = ".passdot{fill:#12813a} .faildot{fill:#c0262d} .capdot{fill:#e8a33d} .bound{stroke:#1d2330;" \
             "stroke-width:1.2;stroke-dasharray:6 3} .bound-label{fill:#1d2330} .legend.passdot{fill:#12813a} " \
             ".legend.faildot{fill:#c0262d} .legend.capdot{fill:#e8a33d}"


def _s(v: float | None) -> str:
    return "-" if v is None else "lost canaries" if math.isinf(v) else f"{v:.3g} s"


def one_line(result: SearchResult) -> str:
    """The answer on one line per tier (the terminal and the Markdown summary)."""
    return "\n".join(t.summary for t in result.tiers)


def markdown(result: SearchResult) -> str:
    c = result.config
    lines = [f"# ingestbench search {result.search_id}", "",
             f"**Result: {'range found' if result.exit_code == 0 else ExitCode(result.exit_code).meaning}** "
             f"(exit code {result.exit_code}). {result.reason}.", ""]
    lines += [f"- {t.summary}" for t in result.tiers]
    lines += [f"- note: {n}" for t in result.tiers for n in t.notes]
    lines += [f"- note: {n}" for n in result.notes]
    lines += ["", f"Scenario `{result.scenario}` at time scale {result.time_scale:g}; rates {r(c.min_eps)} to "
              f"{r(c.max_eps)} events/s, climbing by x{c.factor:g}, then bisecting to {c.precision:.0%}"
              + (f", within {c.budget_s:g} s" if c.budget_s else "") + f"; stopped: {result.stopped or 'done'}.", "",
              "| tier | holds from events/s | lower bound | holds up to events/s | upper bound | limit |",
              "|---|---|---|---|---|---|"]
    for t in result.tiers:
        lines.append(f"| {t.tier} | {r(t.holds_from_eps)} | {t.lower.text} | {r(t.holds_up_to_eps)} | "
                     f"{t.upper.text} | {t.upper.limit} |")
    names = [t.tier for t in result.tiers]
    lines += ["", "| step | rate events/s | why | load s | load | " + " | ".join(names) + " | exit | run |",
              "|---|---|---|---|---|" + "---|" * len(names) + "---|---|"]
    for s in result.steps:
        cells = [f"{s.outcomes.get(n, '-')} ({_s(s.judged_s.get(n))})" if n in s.judged_s else "-" for n in names]
        lines.append(f"| {s.index} | {r(s.rate_eps)} | {s.why} | {s.duration_s:g} | {s.delivered} | "
                     + " | ".join(cells) + f" | {s.exit_code} | `{s.run_id}/` |")
    lines += ["", "A step is a whole run at one rate, judged on its own; its reports are in its directory. The load "
              "is *delivered* when every step check held; *target*: the target refused part of it; *generator*: the "
              "generator could not send it (a process or its machine CPU-bound, or its users unable to keep up "
              "while nothing was refused); *trouble*: the run's own problem (the step decides nothing)."]
    return "\n".join(lines) + "\n"


def _chart(result: SearchResult, t: TierResult) -> str:
    steps = [s for s in result.steps if t.tier in s.judged_s or t.tier in s.outcomes]
    rates = [s.rate_eps for s in result.steps] or [result.config.min_eps, result.config.max_eps]
    values = [v for s in steps for v in [s.judged_s.get(t.tier)] if v is not None and math.isfinite(v) and v > 0]
    x = Axis(min(rates) / 1.5, max(rates) * 1.5, log=True, label="asked rate (events/s)")
    y = Axis(max(1e-3, min([*values, t.target_s]) / 2), max([*values, t.target_s]) * 3, log=True,
             label=f"judged p{t.percentile:g} TTA (s)")
    chart = Chart(1060, 320, x=x, y=y, title=f"tier {t.tier}: judged p{t.percentile:g} against rate")
    top = y.hi / 1.3
    for css, pick in (("passdot", lambda s: s.outcomes.get(t.tier) == PASS),
                      ("faildot", lambda s: s.outcomes.get(t.tier) == FAIL),
                      ("capdot", lambda s: t.tier not in s.outcomes)):
        points = [(s.rate_eps, min(v, top) if v is not None and v > 0 else top)
                  for s in steps if pick(s) for v in [s.judged_s.get(t.tier)]]
        chart.dots(points, css=css, r=4, title=css)
    chart.hseg(t.target_s, x.lo, x.hi, css="target", label=f"target {t.target_s:g} s")
    if t.holds_from_eps is not None:
        chart.vline(t.holds_from_eps, css="bound", label=f"holds from {r(t.holds_from_eps)}", row=0)
    if t.holds_up_to_eps is not None:
        chart.vline(t.holds_up_to_eps, css="bound", label=f"holds up to {r(t.holds_up_to_eps)}", row=1)
    chart.legend([("passdot", "passed"), ("faildot", "failed"), ("capdot", "undecided (not sent, or trouble)")])
    return chart.render()


def html(result: SearchResult) -> str:
    summary = "".join(f"<li>{escape(t.summary)}</li>" for t in result.tiers)
    summary += "".join(f"<li>note: {escape(n)}</li>" for t in result.tiers for n in t.notes)
    summary += "".join(f"<li>note: {escape(n)}</li>" for n in result.notes)
    charts = "".join(f"<h2>Tier {escape(t.tier)}</h2><div class='charts'>{_chart(result, t)}</div>"
                     for t in result.tiers)
    rows = "".join(
        f"<tr><td>{s.index}</td><td>{r(s.rate_eps)}</td><td class='l'>{escape(s.why)}</td>"
        f"<td class='l {'pass' if s.delivered == DELIVERED else 'invalid'}'>{escape(s.delivered)}</td>"
        f"<td class='l'>{escape(', '.join(f'{k} {v}' for k, v in s.outcomes.items()) or '-')}</td>"
        f"<td>{s.exit_code}</td><td class='l'><a href='{escape(s.run_id)}/report.html'>{escape(s.run_id)}</a></td>"
        f"<td class='l'>{escape(s.reason)}</td></tr>" for s in result.steps)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ingestbench search {escape(result.search_id)}</title>
<style>{CSS}{SEARCH_CSS}</style></head><body>
<h1>ingestbench search {escape(result.search_id)}</h1>
<p><b class="{'pass' if result.exit_code == 0 else 'fail'}">{escape(result.reason)}</b>
(exit code {result.exit_code}). Scenario <code>{escape(result.scenario)}</code>, time scale {result.time_scale:g}.</p>
<ul>{summary}</ul>
{charts}
<h2>Steps</h2>
<table><tr><th>step</th><th>rate events/s</th><th class='l'>why</th><th class='l'>load</th><th class='l'>tiers</th>
<th>exit</th><th class='l'>run</th><th class='l'>verdict</th></tr>{rows}</table>
<script>{SIZE_PROBE}</script>
</body></html>
"""


def write(path: Path, result: SearchResult) -> None:
    (path / REPORT_MD).write_text(markdown(result), encoding="utf-8")
    (path / REPORT_HTML).write_text(html(result), encoding="utf-8")
