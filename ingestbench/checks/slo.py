"""Traffic tiers and their promises, read from a TOML SLO file.

::

    warmup_min_s = 10            # optional; warm-up after a rate change = max(tier target, this)
    lost_after = "10x"           # optional default for every tier: loss horizon, a multiple of the tier's
                                 # target ("10x") or seconds (300); default "10x"
    max_lost = 0                 # optional default loss budget: a count, or a share of the tier's canaries
                                 # ("0.5%"); default 0
    max_errored = "1%"           # optional default error budget (refused ingests), same forms; default "1%"

    [[tier]]
    name = "high"
    path = "analytical"          # or "transactional"
    at_least_eps = 1000          # rate band: at_least_eps <= achieved rate < below_eps (either optional)
    target_s = 3                 # judged percentile must be <= this
    percentile = 95              # default 95
    min_samples = 20             # default 20; fewer makes the tier "insufficient" (run invalid)
    lost_after = 60              # optional, overrides the default above; so may max_lost and max_errored

A canary not seen within its tier's loss horizon is lost. Lost and errored canaries count against their
tier's budgets wherever they were sent (warm-up and transition windows too); exceeding a budget fails the
tier whatever its percentile says.

Durations scale with the run's ``time_scale`` (``--time-scale 0.1`` runs everything ten times faster);
rates never do. The file stores unscaled values; :class:`Slo` applies the scale in one place.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.records.observation import PATHS

DEFAULT_SLO_PATH = Path(__file__).with_name("slo_default.toml")
RATE_WINDOW_S = 5.0  # unscaled

_BUDGET_KEYS = {"lost_after", "max_lost", "max_errored"}
_TOP_KEYS = {"lost_after_s", "warmup_min_s", "tier"} | _BUDGET_KEYS  # lost_after_s: seconds, older spelling
_TIER_KEYS = {"name", "path", "below_eps", "at_least_eps", "target_s", "percentile", "min_samples"} | _BUDGET_KEYS
_MULTIPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x\s*$")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Horizon:
    """How long a canary may stay unseen before it is lost: ``multiple`` x the tier's target, or ``seconds``
    (unscaled, like every duration in the file)."""

    multiple: float | None = 10.0
    seconds: float | None = None

    def unscaled_s(self, target_s: float) -> float:
        return self.seconds if self.seconds is not None else (self.multiple or 10.0) * target_s

    def text(self) -> str:
        return f"{self.seconds:g} s" if self.seconds is not None else f"{self.multiple:g}x the target"


@dataclass(frozen=True)
class Budget:
    """How many lost (or errored) canaries a tier tolerates: a ``count`` or a ``share`` of its canaries.

    >>> Budget(share=0.01).allowed(250), Budget(count=0).allowed(250)
    (2, 0)
    """

    count: int | None = 0
    share: float | None = None

    def allowed(self, canaries: int) -> int:
        if self.share is not None:
            return math.floor(self.share * canaries + 1e-9)
        return self.count or 0

    def text(self) -> str:
        return f"{self.share * 100:g}% of the canaries" if self.share is not None else f"{self.count}"


NO_LOSS = Budget(count=0)
ONE_PERCENT = Budget(count=None, share=0.01)


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
    lost_after: Horizon = field(default_factory=Horizon)
    max_lost: Budget = NO_LOSS
    max_errored: Budget = ONE_PERCENT

    @property
    def banded(self) -> bool:
        """False for a tier promised at any rate (transactional): it has no warm-ups or transitions."""
        return self.at_least_eps is not None or self.below_eps is not None

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
    warmup_min_unscaled_s: float = 10.0
    horizon_override_s: float | None = None  # seconds, already scaled (``probe --lost-after``)

    def scaled(self, time_scale: float) -> Slo:
        if not time_scale > 0:
            raise ConfigError(f"time-scale: must be > 0, got {time_scale}")
        return replace(self, time_scale=time_scale)

    def with_loss_horizon(self, seconds: float | None) -> Slo:
        """Every tier's loss horizon replaced by ``seconds`` (as given, not scaled again); None keeps the file's."""
        return self if seconds is None else replace(self, horizon_override_s=seconds)

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

    @property
    def rate_window_s(self) -> float:
        """How far back from a send the achieved rate is averaged to tier it (5 s, time-scaled)."""
        return RATE_WINDOW_S * self.time_scale

    def warmup_s(self, tier: Tier) -> float:
        return max(tier.target_s, self.warmup_min_unscaled_s) * self.time_scale

    def loss_horizon_s(self, tier: Tier) -> float:
        """Seconds after its send until an unseen canary of ``tier`` is lost (scaled)."""
        if self.horizon_override_s is not None:
            return self.horizon_override_s
        return tier.lost_after.unscaled_s(tier.target_s) * self.time_scale

    def probe_horizon_s(self, path: str) -> float:
        """How long the probe watches a canary of ``path``: the longest horizon of the tiers it may fall in
        (its tier is only known once the judge places it on the rate timeline)."""
        horizons = [self.loss_horizon_s(t) for t in self.tiers if t.path == path]
        return max(horizons or [self.loss_horizon_s(t) for t in self.tiers])


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
    if "lost_after_s" in doc and "lost_after" in doc:
        raise ConfigError(f"{source}: give lost_after or lost_after_s, not both")
    defaults = _budgets(doc, source, "")
    if doc.get("lost_after_s") is not None:
        defaults["lost_after"] = Horizon(multiple=None, seconds=_number(doc["lost_after_s"], "lost_after_s", source,
                                                                        positive=True))
    tiers = tuple(_parse_tier(raw, i, source, defaults) for i, raw in enumerate(raw_tiers))
    names = [t.name for t in tiers]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{source}: tier.name {name!r} is used twice")
    _check_overlaps(tiers, source)
    warm = _number(doc.get("warmup_min_s", 10.0), "warmup_min_s", source, positive=False)
    return Slo(tiers=tiers, warmup_min_unscaled_s=warm)


def _budgets(raw: dict[str, Any], source: str, where: str) -> dict[str, Any]:
    """The ``lost_after`` / ``max_lost`` / ``max_errored`` keys present in ``raw``, parsed."""
    out: dict[str, Any] = {}
    if raw.get("lost_after") is not None:
        out["lost_after"] = _horizon(raw["lost_after"], f"{where}lost_after", source)
    for key in ("max_lost", "max_errored"):
        if raw.get(key) is not None:
            out[key] = _budget(raw[key], f"{where}{key}", source)
    return out


def _horizon(value: Any, key: str, source: str) -> Horizon:
    if isinstance(value, str):
        m = _MULTIPLE.match(value)
        if m is None or not float(m.group(1)) >= 1:
            raise ConfigError(f'{source}: {key}: must be a multiple of the target such as "10x" (at least "1x") '
                              f"or seconds, got {value!r}")
        return Horizon(multiple=float(m.group(1)))
    return Horizon(multiple=None, seconds=_number(value, key, source, positive=True))


def _budget(value: Any, key: str, source: str) -> Budget:
    if isinstance(value, str):
        m = _SHARE.match(value)
        if m is None or float(m.group(1)) > 100:
            raise ConfigError(f'{source}: {key}: must be a count (0, 3) or a share such as "1%", got {value!r}')
        return Budget(count=None, share=float(m.group(1)) / 100)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f'{source}: {key}: must be a count >= 0 or a share such as "1%", got {value!r}')
    return Budget(count=value)


def _parse_tier(raw: Any, index: int, source: str, defaults: dict[str, Any]) -> Tier:
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
    budgets = {**defaults, **_budgets(raw, source, f"tier[{index}].")}
    horizon = budgets.get("lost_after")
    if horizon is not None and horizon.seconds is not None and horizon.seconds < target:
        raise ConfigError(f"{where}.lost_after: {horizon.seconds:g} s is shorter than the tier's target_s "
                          f"({target:g} s)")
    return Tier(name, path, target, pct, min_samples, low, high, **budgets)


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
