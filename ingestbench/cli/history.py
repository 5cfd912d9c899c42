"""``ingestbench history``: keep finished runs' metrics in an SQLite file, and gate on change points in them.

    ingestbench history add results/<run-id> --store history.db
    ingestbench history check --store history.db [--scenario NAME] [--markdown summary.md] [--junit history.xml]

``check`` exits 1 when a series' newest change point is a regression among its newest runs, 0 otherwise, and
3 when the store is missing or holds too few valid runs to conclude anything.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ingestbench.cli.help import add_global_options, command
from ingestbench.records.config import ConfigError
from ingestbench.records.exit_codes import ExitCode
from ingestbench.results.history_check import TooFewRuns, check
from ingestbench.results.history_report import junit, markdown, terminal
from ingestbench.results.history_store import HistoryStore
from ingestbench.results.rundir import RunFiles

T = TypeVar("T", int, float)


def _within(kind: Callable[[str], T], low: T, high: T, *, what: str, low_open: bool = False,
            high_open: bool = False) -> Callable[[str], T]:
    """An argparse type: ``kind`` of the text, between ``low`` and ``high`` (each end open or closed)."""
    def convert(value: str) -> T:
        try:
            v = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value!r}") from None
        if (v <= low if low_open else v < low) or (v >= high if high_open else v > high):
            raise argparse.ArgumentTypeError(f"must be {what} from {low} to {high}, got {value}")
        return v
    return convert


_probability = _within(float, 0.0, 1.0, what="a probability", low_open=True, high_open=True)
_percent = _within(float, 0.0, 1000.0, what="a percentage", high_open=True)
_count = _within(int, 1, 10_000, what="a whole number")


def register(sub: Any) -> None:
    h = command(sub, "history", summary="keep runs' metrics in a history file and gate on change points in them",
                description="Keep a metric history across runs in an SQLite file (a CI keeps it as a cache or an "
                "artifact), and find change points in it: 'history add' stores a finished run's verdicts, load "
                "steps and target resources; 'history check' finds where each metric's series changed "
                "(E-divisive means with a Student's t-test, as Apache Otava does) and fails on a regression "
                "among the newest runs.",
                examples=("ingestbench history add results/latest --store history.db",
                          "ingestbench history check --store history.db --markdown history.md"),
                exits="exit codes: 0 added, or no regression among the newest runs · 1 a recent change point is a "
                "regression · 2 bad usage, or the run is already stored · 3 no history, or too few valid runs to "
                "conclude")
    actions = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("add", help="store a finished run's metrics (a run id is stored once)",
                           description="Store a finished run's metrics in the history. A run id already there is "
                           "refused; an invalid run is stored flagged and left out of change detection.")
    add_global_options(a, top=False)
    a.add_argument("run_dir", metavar="RUN_DIR", help="the run's results directory")
    a.add_argument("--store", required=True, metavar="PATH", help="the history file (created when missing)")
    a.set_defaults(func=add)
    c = actions.add_parser("check", help="find change points; fail on a recent regression",
                           description="Find change points in every series of the history (one metric of one "
                           "tier, of one scenario against one target, in the order the runs started) and fail on a "
                           "series whose newest change point is a regression among its newest runs.")
    add_global_options(c, top=False)
    c.add_argument("--store", required=True, metavar="PATH", help="the history file")
    c.add_argument("--scenario", default=None, metavar="NAME", help="only this scenario's runs (default: all)")
    c.add_argument("--min-segment", type=_count, default=3, metavar="N",
                   help="fewest runs on each side of a change point (default 3: one or two odd runs are no change)")
    c.add_argument("--max-pvalue", type=_probability, default=0.001, metavar="P",
                   help="significance a change point needs, Student's t-test between its segments (default 0.001)")
    c.add_argument("--min-change", type=_percent, default=5.0, metavar="PCT",
                   help="ignore changes of the mean smaller than this percentage (default 5)")
    c.add_argument("--min-resource-change", type=_percent, default=25.0, metavar="PCT",
                   help="the same for the target's CPU and memory, which move with a shared machine's other load "
                   "(default 25)")
    c.add_argument("--recent", type=_count, default=None, metavar="N",
                   help="a regression fails the gate while its change point is among a series' newest N runs "
                   "(default 2 x --min-segment)")
    c.add_argument("--markdown", default=None, metavar="PATH", help="also write the result as Markdown here")
    c.add_argument("--junit", default=None, metavar="PATH", help="also write a JUnit file here (a case per series)")
    c.set_defaults(func=check_history)


def add(args: argparse.Namespace) -> int:
    try:
        files = RunFiles.load(Path(args.run_dir), samples=False)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if not files.run.tiers and files.run.ended:
        raise ConfigError(f"{files.path} has no verdicts yet: run `ingestbench report {files.path}` first")
    with HistoryStore.open(Path(args.store), create=True) as store:
        stored = store.add(files.run)
        total = len(store.runs())
    flag = "" if stored.valid else f" flagged invalid, left out of change detection: {stored.invalid_reason}"
    print(f"added run {stored.run_id} ({stored.scenario} against {stored.target}) to {args.store}{flag}; "
          f"{total} run(s) stored")
    return int(ExitCode.OK)


def check_history(args: argparse.Namespace) -> int:
    try:
        with HistoryStore.open(Path(args.store)) as store:
            result = check(store, scenario=args.scenario, min_segment=args.min_segment, max_pvalue=args.max_pvalue,
                           min_change=args.min_change / 100.0, recent=args.recent,
                           min_resource_change=args.min_resource_change / 100.0)
    except (FileNotFoundError, TooFewRuns) as exc:
        print(f"ingestbench history: cannot conclude: {exc}")
        return int(ExitCode.INVALID)
    print(terminal(result))
    for path, text in ((args.markdown, markdown(result)), (args.junit, junit(result))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
    return int(ExitCode.SLO_FAILED if result.failing else ExitCode.OK)
