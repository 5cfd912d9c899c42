"""What ``run --check`` must answer for one change to a valid scenario or SLO file, decided from the documented
rules (the scenario reference in the README, the SLO file's docstring), not from the code that validates.

:func:`expected` returns True (the file is valid: exit 0), False (it must be refused, naming the key) or None
where the answer depends on the rest of the file (a number within its bounds that another key or the target's
limits may still rule out): then either answer is allowed, and a refusal must still name the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LARGEST = 1e9  # no duration, rate, size or count of a scenario is larger
LARGEST_TIME_SCALE = 1000.0
CASINGS = ("snake_case", "camelCase", "TitleCase")
LOAD_INTS = {"batch_size": (1, 10_000), "property_count": (0, 1_000), "payload_bytes": (0, 1_000_000),
             "max_users_per_process": (1, 100_000), "seed": (-math.inf, math.inf)}
LOAD_REALS = {"lag_bound_s": (0, LARGEST, False), "max_behind_s": (0, LARGEST, False),
              "send_tick_s": (0, 0.1, True), "anonymous_ratio": (0, 1, True), "min_achieved_ratio": (0, 1, True),
              "max_stall_share": (0, 1, True)}  # (low, high, low included)
SCENARIO_KEYS: dict[tuple[str, ...], set[str]] = {
    (): {"description", "time_scale", "slo", "load", "pipeline", "probe", "target"},
    ("load",): {"steps", "batch_size", "seed", "casing", "property_count", "payload_bytes", "nested",
                "anonymous_ratio", "lag_bound_s", "min_achieved_ratio", "max_stall_share", "max_behind_s",
                "max_users_per_process", "send_tick_s"},
    ("pipeline",): {"flush_rows", "flush_max_wait_s"},
    ("probe",): {"interval_s", "poll_interval_s", "drain_s", "transactional", "single_event"},
    ("step",): {"rate_eps", "duration_s", "end_rate_eps"},
}
SLO_TOP = {"lost_after", "lost_after_s", "max_lost", "max_errored", "warmup_min_s", "tier"}
SLO_TIER = {"name", "path", "below_eps", "at_least_eps", "target_s", "percentile", "min_samples", "lost_after",
            "max_lost", "max_errored"}


@dataclass(frozen=True)
class Mutation:
    path: tuple[Any, ...]  # where the change is (for "add": the holding table's path plus the new key)
    how: str  # "set", "delete" or "add"
    value: Any = None


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def in_range(v: Any, low: float, high: float, *, low_included: bool, integer: bool = False) -> bool:
    if not is_number(v) or (integer and not isinstance(v, int)):
        return False
    return (low <= v if low_included else low < v) and v <= high


def within(v: Any, low: float, high: float, *, low_included: bool = False, integer: bool = False) -> bool | None:
    """A number inside its documented bounds: None (other keys may still rule it out); outside: False."""
    return None if in_range(v, low, high, low_included=low_included, integer=integer) else False


def general(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """A step's keys share one rule set, whatever the step's index."""
    return ("step", *path[3:]) if path[:2] == ("load", "steps") and len(path) >= 3 else path


def scenario_expected(m: Mutation) -> bool | None:
    path, v = general(m.path), m.value
    if m.how == "add":
        return None if path[-1] in SCENARIO_KEYS.get(path[:-1], set()) else False
    if m.how == "delete":
        return path not in {("load",), ("load", "steps"), ("step", "rate_eps"), ("step", "duration_s")}
    if path == ("description",):
        return isinstance(v, str)
    if path == ("time_scale",):
        return within(v, 0, LARGEST_TIME_SCALE)
    if path in {("load",), ("pipeline",), ("probe",), ("step",)}:
        return None if isinstance(v, dict) else False
    if path == ("load", "steps"):
        return None if isinstance(v, list) and v and all(isinstance(s, dict) for s in v) else False
    if path[0] == "step":
        return within(v, 0, LARGEST)
    key = path[-1]
    if path[0] == "load" and key in LOAD_INTS:
        low, high = LOAD_INTS[key]
        return within(v, low, high, low_included=True, integer=True)
    if path[0] == "load" and key in LOAD_REALS:
        low, high, included = LOAD_REALS[key]
        return within(v, low, high, low_included=included)
    if key == "casing":
        return v in CASINGS
    if key in ("nested", "single_event"):
        return isinstance(v, bool)
    if key == "transactional":  # false leaves the transactional tier without samples: the plan decides
        return None if isinstance(v, bool) else False
    if key == "flush_rows":
        return within(v, 0, LARGEST, integer=True)
    if key in ("flush_max_wait_s", "interval_s", "poll_interval_s"):
        return within(v, 0, LARGEST)
    if key == "drain_s":
        return within(v, 0, LARGEST, low_included=True)
    raise AssertionError(f"no rule for {m.path}")


def horizon(v: Any, target_s: float | None) -> bool | None:
    """A loss horizon: "Nx" (N >= 1) or seconds > 0 (and not shorter than the tier's target)."""
    if isinstance(v, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*x\s*", v)
        return match is not None and float(match.group(1)) >= 1
    if not in_range(v, 0, math.inf, low_included=False):
        return False
    return (v >= target_s) if target_s is not None else None


def budget(v: Any) -> bool:
    """A count >= 0 or a share "N%" with N <= 100."""
    if isinstance(v, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", v)
        return match is not None and float(match.group(1)) <= 100
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def slo_expected(m: Mutation, base: dict[str, Any]) -> bool | None:
    path, v = m.path, m.value
    tiers = base["tier"]
    if m.how == "add":
        known = SLO_TOP if len(path) == 1 else SLO_TIER
        return None if path[-1] in known else False
    if m.how == "delete":
        # a tier without its band (below_eps, at_least_eps) reaches into its neighbour's: they overlap
        return path != ("tier",) and not (len(path) == 3 and path[2] in ("name", "path", "target_s", "below_eps",
                                                                          "at_least_eps"))
    if path in {("lost_after",), ("lost_after_s",)}:
        return horizon(v, None)  # seconds must cover every tier's target that has no horizon of its own
    if path in {("max_lost",), ("max_errored",)}:
        return budget(v)
    if path == ("warmup_min_s",):
        return in_range(v, 0, math.inf, low_included=True)
    if path == ("tier",):
        return None if isinstance(v, list) and v and all(isinstance(t, dict) for t in v) else False
    if len(path) == 2:
        return None if isinstance(v, dict) else False
    tier, key = tiers[path[1]], path[2]
    if key == "name":
        return isinstance(v, str) and bool(v) and v not in [t["name"] for t in tiers if t is not tier]
    if key == "path":
        return None if v in ("analytical", "transactional") else False
    if key == "target_s":
        return None if in_range(v, 0, math.inf, low_included=False) else False
    if key == "percentile":
        return in_range(v, 0, 100, low_included=False) and v != 100
    if key == "min_samples":
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1
    if key in ("below_eps", "at_least_eps"):
        return None if in_range(v, 0, math.inf, low_included=key == "at_least_eps") else False
    if key == "lost_after":
        return horizon(v, tier["target_s"])
    if key in ("max_lost", "max_errored"):
        return budget(v)
    raise AssertionError(f"no rule for {m.path}")


def target_expected(m: Mutation) -> bool | None:
    """A ``[target]`` table: a new key is an option no target has (refused); a writer's or reader's option
    holds a string, number or true/false; the rest is the target's to judge."""
    if m.how == "add":
        return False
    if m.how == "set" and len(m.path) == 3 and isinstance(m.value, list | dict | datetime):
        return False
    return None
