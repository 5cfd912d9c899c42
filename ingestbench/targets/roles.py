"""Who writes, who reads, who keeps profiles: the roles of a run's targets, from one or two target objects.

Usually one target plays every role it can. *Write here, read there* splits them: the load and the canaries
go to one target's writer, canaries are looked up through another target's reader (a Segment-compatible
collector in front of a ClickHouse warehouse, say). A role nobody can play is named, with the reason, so the
run can say what it does not measure instead of passing silently::

    roles = make_roles(TargetPlan("segment", "http://collector", {},
                                  reader=TargetPlan("clickhouse", "http://warehouse:8123", {})), os.environ)
    roles.reader.name  # 'clickhouse'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.records.plan import TargetPlan
from ingestbench.targets.contract import ProfileStore, Reader, Writer
from ingestbench.targets.registry import make_target, spec_of
from ingestbench.targets.spec import READER


@dataclass(frozen=True)
class Roles:
    """The writer (always), the reader and the profile store (each None when no target can play it)."""

    writer: Writer
    reader: Reader | None
    profiles: ProfileStore | None
    writer_kind: str
    reader_kind: str | None

    def no_reader_reason(self) -> str:
        return (f"TTA not measured: target {self.writer_kind!r} has no reader (as configured it cannot look "
                "canaries up; some targets read only with their query credentials or options), so only ingest "
                "acknowledgements and delivery counts were measured; give it those, or a reader on the system it "
                "loads ([target] reader = {kind = ..., url = ...}, or --reader/--reader-url)")

    def no_profiles_reason(self) -> str:
        kinds = " or ".join(repr(k) for k in dict.fromkeys((self.writer_kind, self.reader_kind)) if k)
        return f"transactional tier skipped: target {kinds} has no profile API to write and read back"


def split_roles(writer: Any, writer_kind: str, reader: Any = None, reader_kind: str | None = None) -> Roles:
    """Roles from target objects: ``reader`` None means the writer reads too, if it can. Profiles come from the
    writer, else from the reader (a profile is written and read back on one system)."""
    if not isinstance(writer, Writer):
        raise ConfigError(f"target: {writer_kind!r} cannot ingest events (it is not a writer)")
    if reader is not None and not isinstance(reader, Reader):
        raise ConfigError(f"reader: {reader_kind!r} cannot look canaries up (it is not a reader)")
    if reader is None and isinstance(writer, Reader):
        reader, reader_kind = writer, writer_kind
    profiles = next((t for t in (writer, reader) if t is not None and isinstance(t, ProfileStore)), None)
    return Roles(writer, reader, profiles, writer_kind, reader_kind)


def make_roles(target: TargetPlan, environ: Mapping[str, str], *, url: str | None = None) -> Roles:
    """Make the plan's target (at ``url`` when given: the embedded pipeline's address) and its separate reader,
    if any; bad kinds, URLs and options raise :class:`ConfigError`."""
    writer = make_target(target.kind, url or target.url or "http://127.0.0.1", options=target.options,
                         environ=environ)
    reader = None
    if target.reader is not None:
        r = target.reader
        if not r.url:
            raise ConfigError(f"reader-url: required for reader {r.kind!r}")
        reader = make_target(r.kind, r.url, options=r.options, environ=environ,
                             flags=("reader", "reader-url", "reader-opt"))
        missing = spec_of(r.kind).missing_secrets(environ, (READER,))
        if not isinstance(reader, Reader) and missing:
            raise ConfigError(f"{missing[0].env} is not set: reader {r.kind!r} needs it to look canaries up "
                              f"({missing[0].help}); secrets come from the environment only")
    return split_roles(writer, target.kind, reader, target.reader.kind if target.reader else None)
