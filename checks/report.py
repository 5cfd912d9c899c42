"""The verdict table printed at the end of a probe (and reusable by the run orchestrator)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from checks.gate import FAIL, PASS, GateResult, TierVerdict

_STYLE = {PASS: "green", FAIL: "red"}


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "lost"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def verdict_table(result: GateResult, *, title: str = "time to availability") -> Table:
    table = Table(title=title)
    for name in ("tier", "path", "band", "n", "p50 s", "p95 s", "p99 s", "max s", "judged s", "95% CI s",
                 "target s", "lost", "late", "errored", "dup", "warm-up", "status"):
        left = name in ("tier", "path", "band", "status")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    for v in result.verdicts:
        table.add_row(*_row(v))
    return table


def _row(v: TierVerdict) -> list[str]:
    ci = "-" if v.ci_low_s is None else f"{_s(v.ci_low_s)}–{_s(v.ci_high_s) if v.ci_high_s is not None else '?'}"
    style = _STYLE.get(v.status, "yellow")
    return [v.tier, v.path, v.band, str(v.n), _s(v.p50_s), _s(v.p95_s), _s(v.p99_s), _s(v.max_s),
            f"p{v.percentile:g} {_s(v.judged_s)}", ci, f"{v.target_s:g}", str(v.lost), str(v.late),
            str(v.errored), str(v.duplicates), str(v.warmup), f"[{style}]{v.status}[/{style}]"]


def print_verdicts(console: Console, result: GateResult, *, footer: str | None = None) -> None:
    """The table, one reason line per tier, and the overall status."""
    if result.verdicts:
        console.print(verdict_table(result))
    for v in result.verdicts:
        console.print(f"  {v.tier}: {v.reason}", markup=False, highlight=False)
    if result.untiered:
        console.print(f"  {result.untiered} observation(s) had no tier (rate unknown or outside every band).")
    if result.unobserved:
        console.print(f"  no observations for tier {', '.join(result.unobserved)}.")
    if footer:
        console.print(f"  {footer}", markup=False, highlight=False)
    style = _STYLE.get(result.status, "yellow")
    console.print(f"[{style}]{result.status.upper()}[/{style}]: {result.reason}", highlight=False)
