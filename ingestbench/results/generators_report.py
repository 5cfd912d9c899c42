"""The generator processes of a run in the reports: per process, the events it sent and had acknowledged, its
rate, its CPU, and whether it was lost. One table for the Markdown and one for the HTML report; nothing when the
timeline names no generator (a probe on its own)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ingestbench.records.timeline import GeneratorRow

HEADINGS = ("generator", "sent events", "acknowledged", "failed", "dropped", "events/s", "CPU mean", "CPU peak",
            "state")


def _cells(g: GeneratorRow) -> tuple[str, ...]:
    def share(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    state = f"LOST at {g.lost_at_s:g} s" if g.lost_at_s is not None else "ok"
    return (g.id, str(g.sent_events), str(g.ok_events), str(g.failed_events), str(g.dropped_events),
            f"{g.achieved_eps:.1f}", share(g.cpu_mean), share(g.cpu_peak), state)


def markdown(generators: Sequence[GeneratorRow]) -> list[str]:
    if not generators:
        return []
    lines = ["", "## Generators", "", "CPU is each process's share of one core; events/s is per second it reported.",
             "", "| " + " | ".join(HEADINGS) + " |", "|" + "---|" * len(HEADINGS)]
    for g in generators:
        cells = list(_cells(g))
        cells[0] = f"`{cells[0]}`"
        if g.lost:
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def html(generators: Sequence[GeneratorRow]) -> str:
    if not generators:
        return ""
    head = "".join(f"<th class='l'>{h}</th>" if i in (0, 8) else f"<th>{h}</th>" for i, h in enumerate(HEADINGS))
    rows = ""
    for g in generators:
        cells = _cells(g)
        state_class = "invalid" if g.lost else "pass"
        rows += ("<tr>" + f"<td class='l'><code>{escape(cells[0])}</code></td>"
                 + "".join(f"<td>{escape(c)}</td>" for c in cells[1:-1])
                 + f"<td class='l {state_class}'>{escape(cells[-1])}</td></tr>")
    return f"<h2>Generators</h2><table><tr>{head}</tr>{rows}</table>"
