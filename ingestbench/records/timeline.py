"""The rate timeline (``rates.jsonl``): what the load generator delivered, second by second and step by step.

Written by the generator's master (one ``second`` line per elapsed second, then one ``step`` line per step),
read by the probe and the judge (to tier canaries), the live progress view and the reports. This module is
the one place that knows the line format; everyone else gets typed rows::

    timeline = read_timeline("results/<run>/rates.jsonl")
    [row.achieved_eps for row in timeline.seconds]
    [step.valid for step in timeline.steps]

``unix_s`` is the wall clock at the *end* of a second; ``t_s`` whole seconds since the schedule started.
A line that cannot be read (torn by a crash, another record type) is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.records.fields import known
from ingestbench.records.jsonl import LineTail, parse_objects, write_jsonl_atomic

SECOND, STEP, GENERATOR = "second", "step", "generator"


@dataclass(frozen=True)
class RatePoint:
    """Achieved (and, when known, requested) events/s over the window ending at ``unix_s``."""

    unix_s: float
    achieved_eps: float
    target_eps: float | None = None
    # a stalled window's schedule-lag p99 (0: the generator kept its schedule): sends due from this much before
    # the window's start went out late, so the stall reaches back that far (see SecondRow.stalled)
    behind_s: float = 0.0
    # the continuous shape (a ramp, a replay) the second belongs to (None: a flat step); see LoadConfig.regimes
    regime: int | None = None


@dataclass(frozen=True)
class SecondRow:
    """One second of load: asked, acknowledged, failed, schedule lag, generator CPU."""

    t_s: int
    unix_s: float
    target_eps: float | None
    achieved_eps: float
    sent_events: int = 0
    failed_events: int = 0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    dropped_events: int = 0
    lag_p50_s: float | None = None
    lag_p99_s: float | None = None
    latency_mean_s: float | None = None
    inflight_peak: int | None = None
    generator_cpu: float | None = None
    host_cpu: float | None = None
    step: int | None = None
    valid: bool | None = None
    stalled: bool = False  # lag p99 over the bound while a generator stood still: the generator fell behind
    paused_s: float = 0.0  # the longest any generator process stood still in the second
    regime: int | None = None  # the continuous shape (ramp, replay) of its step; None: a flat step

    @property
    def point(self) -> RatePoint:
        behind = (self.lag_p99_s or 0.0) if self.stalled else 0.0
        return RatePoint(self.unix_s, self.achieved_eps, self.target_eps, behind, self.regime)

    def to_dict(self) -> dict[str, Any]:
        return {"type": SECOND, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SecondRow | None:
        """The row of a ``second`` line; None for other types or a line missing its rate or time."""
        if doc.get("type", SECOND) != SECOND:
            return None
        unix_s, achieved = doc.get("unix_s"), doc.get("achieved_eps")
        if not isinstance(unix_s, int | float) or not isinstance(achieved, int | float):
            return None
        if not _finite(unix_s) or not _finite(achieved):
            return None
        target = doc.get("target_eps")
        return cls(**{**known(cls, doc), "unix_s": float(unix_s), "achieved_eps": float(achieved),
                      "target_eps": float(target) if isinstance(target, int | float) and _finite(target) else None,
                      "t_s": int(doc.get("t_s") or 0), "stalled": doc.get("stalled") is True,
                      "regime": doc["regime"] if type(doc.get("regime")) is int else None})


@dataclass(frozen=True)
class StepRow:
    """One load step's verdict: was the asked-for rate delivered, on time?"""

    step: int
    target_eps: float
    achieved_eps: float
    valid: bool
    reason: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    sent_events: int = 0
    failed_events: int = 0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    dropped_events: int = 0
    lag_p50_s: float | None = None
    lag_p99_s: float | None = None
    generator_cpu_peak: float | None = None
    host_cpu_peak: float | None = None
    stalled_s: int = 0  # seconds of the step in which the generator fell behind its schedule
    allowed_stalled_s: float | None = None  # the most the step may have and stay valid

    def to_dict(self) -> dict[str, Any]:
        return {"type": STEP, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> StepRow | None:
        """The row of a ``step`` line (or of ``run.json``'s ``steps``); None when it is not one."""
        if doc.get("type", STEP) != STEP or not isinstance(doc.get("step"), int):
            return None
        return cls(**{**known(cls, doc), "valid": bool(doc.get("valid")),
                      "target_eps": float(doc.get("target_eps") or 0.0),
                      "achieved_eps": float(doc.get("achieved_eps") or 0.0)})


@dataclass(frozen=True)
class GeneratorRow:
    """One generator process (a Locust worker, or the local runner) over the whole run: what it sent and
    acknowledged, how busy it was, and whether it was lost (gone without handing its share over)."""

    id: str
    sent_events: int = 0
    ok_events: int = 0
    failed_events: int = 0
    dropped_events: int = 0
    achieved_eps: float = 0.0  # events it had acknowledged per second of the seconds it reported
    seconds: int = 0  # seconds of the schedule it reported
    cpu_mean: float | None = None  # its share of a core, mean over the seconds it reported
    cpu_peak: float | None = None
    lost_at_s: float | None = None  # schedule offset at which it vanished without a word (None: it was not lost)

    def to_dict(self) -> dict[str, Any]:
        return {"type": GENERATOR, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> GeneratorRow | None:
        if doc.get("type", GENERATOR) != GENERATOR or not isinstance(doc.get("id"), str):
            return None
        return cls(**known(cls, doc))

    @property
    def lost(self) -> bool:
        return self.lost_at_s is not None


@dataclass(frozen=True)
class RateTimeline:
    seconds: tuple[SecondRow, ...] = ()
    steps: tuple[StepRow, ...] = ()
    generators: tuple[GeneratorRow, ...] = ()

    @property
    def points(self) -> tuple[RatePoint, ...]:
        return tuple(s.point for s in self.seconds)


def parse_rows(docs: list[dict[str, Any]]) -> RateTimeline:
    seconds = [r for r in (SecondRow.from_dict(d) for d in docs if d.get("type", SECOND) == SECOND) if r]
    steps = [r for r in (StepRow.from_dict(d) for d in docs if d.get("type") == STEP) if r]
    generators = [r for r in (GeneratorRow.from_dict(d) for d in docs if d.get("type") == GENERATOR) if r]
    return RateTimeline(tuple(seconds), tuple(steps), tuple(generators))


def write_timeline(path: Path, timeline: RateTimeline) -> None:
    """A whole timeline as a ``rates.jsonl`` file, atomically (a copy of what a probe tiered by)."""
    write_jsonl_atomic(path, [*(r.to_dict() for r in timeline.seconds), *(r.to_dict() for r in timeline.steps),
                              *(r.to_dict() for r in timeline.generators)])


def of_points(points: Sequence[RatePoint]) -> RateTimeline:
    """Rate points sampled elsewhere (a Prometheus query) as a timeline of rows, in time order."""
    ordered = sorted(points, key=lambda p: p.unix_s)
    return RateTimeline(tuple(SecondRow(t_s=i, unix_s=p.unix_s, target_eps=p.target_eps, achieved_eps=p.achieved_eps)
                          for i, p in enumerate(ordered)))


def read_timeline(path: str | Path) -> RateTimeline:
    """Every readable row of a timeline file (empty when the file does not exist)."""
    return parse_rows(LineTail(path).read_objects())


class TimelineTail:
    """Reads a timeline another process is still appending to: each call returns the rows added since."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lines = LineTail(path)

    def read_new(self) -> RateTimeline:
        return parse_rows(parse_objects(self._lines.read_lines()))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
