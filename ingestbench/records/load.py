"""The ``[load]`` table of a scenario: the steps of the rate schedule and the shape of the events, validated
once, with the number and key checks every scenario table uses.

Every number has bounds: past them a value is a typo rather than a load test, and building one event or batch
from it, or scaling it by a time scale, would exhaust memory or overflow before any request is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ingestbench.records.config import ConfigError

CASINGS = ("snake_case", "camelCase", "TitleCase")
# Past these a value is a typo rather than a load test, and building one event or one batch from it would
# exhaust memory before any request is sent.
LOAD_INT_BOUNDS = {"batch_size": (1, 10_000), "property_count": (0, 1_000), "payload_bytes": (0, 1_000_000),
                   "max_users_per_process": (1, 100_000)}


RAMPS = ("linear", "exponential")


@dataclass(frozen=True)
class LoadStep:
    rate_eps: float
    duration_s: float
    end_rate_eps: float | None = None  # a ramp to this rate when set
    ramp: str = "linear"  # the ramp's curve: "linear", or "exponential" (the same factor every second)


@dataclass(frozen=True)
class LoadConfig:
    """The ``[load]`` table."""

    steps: tuple[LoadStep, ...]
    batch_size: int = 1
    seed: int = 1
    casing: str = "snake_case"
    property_count: int = 8
    payload_bytes: int = 400
    nested: bool = True
    anonymous_ratio: float = 0.3
    lag_bound_s: float = 0.05
    min_achieved_ratio: float = 0.97
    max_stall_share: float = 0.25  # of a step's seconds that may be stalled (lag p99 over the bound)
    max_behind_s: float = 1.0
    max_users_per_process: int = 1000
    send_tick_s: float = 0.01
    replay: str | None = None  # the traffic shape file the steps were read from (records/replay.py), as given
    replay_compress: float = 1.0  # its seconds were divided by this

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LoadConfig:
        """Inverse of :meth:`to_dict` (the plan message a Locust master sends its workers)."""
        return cls(**{**doc, "steps": tuple(LoadStep(**s) for s in doc["steps"])})

    def regimes(self) -> tuple[int | None, ...]:
        """Per step, the continuous shape it belongs to: a ramp is one (its own index), every row of a replay is
        one (0), and a flat step is none (None: a regime of its own, as every step always was). Within a shape
        the asked rate changes every second; the judge starts a new regime (a warm-up) there only where the asked
        rate enters another tier's band, so a ramp's or a replay's canaries are judged, each tiered by the rate
        achieved before it was sent.

        >>> LoadConfig(steps=(LoadStep(100, 10), LoadStep(100, 10, 2000), LoadStep(2000, 10))).regimes()
        (None, 1, None)
        """
        if self.replay is not None:
            return tuple(0 for _ in self.steps)
        return tuple(i if s.end_rate_eps is not None and s.end_rate_eps != s.rate_eps else None
                     for i, s in enumerate(self.steps))

    def scaled(self, time_scale: float) -> LoadConfig:
        """The same load with every step's duration multiplied by ``time_scale`` (rates never are)."""
        steps = tuple(replace(s, duration_s=s.duration_s * time_scale) for s in self.steps)
        return replace(self, steps=steps)



# No duration, rate, size or count of a scenario is larger: a value past it is a typo, and scaled by a time scale
# it could overflow a float.
LARGEST = 1e9
LARGEST_TIME_SCALE = 1000.0


def number(table: str, key: str, value: Any, *, integer: bool = False, positive: bool = True,
            at_least: float | None = None, at_most: float | None = LARGEST) -> Any:
    name = f"{table}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if positive and not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if at_least is not None and value < at_least:
        raise ConfigError(f"{name} must be >= {at_least}, got {value!r}")
    if at_most is not None and value > at_most:
        raise ConfigError(f"{name} must be <= {at_most:g}, got {value!r}")
    return value


def check_keys(table: str, doc: Mapping[str, Any], allowed: set[str]) -> None:
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"{table}.{key} is not a known key (known: {', '.join(sorted(allowed))})")


def _parse_steps(raw: Any) -> tuple[LoadStep, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("load.steps must be a non-empty list of {rate_eps, duration_s} tables")
    steps = []
    for i, step in enumerate(raw):
        name = f"load.steps[{i}]"
        if not isinstance(step, dict):
            raise ConfigError(f"{name} must be a table like {{rate_eps = 900, duration_s = 30}}")
        check_keys(name, step, set(LoadStep.__dataclass_fields__))
        for key in ("rate_eps", "duration_s"):
            if key not in step:
                raise ConfigError(f"{name}.{key} is required")
        steps.append(_parse_step(name, step))
    return tuple(steps)


def _parse_step(name: str, step: Mapping[str, Any]) -> LoadStep:
    end = step.get("end_rate_eps")
    ramp = step.get("ramp", "linear")
    if ramp not in RAMPS:
        raise ConfigError(f"{name}.ramp must be one of {', '.join(RAMPS)}, got {ramp!r}")
    if "ramp" in step and end is None:
        raise ConfigError(f"{name}.ramp needs end_rate_eps: the rate the ramp ends at")
    # every rate of a step is > 0, as an exponential ramp needs (a replayed shape may hold seconds of none)
    return LoadStep(
        rate_eps=float(number(name, "rate_eps", step["rate_eps"])),
        duration_s=float(number(name, "duration_s", step["duration_s"])),
        end_rate_eps=None if end is None else float(number(name, "end_rate_eps", end)),
        ramp=ramp,
    )


LARGEST_COMPRESSION = 1e6


def replay_keys(doc: Mapping[str, Any]) -> tuple[str, float] | None:
    """``(replay, replay_compress)`` of a ``[load]`` table that replays a shape; None when it gives steps."""
    if "replay" not in doc:
        if "replay_compress" in doc:
            raise ConfigError("load.replay_compress needs load.replay: the shape file whose seconds it divides")
        return None
    if "steps" in doc:
        raise ConfigError("load.steps and load.replay: give one of them (a replay makes the steps)")
    replay = doc["replay"]
    if not isinstance(replay, str) or not replay:
        raise ConfigError(f"load.replay must be the path of a shape file (relative to the scenario), got {replay!r}")
    compress = float(number("load", "replay_compress", doc.get("replay_compress", 1.0),
                            at_most=LARGEST_COMPRESSION))
    return replay, compress


def parse_load(doc: Mapping[str, Any], *, replayed: tuple[LoadStep, ...] | None = None) -> LoadConfig:
    """Validate the ``[load]`` table; a table with ``replay`` takes its steps from ``replayed`` (the shape file,
    read by the scenario that names it)."""
    if not isinstance(doc, dict):
        raise ConfigError("load must be a table")
    check_keys("load", doc, set(LoadConfig.__dataclass_fields__))
    replay = replay_keys(doc)
    kw: dict[str, Any]
    if replay is not None:
        if not replayed:
            raise ConfigError("load.replay: the shape file is read with the scenario file that names it")
        kw = {"steps": replayed, "replay": replay[0], "replay_compress": replay[1]}
    elif "steps" not in doc:
        raise ConfigError("load.steps (or load.replay) is required")
    else:
        kw = {"steps": _parse_steps(doc["steps"])}
    for key, (minimum, maximum) in LOAD_INT_BOUNDS.items():
        if key in doc:
            kw[key] = number("load", key, doc[key], integer=True, positive=False, at_least=minimum,
                              at_most=maximum)
    if "seed" in doc:
        kw["seed"] = number("load", "seed", doc["seed"], integer=True, positive=False, at_most=None)
    for key in ("lag_bound_s", "max_behind_s"):
        if key in doc:
            kw[key] = float(number("load", key, doc[key]))
    if "send_tick_s" in doc:
        kw["send_tick_s"] = float(number("load", "send_tick_s", doc["send_tick_s"], positive=False, at_least=0,
                                          at_most=0.1))
    for key in ("anonymous_ratio", "min_achieved_ratio", "max_stall_share"):
        if key in doc:
            kw[key] = float(number("load", key, doc[key], positive=False, at_least=0, at_most=1))
    if "casing" in doc:
        if doc["casing"] not in CASINGS:
            raise ConfigError(f"load.casing must be one of {', '.join(CASINGS)}, got {doc['casing']!r}")
        kw["casing"] = doc["casing"]
    if "nested" in doc:
        if not isinstance(doc["nested"], bool):
            raise ConfigError(f"load.nested must be true or false, got {doc['nested']!r}")
        kw["nested"] = doc["nested"]
    return LoadConfig(**kw)
