"""The verdict table printed in a terminal at the end of a probe (``rich``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestbench.records.numbers import fmt
from ingestbench.records.verdicts import FAIL, PASS, TierVerdict
from ingestbench.results.report_md import ci_text, status_text

_STYLE = {PASS: "green", FAIL: "red"}


class Verdict(Protocol):
    """What the table shows: the judge's verdict, or a probe's record of it."""

    @property
    def tiers(self) -> Sequence[TierVerdict]: ...
    @property
    def untiered(self) -> int: ...
    @property
    def invalid_reasons(self) -> Sequence[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...


def verdict_table(result: Verdict, *, title: str = "time to availability") -> Table:
    table = Table(title=title)
    for name in ("tier", "path", "band", "canaries", "n", "p50 s", "p95 s", "p99 s", "max s", "judged s",
                 "95% CI s", "target s", "lost", "late", "errored", "dup", "not judged", "status"):
        left = name in ("tier", "path", "band", "status")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    for v in result.tiers:
        style = _STYLE.get(v.status, "yellow")
        table.add_row(v.tier, v.path, v.band, str(v.canaries), str(v.n), fmt(v.p50_s), fmt(v.p95_s), fmt(v.p99_s),
                      fmt(v.max_s), f"p{v.percentile:g} {fmt(v.judged_s)}", ci_text(v), fmt(v.target_s),
                      str(v.lost), str(v.late), str(v.errored), str(v.duplicates), str(v.excluded),
                      f"[{style}]{escape(status_text(v))}[/{style}]")
    return table


def print_verdicts(console: Console, result: Verdict, *, footer: str | None = None) -> None:
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
