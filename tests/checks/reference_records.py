"""The oracle's own reading of a promise file and of a run's records, from the documented formats alone.

Written against the README and the file formats, not against the product's modules: nothing here is imported
from the product (``tests/checks/test_oracle_independent.py`` parses this file to make sure), so a fault in the
product's parsing or reading is not shared by the oracle that checks it.

- The promise: a TOML file (or the same document as a dict) with ``[[tier]]`` tables; defaults at the top
  (``lost_after``, ``max_lost``, ``max_errored``, ``warmup_min_s``) and overrides per tier. Durations are
  stored unscaled; the oracle scales them by the run's time scale when asked for one.
- ``samples.jsonl``: one JSON object per line; a line that does not parse, or lacks the keys an observation
  needs, is skipped.
- ``rates.jsonl``: ``second`` lines (a type-less line is one) and ``step`` lines.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

SPAN_S = 1.0  # every rate point covers the second before its timestamp
RATE_WINDOW_UNSCALED_S = 5.0


@dataclass(frozen=True)
class Allowance:
    """A budget: a fixed count of canaries, or a share (exact fraction) of a tier's canaries."""

    count: int = 0
    share: Fraction | None = None

    def of(self, canaries: int) -> int:
        return math.floor(self.share * canaries) if self.share is not None else self.count


@dataclass(frozen=True)
class Band:
    """One tier as written in the file (durations unscaled)."""

    name: str
    path: str
    target: float
    percentile: float
    min_samples: int
    at_least: float | None
    below: float | None
    horizon_times: float | None  # "Nx": N times the target
    horizon_seconds: float | None
    lost_budget: Allowance
    error_budget: Allowance

    @property
    def any_rate(self) -> bool:
        return self.at_least is None and self.below is None

    def holds(self, path: str, rate: float | None) -> bool:
        if path != self.path:
            return False
        if self.any_rate:
            return True
        if rate is None or math.isnan(rate):
            return False
        return (self.at_least is None or self.at_least <= rate) and (self.below is None or rate < self.below)


@dataclass(frozen=True)
class Promise:
    """Every tier, with the run's time scale and the probe's horizon override (seconds, already scaled)."""

    bands: tuple[Band, ...]
    scale: float = 1.0
    warmup_floor: float = 10.0
    horizon_override: float | None = None

    def target(self, band: Band) -> float:
        return band.target * self.scale

    def warmup(self, band: Band) -> float:
        return max(band.target, self.warmup_floor) * self.scale

    def horizon(self, band: Band) -> float:
        if self.horizon_override is not None:
            return self.horizon_override
        unscaled = band.horizon_seconds if band.horizon_seconds is not None else \
            (band.horizon_times if band.horizon_times is not None else 10.0) * band.target
        return unscaled * self.scale

    def longest_horizon(self, path: str) -> float:
        mine = [self.horizon(b) for b in self.bands if b.path == path] or [self.horizon(b) for b in self.bands]
        return max(mine)

    def first_band(self, path: str, rate: float | None) -> int | None:
        return next((i for i, b in enumerate(self.bands) if b.holds(path, rate)), None)

    @property
    def rate_window(self) -> float:
        return RATE_WINDOW_UNSCALED_S * self.scale


def _allowance(value: Any) -> Allowance:
    if isinstance(value, str):
        return Allowance(share=Fraction(value.strip().rstrip("%").strip()) / 100)
    return Allowance(count=int(value))


def _horizon(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, str):
        return float(value.strip().rstrip("x").strip()), None
    return None, float(value)


def promise_of(doc: dict[str, Any], *, scale: float = 1.0, horizon_override: float | None = None) -> Promise:
    """A promise from a parsed document (the oracle trusts it: validating files is the product's job)."""
    top_horizon: tuple[float | None, float | None] = (10.0, None)
    if doc.get("lost_after") is not None:
        top_horizon = _horizon(doc["lost_after"])
    elif doc.get("lost_after_s") is not None:
        top_horizon = (None, float(doc["lost_after_s"]))
    top_lost = _allowance(doc["max_lost"]) if doc.get("max_lost") is not None else Allowance(0)
    top_err = _allowance(doc["max_errored"]) if doc.get("max_errored") is not None \
        else Allowance(share=Fraction(1, 100))
    bands = []
    for t in doc["tier"]:
        times, seconds = _horizon(t["lost_after"]) if t.get("lost_after") is not None else top_horizon
        bands.append(Band(
            name=t["name"], path=t["path"], target=float(t["target_s"]),
            percentile=float(t.get("percentile", 95)), min_samples=int(t.get("min_samples", 20)),
            at_least=None if t.get("at_least_eps") is None else float(t["at_least_eps"]),
            below=None if t.get("below_eps") is None else float(t["below_eps"]),
            horizon_times=times, horizon_seconds=seconds,
            lost_budget=_allowance(t["max_lost"]) if t.get("max_lost") is not None else top_lost,
            error_budget=_allowance(t["max_errored"]) if t.get("max_errored") is not None else top_err))
    return Promise(tuple(bands), scale, float(doc.get("warmup_min_s", 10.0)), horizon_override)


def read_promise(path: str | Path, *, scale: float = 1.0, horizon_override: float | None = None) -> Promise:
    with Path(path).open("rb") as fh:
        return promise_of(tomllib.load(fh), scale=scale, horizon_override=horizon_override)


_NEEDED = ("canary_id", "path", "outcome", "sent_ns", "sent_unix_ms")


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """The observations of a ``samples.jsonl``, as dicts, in file order."""
    out = []
    file = Path(path)
    if not file.exists():
        return out
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or any(doc.get(k) is None for k in _NEEDED):
            continue
        if doc["outcome"] in ("available", "late") and doc.get("seen_ns") is None:
            continue
        out.append(doc)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_rates(path: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(points, steps)`` of a ``rates.jsonl``: a point is ``{unix_s, achieved_eps, target_eps, behind_s}``
    (behind: the second's lag p99 when it was stalled), a step ``{step, valid}``."""
    docs = []
    file = Path(path)
    for line in file.read_text(encoding="utf-8").splitlines() if file.exists() else []:
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue
    return rates_of(docs)


def rates_of(docs: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`read_rates` for lines already parsed."""
    points, steps = [], []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind = doc.get("type", "second")
        if kind == "second" and _finite(doc.get("unix_s")) and _finite(doc.get("achieved_eps")):
            target = doc.get("target_eps")
            stalled = doc.get("stalled") is True
            points.append({"unix_s": float(doc["unix_s"]), "achieved_eps": float(doc["achieved_eps"]),
                           "target_eps": float(target) if _finite(target) else None,
                           "behind_s": float(doc.get("lag_p99_s") or 0.0) if stalled else 0.0,
                           "regime": doc["regime"] if type(doc.get("regime")) is int else None})
        elif kind == "step" and isinstance(doc.get("step"), int) and not isinstance(doc.get("step"), bool):
            steps.append({"step": doc["step"], "valid": bool(doc.get("valid"))})
    return points, steps
