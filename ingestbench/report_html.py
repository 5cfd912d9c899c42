"""``report.html``: one self-contained page (inline CSS and SVG, no network) with the run's charts.

Charts: TTA distribution per tier with its target line; TTA against the achieved ingest rate at send time
(log-log, with the 1k events/s threshold and each tier's target over its band: the knee shows here);
target against achieved ingest rate over time.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ingestbench.report_md import count_text, status_text
from ingestbench.rundir import RunFiles
from ingestbench.svg import Axis, Chart
from records.exit_codes import meaning

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;max-width:1100px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px} table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d5d9e0;padding:4px 8px;text-align:right} th{background:#f3f5f8}
td.l,th.l{text-align:left} .pass{color:#12813a;font-weight:600} .fail{color:#c0262d;font-weight:600}
.insufficient,.invalid{color:#b86e00;font-weight:600} .charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{background:#fff;border:1px solid #e2e5ea} svg text{font-size:11px;fill:#39404d}
svg text.title{font-size:13px;font-weight:600} .grid{stroke:#eef0f3} .frame{fill:none;stroke:#9aa3b2}
.target{stroke:#c0262d;stroke-width:1.5;stroke-dasharray:5 3} .target-label{fill:#c0262d}
.threshold{stroke:#6b7280;stroke-dasharray:2 3} .threshold-label{fill:#6b7280}
.bar{fill:#4f7cd6} .achieved{stroke:#1f9d55;stroke-width:1.8} .asked{stroke:#4f7cd6;stroke-width:1.5}
.legend.achieved{fill:#1f9d55} .legend.asked{fill:#4f7cd6} .lost{fill:#c0262d}
.t0{fill:#4f7cd6;opacity:.75} .t1{fill:#e07b00;opacity:.75} .t2{fill:#8b5cf6;opacity:.75} .t3{fill:#14b8a6}
.legend.t0{fill:#4f7cd6} .legend.t1{fill:#e07b00} .legend.t2{fill:#8b5cf6} .legend.t3{fill:#14b8a6}
"""

# Marks every chart with its laid-out size, so a headless browser check can tell the page rendered.
SIZE_PROBE = ("document.querySelectorAll('svg.chart').forEach(function(s){var r=s.getBoundingClientRect();"
              "s.setAttribute('data-rendered',Math.round(r.width)+'x'+Math.round(r.height));});")


def _f(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return escape(str(v))


def _tta_histograms(files: RunFiles, tiers: list[dict[str, Any]]) -> list[str]:
    charts = []
    for tier in tiers:
        values = [s["tta_s"] for s in files.judged
                  if s.get("tier") == tier["tier"] and s.get("outcome") == "available" and s.get("window") == "steady"
                  and s.get("tta_s") is not None]
        target = float(tier.get("target_s") or 1.0)
        hi = max([target * 1.25, *values]) if values else target * 1.25
        lo = min([0.0, *values])  # an estimate can fall below 0 for a canary visible at once
        bins = 30
        edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
        counts = [0] * bins
        for v in values:
            counts[max(0, min(bins - 1, int((v - lo) / (hi - lo) * bins)))] += 1
        chart = Chart(520, 260, x=Axis(lo, hi, label="time to availability (s)"),
                      y=Axis(0, max([1, *counts]) * 1.1, label="canaries"),
                      title=f"TTA, tier {tier['tier']} ({tier.get('band', '')}): n={len(values)}")
        chart.bars(edges, counts, css="bar")
        chart.vline(target, css="target", label=f"target {target:g} s")
        if tier.get("p95_s") is not None and math.isfinite(tier["p95_s"]):
            chart.vline(float(tier["p95_s"]), css="threshold", label=f"p95 {tier['p95_s']:.3g} s", row=1)
        charts.append(chart.render())
    return charts


def _knee(files: RunFiles, tiers: list[dict[str, Any]]) -> str:
    analytical = [s for s in files.judged if s.get("path") == "analytical" and s.get("rate_eps")
                  and s.get("tta_s") and s.get("window") == "steady"]
    rates = [float(s["rate_eps"]) for s in analytical] or [100.0, 10_000.0]
    ttas = [float(s["tta_s"]) for s in analytical] or [0.1, 10.0]
    targets = [float(t["target_s"]) for t in tiers if t.get("path") == "analytical"]
    x = Axis(max(1.0, min(rates) / 1.5), max(2000.0, max(rates) * 1.5), log=True,
             label="achieved ingest rate at send (events/s)")
    y = Axis(max(1e-3, min([*ttas, *targets]) / 2), max([*ttas, *targets]) * 2, log=True, label="TTA (s)")
    chart = Chart(1060, 340, x=x, y=y, title="TTA against achieved ingest rate (the knee at the 1k/s threshold)")
    names = sorted({s.get("tier") or "untiered" for s in analytical})
    for i, name in enumerate(names):
        pts = [(float(s["rate_eps"]), float(s["tta_s"])) for s in analytical
               if (s.get("tier") or "untiered") == name]
        chart.dots(pts, css=f"t{i % 4}", title=f"tier {name}")
    chart.vline(1000, css="threshold", label="1k events/s")
    for t in tiers:
        if t.get("path") != "analytical":
            continue
        lo = t.get("at_least_eps") or x.lo
        hi = t.get("below_eps") or x.hi
        chart.hseg(float(t["target_s"]), float(lo), float(hi), css="target", label=f"{t['tier']} target")
    chart.legend([(f"t{i % 4}", f"tier {n}") for i, n in enumerate(names)])
    return chart.render()


def _rates(files: RunFiles) -> str:
    secs = files.seconds
    t = [float(s.get("t_s", i)) for i, s in enumerate(secs)] or [0.0, 1.0]
    asked = [float(s.get("target_eps") or 0) for s in secs]
    got = [float(s.get("achieved_eps") or 0) for s in secs]
    top = max([1.0, *asked, *got]) * 1.15
    chart = Chart(1060, 300, x=Axis(min(t), max(t), label="elapsed (s)"), y=Axis(0, top, label="events/s"),
                  title="Target against achieved ingest rate")
    chart.line(list(zip(t, asked, strict=False)), css="asked", step=True)
    chart.line(list(zip(t, got, strict=False)), css="achieved")
    if top > 1000:
        chart.hseg(1000, min(t), max(t), css="threshold", label="1k events/s")
    chart.legend([("asked", "target"), ("achieved", "achieved")])
    return chart.render()


def render(files: RunFiles) -> str:
    run = files.run
    tiers = list(run.get("tiers", []))
    code = run.get("exit_code")
    verdict = meaning(code) if isinstance(code, int) else run.get("status", "unknown")
    rows = "".join(
        f"<tr><td class='l'>{escape(str(t['tier']))}</td><td class='l'>{escape(str(t.get('band', '')))}</td>"
        f"<td>{t.get('n')}</td><td>{_f(t.get('p50_s'))}</td><td>{_f(t.get('p95_s'))}</td>"
        f"<td>{_f(t.get('p99_s'))}</td>"
        f"<td>{_f(t.get('ci_low_s'))}–{'∞' if t.get('ci_high_s') is None else _f(t.get('ci_high_s'))}</td>"
        f"<td>{_f(t.get('target_s'))}</td>"
        f"<td class='l'>{escape(count_text(t, 'lost'))}</td><td class='l'>{escape(count_text(t, 'errored'))}</td>"
        f"<td class='l {escape(str(t.get('status')))}'>{escape(status_text(t))}</td>"
        f"<td class='l'>{escape(str(t.get('reason', '')))}</td></tr>"
        for t in tiers
    )
    steps = "".join(
        f"<tr><td>{s.get('step')}</td><td>{_f(s.get('target_eps'))}</td><td>{_f(s.get('achieved_eps'))}</td>"
        f"<td>{_f(s.get('lag_p99_s'))}</td><td class='l {'pass' if s.get('valid') else 'invalid'}'>"
        f"{'valid' if s.get('valid') else 'INVALID'}</td><td class='l'>{escape(str(s.get('reason') or ''))}</td></tr>"
        for s in run.get("steps", [])
    )
    invalid = "".join(f"<li class='invalid'>{escape(str(r))}</li>" for r in run.get("invalid_reasons", []))
    scenario, target = run.get("scenario", {}), run.get("target", {})
    hist = "".join(_tta_histograms(files, tiers))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ingestbench {escape(str(run.get('run_id', '')))}</title>
<style>{CSS}</style></head><body>
<h1>ingestbench run {escape(str(run.get('run_id', files.path.name)))}</h1>
<p><b class="{'pass' if code == 0 else 'fail'}">{escape(str(verdict))}</b> (exit code {_f(code)}).
{escape(str(run.get('gate', {}).get('reason', '')))}<br>
Scenario <code>{escape(str(scenario.get('name', '?')))}</code>, time scale {_f(scenario.get('time_scale'))};
target <code>{escape(str(target.get('name', '?')))}</code> at {escape(str(target.get('url', '?')))};
status {escape(str(run.get('status', '?')))}.</p>
<ul>{invalid}</ul>
<h2>Verdicts per tier</h2>
<table><tr><th class='l'>tier</th><th class='l'>band</th><th>n</th><th>p50 s</th><th>p95 s</th><th>p99 s</th>
<th>95% CI s</th><th>target s</th><th class='l'>lost</th><th class='l'>errored</th><th class='l'>result</th>
<th class='l'>reason</th></tr>{rows}</table>
<h2>Time to availability per tier</h2><div class="charts">{hist}</div>
<h2>Knee</h2><div class="charts">{_knee(files, tiers)}</div>
<h2>Load</h2><div class="charts">{_rates(files)}</div>
<table><tr><th>step</th><th>target events/s</th><th>achieved events/s</th><th>lag p99 s</th><th class='l'>valid</th>
<th class='l'>note</th></tr>{steps}</table>
<script>{SIZE_PROBE}</script>
</body></html>
"""
