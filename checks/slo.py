"""Traffic tiers and their promises, read from a TOML SLO file.

::

    lost_after_s = 300           # optional; default 10 x the largest target, at least 120 s
    warmup_min_s = 10            # optional; warm-up after a rate change = max(tier target, this)

    [[tier]]
    name = "high"
    path = "analytical"          # or "transactional"
    at_least_eps = 1000          # rate band: at_least_eps <= achieved rate < below_eps (either optional)
    target_s = 3                 # judged percentile must be <= this
    percentile = 95              # default 95
    min_samples = 20             # default 20; fewer makes the tier "insufficient" (run invalid)

Durations scale with the run's ``time_scale`` (``--time-scale 0.1`` runs everything ten times faster);
rates never do. The file stores unscaled values; :class:`Slo` applies the scale in one place.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from checks.observation import PATHS
from ingestbench.config import ConfigError

DEFAULT_SLO_PATH = Path(__file__).with_name("slo_default.toml")

_TOP_KEYS = {"lost_after_s", "warmup_min_s", "tier"}
_TIER_KEYS = {"name", "path", "below_eps", "at_least_eps", "target_s", "percentile", "min_samples"}


@dataclass(frozen=True)
class Tier:
    """One traffic band of one path with its promise (durations unscaled, as written in the file)."""

    name: str
    path: str
    target_s: float
    percentile: float = 95.0
    min_samples: int = 20
    at_least_eps: float | None = None
    below_eps: float | None = None

    def matches(self, path: str, rate_eps: float | None) -> bool:
        """True when an observation of ``path`` sent at ``rate_eps`` belongs here (unknown rate: bandless)."""
        if path != self.path:
            return False
        if self.at_least_eps is None and self.below_eps is None:
            return True
        if rate_eps is None:
            return False
        low_ok = self.at_least_eps is None or rate_eps >= self.at_least_eps
        high_ok = self.below_eps is None or rate_eps < self.below_eps
        return low_ok and high_ok

    def band(self) -> str:
        if self.at_least_eps is None and self.below_eps is None:
            return "any rate"
        if self.at_least_eps is None:
            return f"< {self.below_eps:g}/s"
        if self.below_eps is None:
            return f">= {self.at_least_eps:g}/s"
        return f"{self.at_least_eps:g}-{self.below_eps:g}/s"


@dataclass(frozen=True)
class Slo:
    """All tiers plus the run's time scale; every duration a caller needs comes scaled from here."""

    tiers: tuple[Tier, ...]
    time_scale: float = 1.0
    lost_after_unscaled_s: float | None = None
    warmup_min_unscaled_s: float = 10.0

    def scaled(self, time_scale: float) -> Slo:
        if not time_scale > 0:
            raise ConfigError(f"time-scale: must be > 0, got {time_scale}")
        return replace(self, time_scale=time_scale)

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def tier_for(self, path: str, rate_eps: float | None) -> Tier | None:
        for tier in self.tiers:
            if tier.matches(path, rate_eps):
                return tier
        return None

    def target_s(self, tier: Tier) -> float:
        return tier.target_s * self.time_scale

    def warmup_s(self, tier: Tier) -> float:
        return max(tier.target_s, self.warmup_min_unscaled_s) * self.time_scale

    @property
    def lost_after_s(self) -> float:
        if self.lost_after_unscaled_s is not None:
            return self.lost_after_unscaled_s * self.time_scale
        largest = max((t.target_s for t in self.tiers), default=12.0)
        return max(10 * largest, 120.0) * self.time_scale


def load_slo(path: str | Path | None = None, *, time_scale: float = 1.0) -> Slo:
    """Read and validate an SLO file (the packaged default when ``path`` is None)."""
    file = Path(path) if path is not None else DEFAULT_SLO_PATH
    try:
        with file.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"slo: file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"slo: {file} is not valid TOML ({exc})") from None
    return parse_slo(doc, source=str(file)).scaled(time_scale)


def parse_slo(doc: dict[str, Any], *, source: str = "slo") -> Slo:
    """Validate a parsed SLO document; errors name the offending key."""
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    raw_tiers = doc.get("tier")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise ConfigError(f"{source}: 'tier' must be a non-empty array of tables ([[tier]])")
    tiers = tuple(_parse_tier(raw, i, source) for i, raw in enumerate(raw_tiers))
    names = [t.name for t in tiers]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{source}: tier.name {name!r} is used twice")
    _check_overlaps(tiers, source)
    lost = doc.get("lost_after_s")
    warm = doc.get("warmup_min_s", 10.0)
    if lost is not None:
        lost = _number(lost, "lost_after_s", source, positive=True)
    warm = _number(warm, "warmup_min_s", source, positive=False)
    return Slo(tiers=tiers, lost_after_unscaled_s=lost, warmup_min_unscaled_s=warm)


def _parse_tier(raw: Any, index: int, source: str) -> Tier:
    where = f"{source}: tier[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(raw) - _TIER_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: required, a non-empty string")
    path = raw.get("path")
    if path not in PATHS:
        raise ConfigError(f"{where}.path: must be one of {', '.join(PATHS)}, got {path!r}")
    if "target_s" not in raw:
        raise ConfigError(f"{where}.target_s: required")
    target = _number(raw["target_s"], f"tier[{index}].target_s", source, positive=True)
    pct = _number(raw.get("percentile", 95.0), f"tier[{index}].percentile", source, positive=True)
    if not pct < 100:
        raise ConfigError(f"{where}.percentile: must be in (0, 100), got {pct}")
    min_samples = raw.get("min_samples", 20)
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
        raise ConfigError(f"{where}.min_samples: must be an integer >= 1, got {min_samples!r}")
    low = raw.get("at_least_eps")
    high = raw.get("below_eps")
    if low is not None:
        low = _number(low, f"tier[{index}].at_least_eps", source, positive=False)
    if high is not None:
        high = _number(high, f"tier[{index}].below_eps", source, positive=True)
    if low is not None and high is not None and not low < high:
        raise ConfigError(f"{where}.below_eps: must be greater than at_least_eps")
    return Tier(name, path, target, pct, min_samples, low, high)


def _check_overlaps(tiers: tuple[Tier, ...], source: str) -> None:
    for i, a in enumerate(tiers):
        for b in tiers[i + 1 :]:
            if a.path != b.path:
                continue
            a_low, a_high = a.at_least_eps or 0.0, a.below_eps or math.inf
            b_low, b_high = b.at_least_eps or 0.0, b.below_eps or math.inf
            if a_low < b_high and b_low < a_high:
                raise ConfigError(f"{source}: tier {b.name!r} overlaps tier {a.name!r} ({b.band()})")


def _number(value: Any, key: str, source: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{source}: {key}: must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{source}: {key}: must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)
