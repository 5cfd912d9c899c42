"""The verdict table printed at the end of a probe (and reusable by the run orchestrator)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from checks.judge import FAIL, PASS, RunVerdict, TierVerdict

_STYLE = {PASS: "green", FAIL: "red"}


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "lost"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def verdict_table(result: RunVerdict, *, title: str = "time to availability") -> Table:
    table = Table(title=title)
    for name in ("tier", "path", "band", "canaries", "n", "p50 s", "p95 s", "p99 s", "max s", "judged s",
                 "95% CI s", "target s", "lost", "late", "errored", "dup", "not judged", "status"):
        left = name in ("tier", "path", "band", "status")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    for v in result.tiers:
        table.add_row(*_row(v))
    return table


def _row(v: TierVerdict) -> list[str]:
    ci = "-" if v.ci_low_s is None else f"{_s(v.ci_low_s)}–{_s(v.ci_high_s) if v.ci_high_s is not None else '?'}"
    style = _STYLE.get(v.status, "yellow")
    status = v.status if v.conclusive else f"{v.status} (not conclusive)"
    return [v.tier, v.path, v.band, str(v.canaries), str(v.n), _s(v.p50_s), _s(v.p95_s), _s(v.p99_s), _s(v.max_s),
            f"p{v.percentile:g} {_s(v.judged_s)}", ci, f"{v.target_s:g}", str(v.lost), str(v.late),
            str(v.errored), str(v.duplicates), str(v.excluded), f"[{style}]{status}[/{style}]"]


def print_verdicts(console: Console, result: RunVerdict, *, footer: str | None = None) -> None:
    """The table, one reason line per tier, the reasons the run is invalid and the overall status."""
    if result.tiers:
        console.print(verdict_table(result))
    for v in result.tiers:
        console.print(f"  {v.tier}: {v.reason}", markup=False, highlight=False)
    if result.untiered:
        console.print(f"  {result.untiered} canaries had no tier (their rate is outside every band).")
    for reason in result.invalid_reasons:
        console.print(f"  invalid: {reason}", markup=False, highlight=False)
    if footer:
        console.print(f"  {footer}", markup=False, highlight=False)
    style = _STYLE.get(result.status, "yellow")
    console.print(f"[{style}]{result.status.upper()}[/{style}]: {escape(result.reason)}", highlight=False)
