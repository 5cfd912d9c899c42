"""Reading an SLO file: TOML in, a validated :class:`~ingestbench.records.slo.Slo` out (the format is in
:mod:`ingestbench.records.slo`); every error names the offending key."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ingestbench.records.compare_rules import parse_compare
from ingestbench.records.config import ConfigError
from ingestbench.records.observation import PATHS
from ingestbench.records.resources import ResourceLimits
from ingestbench.records.slo import DEFAULT_SLO_PATH, Budget, Horizon, Slo, Tier

_BUDGET_KEYS = {"lost_after", "max_lost", "max_errored"}
# lost_after_s: the older spelling of lost_after
_TOP_KEYS = {"lost_after_s", "warmup_min_s", "tier", "resources", "compare"} | _BUDGET_KEYS
_TIER_KEYS = {"name", "path", "below_eps", "at_least_eps", "target_s", "percentile", "min_samples"} | _BUDGET_KEYS
_RESOURCE_KEYS = ("max_cpu_cores", "max_rss_mib")
_MULTIPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x\s*$")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


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
    return Slo(tiers=tiers, warmup_min_unscaled_s=warm, resources=_resources(doc.get("resources", {}), source),
               compare=parse_compare(doc.get("compare", {}), source))


def _resources(raw: Any, source: str) -> ResourceLimits:
    """The ``[resources]`` table: limits on the observed target's own CPU cores and resident MiB."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: resources: must be a table ([resources])")
    unknown = set(raw) - set(_RESOURCE_KEYS)
    if unknown:
        raise ConfigError(f"{source}: resources.{sorted(unknown)[0]}: unknown key (known: {', '.join(_RESOURCE_KEYS)})")
    return ResourceLimits(**{k: _number(raw[k], f"resources.{k}", source, positive=True) for k in raw})


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
