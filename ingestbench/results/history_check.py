"""``ingestbench history check``: the change points of every series of a history, and which of them fail the gate.

A series is one metric of one tier (or of the whole run) of one scenario against one target, its valid runs in
the order they started. A change point is reported with the run that starts the new segment, the means of the
segments before and after it, the relative change and its p-value (results.changepoints). It fails the gate
when it is the series' last change point, it lies among the newest ``recent`` points of the series, and the
new segment is worse (higher for latencies, losses, errors and resources; lower for rates and canaries sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingestbench.results.changepoints import change_points
from ingestbench.results.history_store import RESOURCE_METRICS, HistoryStore, Point, StoredRun, higher_is_worse

SeriesKey = tuple[str, str, str, str]  # scenario, target, tier ('' for the whole run), metric
# The target's CPU and memory move with the machine's other load (on a shared CI runner, 10-15 % with no change of
# code: docs/gates.md); their changes count from this share unless --min-change is larger.
MIN_RESOURCE_CHANGE = 0.25


def is_resource(metric: str) -> bool:
    return metric.rpartition(".")[2] in RESOURCE_METRICS


class TooFewRuns(Exception):
    """Nothing can be concluded: the message says what is missing."""


@dataclass(frozen=True)
class Change:
    key: SeriesKey
    run_id: str
    started_unix_s: float
    position: int  # the index of run_id in its series
    points: int  # the series' length
    before: float
    after: float
    change: float  # after / before - 1
    pvalue: float
    regression: bool
    fails: bool  # a regression that fails the gate


@dataclass(frozen=True)
class CheckResult:
    runs: int  # valid runs considered
    checked: tuple[SeriesKey, ...]  # series long enough to be checked
    changes: tuple[Change, ...]
    short: tuple[SeriesKey, ...] = ()  # series too short to conclude
    excluded: tuple[StoredRun, ...] = ()  # runs stored flagged invalid
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def series(self) -> int:
        return len(self.checked)

    @property
    def failing(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.fails)


def series_changes(key: SeriesKey, points: Sequence[Point], *, min_segment: int, max_pvalue: float,
                   min_change: float, recent: int) -> list[Change]:
    """The change points of one series (``min_change`` a fraction: smaller relative changes are merged away)."""
    found = change_points([p.value for p in points], max_pvalue=max_pvalue, min_magnitude=min_change,
                          min_segment=min_segment)
    worse_up = higher_is_worse(key[3])
    out = []
    for i, cp in enumerate(found):
        regression = cp.mean_after > cp.mean_before if worse_up else cp.mean_after < cp.mean_before
        last_and_recent = i == len(found) - 1 and cp.index >= len(points) - recent
        p = points[cp.index]
        out.append(Change(key, p.run_id, p.started_unix_s, cp.index, len(points), cp.mean_before, cp.mean_after,
                          cp.change, cp.pvalue, regression, regression and last_and_recent))
    return out


def check(store: HistoryStore, *, scenario: str | None = None, min_segment: int = 3, max_pvalue: float = 0.001,
          min_change: float = 0.05, recent: int | None = None,
          min_resource_change: float = MIN_RESOURCE_CHANGE) -> CheckResult:
    """Check every series of ``store`` (of ``scenario``); raises :class:`TooFewRuns` when no series has the
    ``2 * min_segment`` valid runs a change point needs."""
    recent = 2 * min_segment if recent is None else recent
    stored = store.runs(scenario)
    valid = [r for r in stored if r.valid]
    what = f"scenario {scenario}" if scenario else "any scenario"
    need = 2 * min_segment
    if not stored:
        raise TooFewRuns(f"{store.path} holds no run of {what}: add runs with `ingestbench history add`")
    all_series = store.series(scenario)
    long_enough = {k: v for k, v in all_series.items() if len(v) >= need}
    if not long_enough:
        raise TooFewRuns(f"{store.path} holds {len(valid)} valid run(s) of {what} ({len(stored) - len(valid)} "
                         f"invalid): a change point needs at least {need} (2 x --min-segment {min_segment})")
    changes = [c for k, points in sorted(long_enough.items())
               for c in series_changes(k, points, min_segment=min_segment, max_pvalue=max_pvalue,
                                       min_change=max(min_change, min_resource_change) if is_resource(k[3])
                                       else min_change, recent=recent)]
    return CheckResult(runs=len(valid), checked=tuple(sorted(long_enough)), changes=tuple(changes),
                       short=tuple(sorted(k for k in all_series if k not in long_enough)),
                       excluded=tuple(r for r in stored if not r.valid),
                       settings={"min_segment": min_segment, "max_pvalue": max_pvalue, "min_change": min_change,
                                 "min_resource_change": min_resource_change, "recent": recent})
