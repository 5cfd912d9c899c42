"""Every target kind by name, found through the ``ingestbench.targets`` entry-point group.

The built-in targets register the same way a third-party package does (``pyproject.toml``), so adding a target
is one module plus one entry-point line::

    target = make_target("pipeline", "http://127.0.0.1:8080", options={}, environ=os.environ)
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.targets.contract import Factory

GROUP = "ingestbench.targets"


def factories() -> dict[str, Any]:
    """Name -> entry point, for every installed target (loaded only when made)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(factories())


def make_target(kind: str, url: str, *, options: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None, flags: tuple[str, str] = ("target", "url")) -> Any:
    """The target object of ``kind`` at ``url``; bad kinds, URLs and options raise :class:`ConfigError`, a bad
    kind or URL naming the option that gave it (``flags``: the kind's and the URL's, e.g. a reader's)."""
    found = factories().get(kind)
    if found is None:
        raise ConfigError(f"{flags[0]}: unknown target {kind!r} (known: {', '.join(names()) or 'none'})")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{flags[1]}: must start with http:// or https://, got {url!r}")
    factory: Factory = found.load()
    return factory(url, dict(options or {}), dict(environ or {}))


def check_options(kind: str, options: Mapping[str, str], known: Mapping[str, str]) -> None:
    """Refuse an option ``known`` (name -> what it means) does not list, naming it and the known ones."""
    for key in options:
        if key not in known:
            listing = ", ".join(f"{k} ({v})" for k, v in known.items()) or "none"
            raise ConfigError(f"target-opt: {key!r} is not an option of target {kind!r} (known: {listing})")
