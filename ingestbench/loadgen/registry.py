"""Ingest targets by name for the Locust users: the targets' entry points, made with the generator's options.

    reg = TargetRegistry.default(environ=os.environ)
    target = reg.create("pipeline", "http://127.0.0.1:8080", options={})
    req = target.ingest_encoded([target.encode_event(e) for e in events])  # method, path, headers, body
"""

from __future__ import annotations

from collections.abc import Mapping

from ingestbench.targets.contract import Writer
from ingestbench.targets.registry import make_target, names


class TargetRegistry:
    """Makes :class:`~ingestbench.targets.contract.Writer` targets, reading secrets from the environment it was
    given."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._environ = dict(environ or {})

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> TargetRegistry:
        return cls(environ)

    @property
    def names(self) -> list[str]:
        return names()

    def create(self, name: str, base_url: str, options: Mapping[str, str] | None = None) -> Writer:
        target: Writer = make_target(name, base_url, options=options, environ=self._environ)
        return target
