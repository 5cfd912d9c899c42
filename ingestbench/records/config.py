"""Configuration read at the edge: CLI flag > environment ``INGESTBENCH_*`` > scenario file > default.

Core code takes keyword arguments and never reads ``os.environ``; only the CLI layer calls these helpers.
A bad value raises :class:`ConfigError` with a one-line message naming the key; the CLI turns it into exit 2.
"""

from __future__ import annotations

import math
import os
import re
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


TARGET_ENV_PREFIX = "INGESTBENCH_TARGET_"
READER_ENV_PREFIX = "INGESTBENCH_READER_OPT_"  # the options of a separate reader (write here, read there)
_NOT_OPTIONS = ("kind", "url", "writer", "reader", "ca_file", "tls_verify")  # TLS: the run's, not a target's


def target_options(flags: list[str] | None, *, environ: Mapping[str, str],
                   scenario: Mapping[str, object] | None = None, prefix: str = TARGET_ENV_PREFIX,
                   flag: str = "target-opt", table: str = "target") -> dict[str, str]:
    """A target's options by precedence: ``--target-opt KEY=VALUE`` > ``INGESTBENCH_TARGET_<KEY>`` > the
    scenario's ``[target]`` table (minus ``kind``, ``url``, the ``writer``/``reader`` tables and the run's TLS
    keys ``ca_file``/``tls_verify``). Values are
    strings; the target validates them. A separate reader's come from ``--reader-opt`` and
    ``INGESTBENCH_READER_OPT_<KEY>`` (``prefix`` and ``flag``); ``table`` names the scenario's table in errors.

    >>> target_options(["table=events"], environ={"INGESTBENCH_TARGET_DATABASE": "db"}, scenario={"table": "x"})
    {'table': 'events', 'database': 'db'}
    """
    out: dict[str, str] = {}
    for key, value in (scenario or {}).items():
        if not str(key).strip():
            raise ConfigError(f"{table}: an option needs a name, got {key!r} = {value!r}")
        if key not in _NOT_OPTIONS:
            out[key] = value if isinstance(value, str) else _toml_text(value)
    for name, value in environ.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            out[name[len(prefix):].lower()] = value
    for item in flags or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag}: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _toml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_number(key: str, value: float, *, minimum: float = 0.0, allow_minimum: bool = False,
                 maximum: float | None = None) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value`` is finite, above ``minimum`` (or equal to
    it with ``allow_minimum``) and at most ``maximum``. argparse's ``type=float`` takes ``nan``, ``inf`` and
    ``1e999``; none of them is a duration, a rate or a size."""
    ok = math.isfinite(value) and (value >= minimum if allow_minimum else value > minimum)
    if not ok:
        bound = f">= {minimum:g}" if allow_minimum else f"> {minimum:g}"
        raise ConfigError(f"{key} must be a finite number {bound}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{key} must be <= {maximum:g}, got {value!r}")


def host_port(value: str, key: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets) as its parts; a :class:`ConfigError` naming ``key`` otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ConfigError(f"{key}: expected HOST:PORT (e.g. 10.0.0.5:5557), got {value!r}")
    return host, int(port)


_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# labels the metrics already carry: a tag may not take one over
RESERVED_LABELS = frozenset({"run_id", "target", "scenario", "tier", "path", "outcome", "step", "window", "le",
                             "quantile", "job", "instance", "role", "kind", "status", "reason", "error"})


def parse_tags(flags: list[str] | None, *, environ: Mapping[str, str]) -> dict[str, str]:
    """``--tag KEY=VALUE`` (repeatable) > ``INGESTBENCH_TAGS="k=v,k2=v2"``: labels of a run, on every metric it
    exports and in its records. A key must be a Prometheus label name that no metric uses already.

    >>> parse_tags(["branch=main"], environ={"INGESTBENCH_TAGS": "env=ci,branch=x"})
    {'env': 'ci', 'branch': 'main'}
    """
    items = [i for i in environ.get("INGESTBENCH_TAGS", "").split(",") if i.strip()] + list(flags or [])
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _LABEL.match(key) or key.startswith("__"):
            raise ConfigError(f"tag: expected KEY=VALUE with KEY a label name (letters, digits, _), got {item!r}")
        if key in RESERVED_LABELS:
            raise ConfigError(f"tag: {key!r} is a label ingestbench sets itself; choose another name")
        out[key] = value
    return out


def check_run_id(run_id: str) -> str:
    """A run id names a results directory: letters, digits, '.', '_' and '-', at most 128."""
    if not _RUN_ID.match(run_id) or run_id in (".", ".."):
        raise ConfigError(f"run-id: {run_id!r} must be letters, digits, '.', '_' or '-' (it names a directory)")
    return run_id
