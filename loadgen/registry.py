"""Ingest targets by name: a tiny factory so a new target plugs in without touching the Locust users.

A target here is anything with the sans-IO methods the users need (see :class:`IngestTarget`); the
registry maps a name (``pipeline``) to a constructor taking the base URL and options::

    reg = TargetRegistry.default()
    target = reg.create("pipeline", "http://127.0.0.1:8080", write_key=None)
    req = target.ingest_encoded([target.encode_event(e) for e in events])  # method, path, headers, body
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from targets.base import HttpRequest, IngestResult
from targets.registry import FACTORIES


class IngestTarget(Protocol):
    def encode_event(self, event: Mapping[str, Any]) -> bytes: ...

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest: ...

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult: ...


TargetFactory = Callable[..., IngestTarget]


class TargetRegistry:
    """Name -> factory. Build one with :meth:`default` and :meth:`register` more."""

    def __init__(self) -> None:
        self._factories: dict[str, TargetFactory] = {}

    @classmethod
    def default(cls) -> TargetRegistry:
        reg = cls()
        for name, factory in FACTORIES.items():
            reg.register(name, factory)
        return reg

    def register(self, name: str, factory: TargetFactory) -> None:
        self._factories[name] = factory

    @property
    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, name: str, base_url: str, **options: Any) -> IngestTarget:
        try:
            factory = self._factories[name]
        except KeyError:
            raise ValueError(f"unknown target {name!r} (known: {', '.join(self.names)})") from None
        return factory(base_url, **options)
