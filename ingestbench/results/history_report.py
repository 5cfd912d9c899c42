"""What ``ingestbench history check`` shows: a terminal table, a Markdown summary (a CI job's step summary) and a
JUnit file with one test case per series checked (a failure for a change point that fails the gate)."""

from __future__ import annotations

import time
from xml.etree import ElementTree as ET

from ingestbench.records.numbers import fmt
from ingestbench.results.history_check import Change, CheckResult, SeriesKey

HEADER = ("scenario", "target", "tier", "metric", "from run", "started (UTC)", "before", "after", "change",
          "p-value", "verdict")


def series_name(key: SeriesKey) -> str:
    scenario, target, tier, metric = key
    return f"{scenario} · {target} · {tier or 'run'} · {metric}"


def _when(unix_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(unix_s))


def verdict(c: Change) -> str:
    if c.fails:
        return "REGRESSION (fails the gate)"
    if c.regression:
        last = c.points - c.position
        return f"regression, older ({last} runs since)"
    return "improvement"


def row(c: Change) -> tuple[str, ...]:
    scenario, target, tier, metric = c.key
    return (scenario, target, tier or "run", metric, c.run_id, _when(c.started_unix_s), fmt(c.before), fmt(c.after),
            f"{c.change:+.1%}", f"{c.pvalue:.2g}", verdict(c))


def summary(result: CheckResult) -> str:
    s = result.settings
    return (f"{result.runs} valid runs, {result.series} series checked; {len(result.changes)} change point(s), "
            f"{len(result.failing)} failing the gate (min segment {s['min_segment']:g} runs, p <= "
            f"{s['max_pvalue']:g}, changes under {s['min_change']:.0%} ignored, a regression fails while among "
            f"the newest {s['recent']:g} runs)")


def terminal(result: CheckResult) -> str:
    lines = []
    if result.changes:
        rows = [HEADER, *(row(c) for c in result.changes)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    else:
        lines.append("no change point in any series")
    lines += [f"excluded: run {r.run_id}: {r.invalid_reason}" for r in result.excluded]
    if result.short:
        lines.append(f"{len(result.short)} series too short to check (fewer than 2 x min segment runs)")
    lines.append(summary(result))
    return "\n".join(lines)


def markdown(result: CheckResult) -> str:
    status = "❌ a regression fails the gate" if result.failing else "✅ no regression among the newest runs"
    lines = ["## Metric history: change points", "", f"**{status}.** {summary(result)}.", ""]
    if result.changes:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row(c)) + " |" for c in result.changes]
    else:
        lines.append("No change point in any series.")
    if result.excluded:
        lines += ["", "Runs left out (invalid):", ""]
        lines += [f"- `{r.run_id}`: {r.invalid_reason}" for r in result.excluded]
    return "\n".join(lines) + "\n"


def junit(result: CheckResult) -> str:
    """One test case per series checked."""
    suite = ET.Element("testsuite", name="ingestbench.history")
    by_key: dict[SeriesKey, list[Change]] = {}
    for c in result.changes:
        by_key.setdefault(c.key, []).append(c)
    failures = 0
    for key in result.checked:
        case = ET.SubElement(suite, "testcase", classname="ingestbench.history", name=series_name(key))
        changes = by_key.get(key, [])
        failing = [c for c in changes if c.fails]
        if failing:
            failures += 1
            c = failing[0]
            ET.SubElement(case, "failure", type="regression",
                          message=f"{c.key[3]} changed {c.change:+.1%} from run {c.run_id}: {fmt(c.before)} -> "
                                  f"{fmt(c.after)} (p {c.pvalue:.2g})")
        if changes:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"run {c.run_id}: {fmt(c.before)} -> {fmt(c.after)} ({c.change:+.1%}, p {c.pvalue:.2g}): "
                f"{verdict(c)}" for c in changes)
    suite.set("tests", str(len(result.checked)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
