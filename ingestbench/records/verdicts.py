"""Verdicts as the results files keep them: one :class:`TierVerdict` per tier (``run.json``'s ``tiers``,
``probe.json``) and one :class:`JudgedRow` per canary (``judged.jsonl``).

JSON has no infinity, so a value beyond the loss horizon is written as null. Reading back is unambiguous:
a percentile is null only then or when the tier judged nothing (``n == 0``); a confidence bound is null
when its order-statistic rank does not exist (the interval is unbounded on that side), which
``ci_low_rank``/``ci_high_rank`` record, or when the value at an existing rank was a loss.

>>> v = TierVerdict.from_dict({"tier": "high", "n": 40, "p95_s": None, "ci_high_rank": None, "ci_low_rank": 36})
>>> v.p95_s, v.ci_low_s, v.ci_high_s
(inf, inf, None)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from ingestbench.records.fields import known

PASS, FAIL, INSUFFICIENT, INVALID = "pass", "fail", "insufficient", "invalid"
# where a canary was sent, relative to the load's rate changes (see checks.tiering); only steady TTAs are judged
STEADY, WARMUP, TRANSITION, OUTSIDE, STALL = "steady", "warmup", "transition", "outside", "stall"
WINDOWS = (STEADY, WARMUP, TRANSITION, OUTSIDE, STALL)
UNJUDGED = "unjudged"  # only canaries outside the steady window, in a tier the run did not set out to test
_PERCENTILES = ("p50_s", "p90_s", "p95_s", "p99_s", "max_s", "judged_s")


@dataclass(frozen=True)
class TierVerdict:
    tier: str
    path: str = "analytical"
    band: str = ""
    percentile: float = 95.0
    target_s: float = 0.0
    min_samples: int = 20
    loss_horizon_s: float | None = None
    canaries: int = 0
    n: int = 0  # steady canaries judged (available ones and lost ones)
    available: int = 0
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None
    judged_s: float | None = None
    ci_low_s: float | None = None
    ci_high_s: float | None = None
    ci_low_rank: int | None = None
    ci_high_rank: int | None = None
    lost: int = 0  # never seen within the loss horizon, in any window (including those seen late)
    late: int = 0  # of the lost, seen after the horizon
    errored: int = 0
    undecided: int = 0
    allowed_lost: int = 0
    allowed_errored: int = 0
    duplicates: int = 0
    excluded: int = 0  # canaries outside the steady window: their TTA is not judged
    windows: dict[str, dict[str, int]] = field(default_factory=dict)
    status: str = INVALID
    passed: bool = False
    conclusive: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite values (beyond the loss horizon) become null."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TierVerdict:
        kw = known(cls, doc)
        if "judged_s" not in doc and "p95_s" in doc:  # the oldest records judged the p95 only
            kw["judged_s"] = doc["p95_s"]
        v = cls(**kw)
        if v.n:
            kw.update({k: math.inf for k in _PERCENTILES if k in kw and kw[k] is None})
            if v.ci_low_s is None and v.ci_low_rank is not None:
                kw["ci_low_s"] = math.inf
            if v.ci_high_s is None and v.ci_high_rank is not None:
                kw["ci_high_s"] = math.inf
        return cls(**kw)


@dataclass(frozen=True)
class JudgedRow:
    """One canary as the judge placed it: a line of ``judged.jsonl`` (its facts are in ``samples.jsonl``)."""

    canary_id: str
    path: str
    tier: str | None
    window: str
    rate_eps: float | None
    outcome: str
    tta_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> JudgedRow | None:
        """The row of a line, or None when it lacks the canary's id or path."""
        cid, path = doc.get("canary_id"), doc.get("path")
        if not isinstance(cid, str) or not isinstance(path, str):
            return None
        return cls(cid, path, doc.get("tier"), str(doc.get("window")), doc.get("rate_eps"),
                   str(doc.get("outcome")), doc.get("tta_s"))


JUDGED_COLUMNS = tuple(f.name for f in fields(JudgedRow))


def write_judged_rows(path: Path, slices: Iterable[Mapping[str, Any]]) -> None:
    """``judged.jsonl``, atomically, from slices of columns: each slice has exactly :class:`JudgedRow`'s fields,
    in its order (a line per canary; NaN becomes null), so memory stays flat for any run size."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as fh:
            for columns in slices:
                if tuple(columns) != JUDGED_COLUMNS:
                    raise ValueError(f"judged rows need the columns {JUDGED_COLUMNS}, got {tuple(columns)}")
                pl.DataFrame(dict(columns)).with_columns(pl.selectors.float().fill_nan(None)).write_ndjson(fh)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_judged_rows(path: Path) -> Iterator[JudgedRow]:
    """The rows of a ``judged.jsonl`` (a torn last line, from a crash mid-write, is skipped)."""
    with path.open("rb") as fh:
        for line in fh:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            row = JudgedRow.from_dict(doc) if isinstance(doc, dict) else None
            if row is not None:
                yield row


def read_judged_ttas(path: Path, outcomes: tuple[str, ...], window: str = STEADY) -> dict[str, np.ndarray]:
    """Per tier, the TTAs of the canaries of ``judged.jsonl`` in ``window`` with one of ``outcomes``, as one
    columnar read (a hundred thousand canaries in a fraction of a second): an ``available`` canary's TTA, any
    other's ``+inf`` (lost: never seen within its horizon). Lines that do not parse as rows are skipped."""
    try:
        frame = pl.read_ndjson(path, schema={"tier": pl.String, "window": pl.String, "outcome": pl.String,
                                             "tta_s": pl.Float64}, ignore_errors=True)
    except pl.exceptions.ComputeError:  # a torn last line: read row by row instead
        rows = [r for r in read_judged_rows(path)]
        frame = pl.DataFrame({"tier": [r.tier for r in rows], "window": [r.window for r in rows],
                              "outcome": [r.outcome for r in rows], "tta_s": [r.tta_s for r in rows]},
                             schema={"tier": pl.String, "window": pl.String, "outcome": pl.String,
                                     "tta_s": pl.Float64})
    frame = frame.filter((pl.col("window") == window) & pl.col("outcome").is_in(list(outcomes))
                         & pl.col("tier").is_not_null())
    frame = frame.with_columns(pl.when(pl.col("outcome") == "available").then(pl.col("tta_s").fill_null(math.inf))
                               .otherwise(math.inf).alias("value"))
    return {str(tier): np.sort(group["value"].to_numpy()) for (tier,), group in frame.group_by("tier")}
