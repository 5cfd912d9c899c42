"""Scenario files (TOML): what a run does, validated once at the edge.

A bare name resolves to ``scenarios/<name>.toml`` in the repository (or the current directory); anything
with a slash or a ``.toml`` suffix is a path. Each top-level table (``[load]``, ``[pipeline]``, ``[probe]``,
``[target]``) has one parser in :data:`TABLE_PARSERS`. Unknown tables or keys and bad values raise
:class:`~ingestbench.records.config.ConfigError` with a one-line message naming the key::

    [load]
    batch_size = 1
    seed = 42
    steps = [{rate_eps = 900, duration_s = 30}, {rate_eps = 1100, duration_s = 30}]

A step may ramp by adding ``end_rate_eps`` (linear, or ``ramp = "exponential"``), and ``replay = "shape.csv"``
gives the steps from a traffic shape file instead (:mod:`ingestbench.records.replay`); the ``[load]`` table and
the bounds of every number live in :mod:`ingestbench.records.load`. Example::

    sc = load_scenario("quick")
    sc.load.steps[0].rate_eps
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.records import defaults
from ingestbench.records.config import ConfigError
from ingestbench.records.load import LARGEST_TIME_SCALE, LoadConfig, check_keys, number, parse_load, replay_keys
from ingestbench.records.replay import read_shape


@dataclass(frozen=True)
class PipelineTable:
    """The ``[pipeline]`` table: settings of the embedded reference pipeline, at time scale 1.

    ``ingestbench run`` multiplies both by the run's time scale, so that the knee rate
    ``flush_rows / flush_max_wait_s`` stays where it is while everything runs faster.
    """

    flush_rows: int = defaults.FLUSH_ROWS
    flush_max_wait_s: float = defaults.FLUSH_MAX_WAIT_S


@dataclass(frozen=True)
class ProbeTable:
    """The ``[probe]`` table, at time scale 1. Canaries ride the load's path (its endpoint and batch size)
    unless ``single_event``; the drain after the load lasts until every canary is decided unless ``drain_s``
    caps it (canaries still pending then are undecided, and the run invalid). Loss horizons are the SLO's."""

    interval_s: float = defaults.CANARY_INTERVAL_S
    poll_interval_s: float = defaults.POLL_INTERVAL_S
    drain_s: float | None = None
    transactional: bool = True
    single_event: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    load: LoadConfig
    description: str = ""
    target_table: Mapping[str, Any] = field(default_factory=dict)  # [target]: kind, url and the target's options
    time_scale: float = defaults.TIME_SCALE
    slo_path: str | None = None
    pipeline: PipelineTable = field(default_factory=PipelineTable)
    probe: ProbeTable = field(default_factory=ProbeTable)


def parse_pipeline(doc: Mapping[str, Any]) -> PipelineTable:
    """Validate the ``[pipeline]`` table."""
    check_keys("pipeline", doc, set(PipelineTable.__dataclass_fields__))
    kw: dict[str, Any] = {}
    if "flush_rows" in doc:
        kw["flush_rows"] = number("pipeline", "flush_rows", doc["flush_rows"], integer=True)
    if "flush_max_wait_s" in doc:
        kw["flush_max_wait_s"] = float(number("pipeline", "flush_max_wait_s", doc["flush_max_wait_s"]))
    return PipelineTable(**kw)


def parse_probe(doc: Mapping[str, Any]) -> ProbeTable:
    """Validate the ``[probe]`` table."""
    check_keys("probe", doc, set(ProbeTable.__dataclass_fields__))
    kw: dict[str, Any] = {}
    for key in ("interval_s", "poll_interval_s", "drain_s"):
        if key in doc:
            kw[key] = float(number("probe", key, doc[key], positive=key != "drain_s", at_least=0))
    for key in ("transactional", "single_event"):
        if key in doc:
            if not isinstance(doc[key], bool):
                raise ConfigError(f"probe.{key} must be true or false, got {doc[key]!r}")
            kw[key] = doc[key]
    return ProbeTable(**kw)


def parse_target(doc: Mapping[str, Any], *, name: str = "target") -> dict[str, Any]:
    """Validate the ``[target]`` table: ``kind`` and ``url`` (both optional), the rest the target's options
    (scalars; the target itself checks their names and values when it is made).

    Write here, read there: ``writer = {kind = ..., url = ..., ...}`` and ``reader = {...}`` are targets of
    their own (same keys); with ``writer``, ``[target]`` holds nothing else but ``reader``. A ``reader`` needs
    its ``kind`` and ``url``. ``ca_file`` (a string) and ``tls_verify`` (true/false) are the whole run's TLS
    trust, so they go in ``[target]`` itself, never in a writer or reader table."""
    out = dict(doc)
    for key, kind, what in (("ca_file", str, "a path"), ("tls_verify", bool, "true or false")):
        if key in out and name != "target":
            raise ConfigError(f"{name}.{key}: TLS settings hold for the whole run: put {key} in [target] itself")
        if key in out and (not isinstance(out[key], kind) or out[key] == ""):
            raise ConfigError(f"target.{key} must be {what}, got {out[key]!r}")
    if "kind" in out and (not isinstance(out["kind"], str) or not out["kind"]):
        raise ConfigError(f"{name}.kind must be a target name such as \"pipeline\", got {out['kind']!r}")
    if "url" in out and (not isinstance(out["url"], str) or not out["url"].startswith(("http://", "https://"))):
        raise ConfigError(f"{name}.url must start with http:// or https://, got {out['url']!r}")
    for key, value in out.items():
        if name == "target" and key in ("writer", "reader"):
            if not isinstance(value, dict):
                raise ConfigError(f"target.{key} must be a table like {{kind = \"clickhouse\", url = \"...\"}}")
            out[key] = parse_target(value, name=f"target.{key}")
        elif not isinstance(value, str | int | float | bool):
            raise ConfigError(f"{name}.{key} must be a string, number or true/false, got {value!r}")
    if name == "target" and "writer" in out and set(out) - {"writer", "reader", "ca_file", "tls_verify"}:
        extra = sorted(set(out) - {"writer", "reader", "ca_file", "tls_verify"})[0]
        raise ConfigError(f"target.{extra}: with target.writer, put the writer's keys in it")
    if name == "target.reader" and not {"kind", "url"} <= set(out):
        raise ConfigError("target.reader needs its kind and url")
    return out


TABLE_PARSERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "load": parse_load, "pipeline": parse_pipeline, "probe": parse_probe, "target": parse_target,
}
TOP_LEVEL_KEYS = {"description", "time_scale", "slo"}


EXAMPLES = "examples"  # the subfolder of scenarios/ with an example per target kind, each beside its SLO file


def is_slo_file(path: Path) -> bool:
    """Whether a TOML file holds SLO tiers (``[[tier]]``) rather than a scenario: the examples keep both side by
    side. A file that does not parse is not an SLO file (loading it as a scenario names its error)."""
    try:
        return "tier" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def scenarios_dirs() -> list[Path]:
    """Where bare scenario names are looked up: the repository's ``scenarios/``, then ``./scenarios``."""
    repo = Path(__file__).resolve().parent.parent / "scenarios"
    return [repo, Path.cwd() / "scenarios"]


def resolve_scenario_path(name_or_path: str | Path, *, search: list[Path] | None = None) -> Path:
    text = str(name_or_path)
    if "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"scenario file {text} does not exist")
        return path
    dirs = scenarios_dirs() if search is None else search
    for d in dirs:
        candidate = d / f"{text}.toml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})
    raise ConfigError(f"scenario {text!r} not found (known: {', '.join(known) or 'none'})")


def parse_scenario(doc: Mapping[str, Any], *, name: str, path: Path) -> Scenario:
    """Validate a parsed TOML document."""
    for key, value in doc.items():
        if isinstance(value, dict):
            if key not in TABLE_PARSERS:
                raise ConfigError(f"[{key}] is not a known table (known: {', '.join(sorted(TABLE_PARSERS))})")
        elif key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{key} is not a known top-level key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    if "load" not in doc:
        raise ConfigError("[load] table is required")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("description must be a string")
    time_scale = float(number("scenario", "time_scale", doc.get("time_scale", 1.0), at_most=LARGEST_TIME_SCALE))
    slo = doc.get("slo")
    if slo is not None:
        if not isinstance(slo, str) or not slo:
            raise ConfigError("slo must be the path of an SLO file (relative to the scenario file)")
        slo_path = (path.parent / slo) if not Path(slo).is_absolute() else Path(slo)
        if not slo_path.is_file():
            raise ConfigError(f"slo: file {slo_path} does not exist")
        slo = str(slo_path)
    return Scenario(name=name, path=path, load=load_table(doc["load"], path, time_scale), description=description,
                    target_table=parse_target(doc.get("target", {})), time_scale=time_scale, slo_path=slo,
                    pipeline=parse_pipeline(doc.get("pipeline", {})), probe=parse_probe(doc.get("probe", {})))


def load_table(doc: Any, path: Path, time_scale: float) -> LoadConfig:
    """The ``[load]`` table; a ``replay`` is read from its file (relative to the scenario file at ``path``) into
    steps, each at least a second long at ``time_scale``."""
    replay = replay_keys(doc) if isinstance(doc, dict) else None
    if replay is None:
        return parse_load(doc)
    file = Path(replay[0]) if Path(replay[0]).is_absolute() else path.parent / replay[0]
    return parse_load(doc, replayed=read_shape(file, compress=replay[1], time_scale=time_scale))


def load_scenario(name_or_path: str | Path, *, search: list[Path] | None = None) -> Scenario:
    """Read and validate a scenario by bare name (``quick``) or path."""
    path = resolve_scenario_path(name_or_path, search=search)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario {path}: invalid TOML ({exc})") from None
    return parse_scenario(doc, name=path.stem, path=path)


def with_load_seed(text: str, seed: int) -> str:
    """The scenario text with ``[load] seed`` set to ``seed`` (replaced, or added under ``[load]``).

    Used to run a scenario file with ``--seed`` while keeping the copy in the results directory exactly what
    ran. The result is parsed back and checked, so a file this cannot rewrite fails loudly.
    """
    import re

    header = re.search(r"(?m)^\[load\][ \t]*(#.*)?$", text)
    if header is None:
        raise ConfigError("--seed: the scenario has no [load] table to set the seed in")
    next_table = re.search(r"(?m)^\[", text[header.end():])
    end = header.end() + (next_table.start() if next_table else len(text) - header.end())
    body = text[header.end():end]
    new_body, n = re.subn(r"(?m)^([ \t]*seed[ \t]*=[ \t]*)-?\d+", rf"\g<1>{seed}", body, count=1)
    if n == 0:
        new_body = f"\nseed = {seed}" + body
    out = text[:header.end()] + new_body + text[end:]
    if tomllib.loads(out).get("load", {}).get("seed") != seed:
        raise ConfigError("--seed: could not set [load] seed in the scenario file")
    return out
