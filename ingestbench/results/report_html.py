"""``report.html``: one self-contained page (inline CSS and SVG, no network) with the run's charts.

Charts: TTA distribution per tier with its target line; TTA against the achieved ingest rate at send time
(log-log, with the 1k events/s threshold and each tier's target over its band: the knee shows here);
target against achieved ingest rate over time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

from ingestbench.checks.tiering import WINDOW_CODE
from ingestbench.records.numbers import fmt
from ingestbench.records.observation import ANALYTICAL, AVAILABLE
from ingestbench.records.samples import OUTCOME_CODE
from ingestbench.records.verdicts import STEADY, TierVerdict
from ingestbench.results import generators_report, resources_report
from ingestbench.results.report_md import ci_text, count_text, status_text, verdict_text
from ingestbench.results.rundir import RunFiles
from ingestbench.results.svg import Axis, Chart

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
.stall{fill:#e8a33d} .legend.stall{fill:#e8a33d}
.res0{stroke:#4f7cd6;stroke-width:1.6} .res1{stroke:#e07b00;stroke-width:1.6} .res2{stroke:#8b5cf6;stroke-width:1.6}
.res3{stroke:#14b8a6;stroke-width:1.6}
.t0{fill:#4f7cd6;opacity:.75} .t1{fill:#e07b00;opacity:.75} .t2{fill:#8b5cf6;opacity:.75} .t3{fill:#14b8a6}
.legend.t0{fill:#4f7cd6} .legend.t1{fill:#e07b00} .legend.t2{fill:#8b5cf6} .legend.t3{fill:#14b8a6}
"""

# Marks every chart with its laid-out size, so a headless browser check can tell the page rendered.
SIZE_PROBE = ("document.querySelectorAll('svg.chart').forEach(function(s){var r=s.getBoundingClientRect();"
              "s.setAttribute('data-rendered',Math.round(r.width)+'x'+Math.round(r.height));});")


def _f(v: Any) -> str:
    return escape(fmt(v))


KNEE_POINTS_PER_TIER = 1500  # a random sample beyond this: the page stays small for any run size


def _steady_ttas(files: RunFiles, index: int) -> np.ndarray:
    """The TTAs judged for tier ``index`` (steady, available)."""
    j = files.judged
    if j is None:
        return np.empty(0)
    mine = (j.tier == index) & (j.window == WINDOW_CODE[STEADY]) & (j.outcome == OUTCOME_CODE[AVAILABLE])
    ttas: np.ndarray = j.tta_s[mine]
    return ttas


def _tta_histograms(files: RunFiles, tiers: Sequence[TierVerdict]) -> list[str]:
    charts = []
    names = list(files.judged.tier_names) if files.judged is not None else []
    for tier in tiers:
        values = _steady_ttas(files, names.index(tier.tier)) if tier.tier in names else np.empty(0)
        target = float(tier.target_s or 1.0)
        hi = max(target * 1.25, float(values.max()) if values.size else 0.0)
        bins = 30
        counts, edges = np.histogram(np.clip(values, 0.0, hi), bins=bins, range=(0.0, hi))
        chart = Chart(520, 260, x=Axis(0, hi, label="time to availability (s)"),
                      y=Axis(0, max(1, int(counts.max()) if counts.size else 1) * 1.1, label="canaries"),
                      title=f"TTA, tier {tier.tier} ({tier.band}): n={values.size:,}")
        chart.bars([float(e) for e in edges], [int(c) for c in counts], css="bar")
        chart.vline(target, css="target", label=f"target {target:g} s")
        if tier.p95_s is not None and math.isfinite(tier.p95_s):
            chart.vline(tier.p95_s, css="threshold", label=f"p95 {fmt(tier.p95_s)} s", row=1)
        charts.append(chart.render())
    return charts


def _knee(files: RunFiles, tiers: Sequence[TierVerdict]) -> str:
    j = files.judged
    names = list(j.tier_names) if j is not None else []
    picked: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    rng = np.random.default_rng(0)
    for t in tiers:
        if t.path != ANALYTICAL or j is None or t.tier not in names:
            continue
        i = names.index(t.tier)
        mine = ((j.tier == i) & (j.window == WINDOW_CODE[STEADY]) & (j.outcome == OUTCOME_CODE[AVAILABLE])
                & (j.tta_s > 0) & (j.rate_eps > 0))
        rows = np.flatnonzero(mine)
        shown = rows if rows.size <= KNEE_POINTS_PER_TIER else np.sort(rng.choice(rows, KNEE_POINTS_PER_TIER, False))
        picked[t.tier] = (j.rate_eps[shown], j.tta_s[shown], int(rows.size))
    rates = np.concatenate([r for r, _, _ in picked.values()]) if picked else np.array([100.0, 10_000.0])
    ttas = np.concatenate([v for _, v, _ in picked.values()]) if picked else np.array([0.1, 10.0])
    if not rates.size:
        rates, ttas = np.array([100.0, 10_000.0]), np.array([0.1, 10.0])
    targets = [t.target_s for t in tiers if t.path == ANALYTICAL]
    x = Axis(max(1.0, float(rates.min()) / 1.5), max(2000.0, float(rates.max()) * 1.5), log=True,
             label="achieved ingest rate at send (events/s)")
    y = Axis(max(1e-3, min([float(ttas.min()), *targets]) / 2), max([float(ttas.max()), *targets]) * 2, log=True,
             label="TTA (s)")
    sampled = [f"{name}: {min(total, KNEE_POINTS_PER_TIER):,} of {total:,}" for name, (_, _, total) in
               picked.items() if total > KNEE_POINTS_PER_TIER]
    title = "TTA against achieved ingest rate (the knee at the 1k/s threshold)" + (
        f"; a random sample of canaries ({'; '.join(sampled)})" if sampled else "")
    chart = Chart(1060, 340, x=x, y=y, title=title)
    for k, (name, (r, v, _)) in enumerate(picked.items()):
        chart.dots(list(zip(r.tolist(), v.tolist(), strict=True)), css=f"t{k % 4}", title=f"tier {name}")
    chart.vline(1000, css="threshold", label="1k events/s")
    bands = {t["name"]: t for t in files.run.slo.get("tiers", [])}
    for t in tiers:
        if t.path != ANALYTICAL:
            continue
        lo = bands.get(t.tier, {}).get("at_least_eps") or x.lo
        hi = bands.get(t.tier, {}).get("below_eps") or x.hi
        chart.hseg(t.target_s, float(lo), float(hi), css="target", label=f"{t.tier} target")
    chart.legend([(f"t{k % 4}", f"tier {n}") for k, n in enumerate(picked)])
    return chart.render()


def _rates(files: RunFiles) -> str:
    secs = files.timeline.seconds
    t = [float(s.t_s) for s in secs] or [0.0, 1.0]
    asked = [float(s.target_eps or 0) for s in secs]
    got = [s.achieved_eps for s in secs]
    top = max([1.0, *asked, *got]) * 1.15
    chart = Chart(1060, 300, x=Axis(min(t), max(t), label="elapsed (s)"), y=Axis(0, top, label="events/s"),
                  title="Target against achieved ingest rate")
    chart.line(list(zip(t, asked, strict=False)), css="asked", step=True)
    chart.line(list(zip(t, got, strict=False)), css="achieved")
    stalls = [(float(s.t_s), s.achieved_eps) for s in secs if s.stalled]
    chart.dots(stalls, css="stall", r=4, title="the generator fell behind its schedule: canaries not judged")
    if top > 1000:
        chart.hseg(1000, min(t), max(t), css="threshold", label="1k events/s")
    chart.legend([("asked", "target"), ("achieved", "achieved")] + ([("stall", "stalled second")] if stalls else []))
    return chart.render()


def render(files: RunFiles) -> str:
    run = files.run
    tiers = run.tiers
    code = run.exit_code
    rows = "".join(
        f"<tr><td class='l'>{escape(t.tier)}</td><td class='l'>{escape(t.band)}</td>"
        f"<td>{t.canaries}</td><td>{t.n}</td><td>{_f(t.p50_s)}</td><td>{_f(t.p95_s)}</td><td>{_f(t.p99_s)}</td>"
        f"<td>{escape(ci_text(t))}</td><td>{_f(t.target_s)}</td>"
        f"<td class='l'>{escape(count_text(t, 'lost'))}</td><td class='l'>{escape(count_text(t, 'errored'))}</td>"
        f"<td class='l {escape(t.status)}'>{escape(status_text(t))}</td><td class='l'>{escape(t.reason)}</td></tr>"
        for t in tiers
    )
    steps = "".join(
        f"<tr><td>{s.step}</td><td>{_f(s.target_eps)}</td><td>{_f(s.achieved_eps)}</td>"
        f"<td>{_f(s.lag_p99_s)}</td><td>{s.stalled_s if s.allowed_stalled_s is not None else '-'}</td>"
        f"<td class='l {'pass' if s.valid else 'invalid'}'>"
        f"{'valid' if s.valid else 'INVALID'}</td><td class='l'>{escape(s.reason or '')}</td></tr>"
        for s in run.steps
    )
    invalid = "".join(f"<li class='invalid'>{escape(r)}</li>" for r in run.invalid_reasons)
    invalid += "".join(f"<li>note: {escape(n)}</li>" for n in run.notes)
    scenario, target = run.scenario, run.target
    hist = "".join(_tta_histograms(files, tiers))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ingestbench {escape(run.run_id)}</title>
<style>{CSS}</style></head><body>
<h1>ingestbench run {escape(run.run_id)}</h1>
<p><b class="{'pass' if code == 0 else 'fail'}">{escape(verdict_text(files))}</b> (exit code {_f(code)}).
{escape(run.gate.reason if run.gate else '')}<br>
Scenario <code>{escape(scenario.name)}</code>, time scale {_f(scenario.time_scale)};
target <code>{escape(target.name)}</code> at {escape(target.url or '?')};
status {escape(run.status)}.</p>
<ul>{invalid}</ul>
<h2>Verdicts per tier</h2>
<table><tr><th class='l'>tier</th><th class='l'>band</th><th>canaries</th><th>n</th><th>p50 s</th><th>p95 s</th>
<th>p99 s</th><th>95% CI s</th><th>target s</th><th class='l'>lost</th><th class='l'>errored</th>
<th class='l'>result</th><th class='l'>reason</th></tr>{rows}</table>
<h2>Time to availability per tier</h2><div class="charts">{hist}</div>
<h2>Knee</h2><div class="charts">{_knee(files, tiers)}</div>
<h2>Load</h2><div class="charts">{_rates(files)}</div>
<table><tr><th>step</th><th>target events/s</th><th>achieved events/s</th><th>lag p99 s</th><th>stalled s</th>
<th class='l'>valid</th>
<th class='l'>note</th></tr>{steps}</table>
{generators_report.html(run.generators)}
{resources_report.html(run.resources, resources_report.limits_of(run.slo))}
<script>{SIZE_PROBE}</script>
</body></html>
"""
