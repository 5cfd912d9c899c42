"""Configuration read at the edge: CLI flag > environment ``INGESTBENCH_*`` > scenario file > default.

Core code takes keyword arguments and never reads ``os.environ``; only the CLI layer calls these helpers.
A bad value raises :class:`ConfigError` with a one-line message naming the key; the CLI turns it into exit 2.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the key."""


def env_name(key: str) -> str:
    """``flush-rows`` -> ``INGESTBENCH_FLUSH_ROWS``."""
    return "INGESTBENCH_" + key.upper().replace("-", "_")


def resolve(
    key: str,
    flag: T | None,
    default: T,
    convert: Callable[[str], T],
    *,
    environ: Mapping[str, str] | None = None,
    scenario: Mapping[str, object] | None = None,
) -> T:
    """Pick the value for ``key`` by precedence and convert env/scenario strings, naming the key on error."""
    if flag is not None:
        return flag
    env = os.environ if environ is None else environ
    raw = env.get(env_name(key))
    source = env_name(key)
    if raw is None and scenario is not None and key in scenario:
        raw_obj = scenario[key]
        source = f"scenario key {key!r}"
        raw = raw_obj if isinstance(raw_obj, str) else None
        if raw is None:
            return raw_obj  # type: ignore[return-value]
    if raw is None:
        return default
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: invalid value {raw!r} ({exc})") from None


def positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    """A converter that also rejects zero, negative numbers, NaN and infinities."""

    def convert(raw: str) -> T:
        value = kind(raw)
        if not (math.isfinite(value) and value > 0):  # type: ignore[operator, arg-type]
            raise ValueError("must be a finite number > 0")
        return value

    return convert


def check_number(key: str, value: float, *, minimum: float = 0.0, allow_minimum: bool = False) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value`` is finite and above ``minimum`` (or equal to
    it with ``allow_minimum``). argparse's ``type=float`` takes ``nan``, ``inf`` and ``1e999``; none of them
    is a duration, a rate or a size."""
    ok = math.isfinite(value) and (value >= minimum if allow_minimum else value > minimum)
    if not ok:
        bound = f">= {minimum:g}" if allow_minimum else f"> {minimum:g}"
        raise ConfigError(f"{key} must be a finite number {bound}, got {value!r}")
