"""Targets the probe can talk to, by name. A new target plugs in with one :func:`register` call.

A probe target is a sans-IO object (see ``targets/base.py``) with ingest and canary look-up builders and
parsers; profile builders are optional (without them the transactional probe is skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ingestbench.config import ConfigError
from targets.base import CanaryRow, HttpRequest, IngestResult, ProfileResult
from targets.registry import FACTORIES


class ProbeTarget(Protocol):
    name: str

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest: ...
    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult: ...
    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest: ...
    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]: ...


class ProfileTarget(ProbeTarget, Protocol):
    def write_profile(self, user_id: str, properties: Mapping[str, Any]) -> HttpRequest: ...
    def read_profile(self, user_id: str) -> HttpRequest: ...
    def parse_profile(self, status: int, body: bytes) -> ProfileResult: ...


TargetMaker = Callable[..., ProbeTarget]
_TARGETS: dict[str, TargetMaker] = dict(FACTORIES)


def register(name: str, maker: TargetMaker) -> None:
    """``maker(base_url, *, write_key=None)`` returns the target object."""
    _TARGETS[name] = maker


def names() -> list[str]:
    return sorted(_TARGETS)


def make_target(name: str, url: str, *, write_key: str | None = None) -> ProbeTarget:
    maker = _TARGETS.get(name)
    if maker is None:
        raise ConfigError(f"target: unknown target {name!r} (known: {', '.join(names())})")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"url: must start with http:// or https://, got {url!r}")
    return maker(url, write_key=write_key)


def supports_profiles(target: ProbeTarget) -> bool:
    return all(callable(getattr(target, m, None)) for m in ("write_profile", "read_profile", "parse_profile"))
