"""A comparison as a terminal table, as Markdown (a CI job summary) and as JUnit XML (one test case per subject
and metric; a regression is a failure naming the change and its interval)."""

from __future__ import annotations

import math
from xml.etree import ElementTree as ET

from ingestbench.records.compare_rules import SHARE_METRICS
from ingestbench.records.numbers import fmt
from ingestbench.results.compare import Comparison, MetricDiff

HEADER = ("subject", "metric", "baseline", "candidate", "change", "interval", "P(worse)", "verdict")


def value_text(row: MetricDiff, value: float | None) -> str:
    if value is None:
        return "–"
    if row.metric in SHARE_METRICS:
        return f"{value:.2%}"
    if row.unit == "s":
        return f"{fmt(value)} s"
    return f"{value:,.0f} {row.unit}" if abs(value) >= 100 else f"{value:.3g} {row.unit}"


def _pct(value: float, share: bool) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    return f"{value * 100:+.2f} pt" if share else f"{value:+.1%}"


def change_text(row: MetricDiff) -> str:
    return "–" if row.change is None else _pct(row.change.change, row.metric in SHARE_METRICS)


def interval_text(row: MetricDiff) -> str:
    ch = row.change
    if ch is None or ch.low is None or ch.high is None or ch.level is None:
        return "–"
    share = row.metric in SHARE_METRICS
    return f"{_pct(ch.low, share)} … {_pct(ch.high, share)} ({ch.level:.0%})"


def verdict_text(row: MetricDiff) -> str:
    return f"REGRESSION: {row.note}" if row.regressed else row.note


def cells(row: MetricDiff) -> tuple[str, ...]:
    p = "–" if row.change is None or row.change.p_worse is None else f"{row.change.p_worse:.0%}"
    return (row.subject, row.metric, value_text(row, row.base), value_text(row, row.candidate), change_text(row),
            interval_text(row), p, verdict_text(row))


def summary(result: Comparison) -> str:
    if result.problems:
        return "CANNOT COMPARE: " + result.problems[0] + (f" (and {len(result.problems) - 1} more)"
                                                          if len(result.problems) > 1 else "")
    bad = result.regressions
    if not bad:
        return f"no regression in {len(result.rows)} comparisons"
    return f"REGRESSION in {', '.join(f'{r.subject} {r.metric}' for r in bad)}"


def terminal(result: Comparison, heading: str) -> str:
    rows = [HEADER, *(cells(r) for r in result.rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = [heading, *(f"note: {n}" for n in result.notes), *(f"cannot compare: {p}" for p in result.problems)]
    if result.rows:
        lines.append("")
        lines += ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines += ["", summary(result)]
    return "\n".join(lines) + "\n"


def markdown(result: Comparison, heading: str) -> str:
    lines = [f"# ingestbench compare: {summary(result)}", "", heading, ""]
    lines += [f"> {n}" for n in result.notes] + ([""] if result.notes else [])
    lines += [f"- cannot compare: {p}" for p in result.problems] + ([""] if result.problems else [])
    if result.rows:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        for r in result.rows:
            c = list(cells(r))
            c[-1] = f"❌ regression: {r.note}" if r.regressed else c[-1]
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    return "\n".join(lines) + "\n"


def junit(result: Comparison) -> str:
    suite = ET.Element("testsuite", name="ingestbench.compare")
    cases: list[ET.Element] = []
    for problem in result.problems:
        case = ET.Element("testcase", classname="ingestbench.compare", name="comparable")
        ET.SubElement(case, "error", message=problem, type="invalid")
        cases.append(case)
    for r in result.rows:
        case = ET.Element("testcase", classname=f"ingestbench.compare.{r.subject}", name=f"{r.subject} {r.metric}")
        if r.regressed:
            ET.SubElement(case, "failure", type="regression", message=(
                f"{r.subject} {r.metric} changed {change_text(r)} (interval {interval_text(r)}), "
                f"{value_text(r, r.base)} -> {value_text(r, r.candidate)}: {r.note}"))
        cases.append(case)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(len(result.regressions)))
    suite.set("errors", str(len(result.problems)))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
