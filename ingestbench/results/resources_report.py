"""The target's own CPU and memory in the reports: one table line per observed target (``report.md`` and
``report.html``), and in ``report.html`` its CPU cores and resident memory over time."""

from __future__ import annotations

from html import escape
from typing import Any

from ingestbench.records.fields import known
from ingestbench.records.numbers import fmt
from ingestbench.records.resources import RSS, ResourceLimits, Resources, TargetUsage
from ingestbench.results.svg import Axis, Chart

HEADER = ("target", "measured", "samples", "CPU s", "CPU cores mean", "CPU cores max", "memory MiB mean",
          "memory MiB max", "PSS MiB max")


def _row(t: TargetUsage) -> tuple[str, ...]:
    memory = "RSS of the tree" if t.memory == RSS else "cgroup memory.current"
    return (t.name, f"{t.source}; {memory}", str(len(t.t_s)), fmt(t.cpu_s), fmt(t.cpu_cores_mean),
            fmt(t.cpu_cores_max), fmt(t.rss_mib_mean), fmt(t.rss_mib_max), fmt(t.pss_mib_max))


def limits_text(limits: ResourceLimits) -> str:
    parts = ([f"max_cpu_cores = {limits.max_cpu_cores:g}"] if limits.max_cpu_cores is not None else []) + \
        ([f"max_rss_mib = {limits.max_rss_mib:g}"] if limits.max_rss_mib is not None else [])
    return ", ".join(parts) or "none"


def cost_text(res: Resources) -> str:
    return (f"Sampled every {res.interval_s:g} s from the start of the load to the end of the drain; the sampling "
            f"used {res.sampler_cpu_s:g} CPU s itself, its slowest round {res.sample_ms_max:g} ms.")


def markdown(res: Resources | None, limits: ResourceLimits) -> list[str]:
    """The ``## Target resources`` section (nothing when nothing was observed and no limit is set)."""
    if (res is None or not res.targets) and not limits.set:
        return []
    lines = ["", "## Target resources", ""]
    if res is None or not res.targets:
        return [*lines, f"Nothing was observed (limits: {limits_text(limits)})."]
    lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_row(t)) + " |" for t in res.targets]
    lines += ["", cost_text(res) + f" Limits: {limits_text(limits)}."]
    lines += [f"- {p}" for t in res.targets for p in t.problems]
    return lines


def _chart(res: Resources, *, cpu: bool) -> str:
    series = []
    for t in res.targets:
        values = t.cpu_cores if cpu else t.rss_mib
        series.append([(x, float(v)) for x, v in zip(t.t_s, values, strict=False) if v is not None])
    xs = [x for s in series for x, _ in s] or [0.0, 1.0]
    top = max([0.1 if cpu else 1.0, *(v for s in series for _, v in s)]) * 1.15
    chart = Chart(520, 240, x=Axis(min(xs), max(max(xs), min(xs) + 1), label="elapsed since the load started (s)"),
                  y=Axis(0, top, label="CPU cores" if cpu else "memory (MiB)"),
                  title="Target CPU cores" if cpu else "Target resident memory")
    for k, points in enumerate(series):
        chart.line(points, css=f"res{k % 4}")
    chart.legend([(f"t{k % 4}", t.name) for k, t in enumerate(res.targets)])
    return chart.render()


def limits_of(slo_doc: dict[str, Any]) -> ResourceLimits:
    """The ``[resources]`` limits as ``run.json``'s ``slo`` records them."""
    raw = slo_doc.get("resources")
    return ResourceLimits(**known(ResourceLimits, raw)) if isinstance(raw, dict) else ResourceLimits()


def html(res: Resources | None, limits: ResourceLimits) -> str:
    if (res is None or not res.targets) and not limits.set:
        return ""
    if res is None or not res.targets:
        return f"<h2>Target resources</h2><p>Nothing was observed (limits: {escape(limits_text(limits))}).</p>"
    head = "".join(f"<th class='l'>{escape(h)}</th>" if i < 2 else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(HEADER))
    rows = "".join("<tr>" + "".join(f"<td class='l'>{escape(c)}</td>" if i < 2 else f"<td>{escape(c)}</td>"
                                    for i, c in enumerate(_row(t))) + "</tr>" for t in res.targets)
    problems = "".join(f"<li>{escape(p)}</li>" for t in res.targets for p in t.problems)
    return (f"<h2>Target resources</h2><table class='resources'><tr>{head}</tr>{rows}</table>"
            f"<p>{escape(cost_text(res))} Limits: {escape(limits_text(limits))}.</p><ul>{problems}</ul>"
            f"<div class='charts'>{_chart(res, cpu=True)}{_chart(res, cpu=False)}</div>")
