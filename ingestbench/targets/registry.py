"""Every target kind by name, found through the ``ingestbench.targets`` entry-point group.

The built-in targets register the same way a third-party package does (``pyproject.toml``), so adding a target
is one module plus one entry-point line::

    target = make_target("pipeline", "http://127.0.0.1:8080", options={}, environ=os.environ)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.targets.spec import TargetSpec

GROUP = "ingestbench.targets"


def specs() -> dict[str, TargetSpec]:
    """Name -> spec, for every installed target (each module imported: for listing them all)."""
    return {ep.name: _spec(ep) for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(entry.name for entry in entry_points(group=GROUP))


def spec_of(kind: str, *, flag: str = "target") -> TargetSpec:
    """The spec of ``kind`` (only its module is imported: a broken plugin elsewhere cannot stop this one); an
    unknown kind is a :class:`ConfigError` naming ``flag`` and the known kinds."""
    found = next((ep for ep in entry_points(group=GROUP) if ep.name == kind), None)
    if found is None:
        raise ConfigError(f"{flag}: unknown target {kind!r} (known: {', '.join(names()) or 'none'})")
    return _spec(found)


def _spec(ep: EntryPoint) -> TargetSpec:
    """An entry point's spec; one naming a bare factory (an older plugin) gets a spec that lists no options and
    no secrets."""
    loaded = ep.load()
    if isinstance(loaded, TargetSpec):
        return loaded if loaded.kind == ep.name else replace(loaded, kind=ep.name)
    if callable(loaded):
        return TargetSpec(kind=ep.name, summary=f"{ep.value} (a factory without a spec)", make=loaded)
    raise ConfigError(f"target {ep.name!r}: entry point {ep.value} is neither a TargetSpec nor a factory")


def make_target(kind: str, url: str, *, options: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None,
                flags: tuple[str, str, str] = ("target", "url", "target-opt")) -> Any:
    """The target object of ``kind`` at ``url``; bad kinds, URLs and options raise :class:`ConfigError` naming
    the option that gave them (``flags``: the kind's, the URL's and the options', e.g. a reader's)."""
    spec = spec_of(kind, flag=flags[0])
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{flags[1]}: must start with http:// or https://, got {url!r}")
    spec.check_options(dict(options or {}), flag=flags[2])
    return spec.make(url, dict(options or {}), dict(environ or {}))
