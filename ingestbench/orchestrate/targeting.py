"""Which targets a run talks to, and what they let it measure: resolved once, for ``ingestbench run`` (and the
probe's reader, for ``ingestbench probe``).

``[target]`` names one target, or a writer and a reader (write here, read there); ``--target``/``--url``/
``--target-opt`` set the writer, ``--reader``/``--reader-url``/``--reader-opt`` the reader. The targets are
made here, once, so a bad kind or option exits 2 before anything starts, and the run learns what it cannot
measure: no reader means no TTA (the run is invalid if its SLO needs one, and says why), no profile store
means no transactional tier (skipped, with the reason), a reader's query-rate limit means coarser TTAs. The
load must also fit the writer's documented limits (events per request, bytes per event and per request):
checked on a sample of the load's own events, not discovered at the target. How https is trusted
(``--ca-file``, ``--insecure``: :func:`~ingestbench.records.tls.resolve_tls`) is resolved here too, once for
writer and reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingestbench.loadgen.events import EventFactory
from ingestbench.records.config import READER_ENV_PREFIX, ConfigError, env_name, resolve, target_options
from ingestbench.records.load import LoadConfig
from ingestbench.records.plan import TargetPlan
from ingestbench.records.tls import INSECURE_NOTE, resolve_tls
from ingestbench.targets.contract import ProfileStore, Writer
from ingestbench.targets.registry import spec_of
from ingestbench.targets.roles import Roles, make_roles
from ingestbench.targets.spec import PROFILES, READER, WRITER

SAMPLE_REQUESTS = 20  # requests of the load's own events checked against the writer's limits


@dataclass(frozen=True)
class TargetFlags:
    """What the command line said of the targets (None: not given; the environment or the scenario decides)."""

    target: str | None = None
    url: str | None = None
    target_opt: list[str] | None = None
    reader: str | None = None
    reader_url: str | None = None
    reader_opt: list[str] | None = None
    ca_file: str | None = None  # --ca-file
    insecure: bool | None = None  # --insecure

    @classmethod
    def of(cls, args: Any) -> TargetFlags:
        """From parsed arguments that have these names (``run``'s and ``probe``'s)."""
        return cls(**{name: getattr(args, name, None) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Targeting:
    """The resolved targets and what the run will and will not measure through them."""

    target: TargetPlan
    roles: Roles
    notes: tuple[str, ...]


def resolve_targets(args: TargetFlags, table: Mapping[str, Any], environ: Mapping[str, str],
                    base: Path | None = None) -> Targeting:
    """The writer (and a separate reader) by precedence: flag > environment > scenario ``[target]`` (``base``:
    the scenario's directory, for a relative ``ca_file``)."""
    writer_table = table.get("writer", table)
    kind = resolve("target", args.target, str(writer_table.get("kind", "pipeline")), str, environ=environ)
    # an unknown kind, named before anything else is asked of it, by where it was given
    given = "--target" if args.target is not None else env_name("target") if env_name("target") in environ else \
        "target.writer.kind" if "writer" in table else "target.kind"
    spec = spec_of(kind, flag=given)
    url = resolve("url", args.url, writer_table.get("url"), str, environ=environ)
    if url is None and kind != "pipeline":
        raise ConfigError(f"--url is required for target {kind!r} (only the pipeline is embedded)")
    where = "target.writer" if "writer" in table else "target"
    # the scenario's own options first, so that a bad one is named by the table it is in, not as a --target-opt
    spec.check_options(target_options(None, environ={}, scenario=writer_table, table=where), flag=where)
    options = target_options(args.target_opt, environ=environ, scenario=writer_table, table=where)
    tls = resolve_tls(args.ca_file, args.insecure, environ=environ, table=table, base=base)
    reader = reader_plan(args, environ, table.get("reader"))
    target = TargetPlan(kind=kind, url=url, options=options, reader=replace(reader, tls=tls) if reader else None,
                        tls=tls)
    roles = make_roles(target, environ)
    return Targeting(target, roles, tuple(notes_for(roles)) + (() if tls.verify else (INSECURE_NOTE,)))


def reader_plan(args: TargetFlags, environ: Mapping[str, str],
                table: Mapping[str, Any] | None = None) -> TargetPlan | None:
    """A separate reader from ``--reader``/``--reader-url``/``--reader-opt`` (> env > the scenario's
    ``[target] reader`` table); None when there is none."""
    table = table or {}
    kind = resolve("reader", args.reader, table.get("kind"), str, environ=environ)
    if kind is None:
        if args.reader_url or args.reader_opt:
            raise ConfigError("reader: --reader-url and --reader-opt need --reader KIND")
        return None
    url = resolve("reader-url", args.reader_url, table.get("url"), str, environ=environ)
    if not url:
        raise ConfigError(f"reader-url: required for reader {kind!r}")
    options = target_options(args.reader_opt, environ=environ, scenario=table, prefix=READER_ENV_PREFIX,
                             flag="reader-opt", table="target.reader")
    return TargetPlan(kind=kind, url=url, options=options)


def check_secrets(roles: Roles, environ: Mapping[str, str], *, reads: bool, profiles: bool) -> None:
    """Refuse (exit 2) a run certain to fail for a missing secret: one a target's spec says the roles it plays
    here cannot work without (``reads``: canaries are looked up; ``profiles``: the transactional check runs),
    naming the variable and what it is for."""
    used: list[tuple[str, str]] = [(roles.writer_kind, WRITER)]
    if reads and roles.reader is not None and roles.reader_kind is not None:
        used.append((roles.reader_kind, READER))
    if profiles and roles.profiles is not None:
        from_writer = isinstance(roles.writer, ProfileStore)  # profiles come from the writer when it keeps them
        used.append((roles.writer_kind if from_writer else roles.reader_kind or "", PROFILES))
    for kind, role in used:
        for secret in spec_of(kind).missing_secrets(environ, (role,)):
            raise ConfigError(f"{secret.env} is not set: target {kind!r} needs it as the {role} ({secret.help}); "
                              "secrets come from the environment only")


def notes_for(roles: Roles) -> list[str]:
    """What these roles measure more coarsely than asked, or not at all (the run adds the rest)."""
    out = []
    reader = roles.reader
    if reader is not None and reader.limits.min_poll_interval_s > 0:
        floor = reader.limits.min_poll_interval_s
        out.append(f"{reader.name} allows at most one canary query every {floor:g} s: polls are at least that far "
                   f"apart, so each TTA is resolved to within about {floor:g} s (its bounds are recorded)")
    return out


def check_fits(writer: Writer, load: LoadConfig, *, canary_batch_size: int) -> None:
    """Refuse (exit 2) a load or canary batch that breaks the writer's documented limits, naming the limit."""
    limits = writer.limits
    for size, what in ((load.batch_size, "load.batch_size"), (canary_batch_size, "the canaries' batch size")):
        if limits.max_batch_events is not None and size > limits.max_batch_events:
            raise ConfigError(f"{what}: {size} events per request, but {writer.name} takes at most "
                              f"{limits.max_batch_events}")
    factory = EventFactory(seed=load.seed, casing=load.casing, property_count=load.property_count,
                           payload_bytes=load.payload_bytes, nested=load.nested, anonymous_ratio=load.anonymous_ratio)
    for _ in range(SAMPLE_REQUESTS):
        events = factory.batch(load.batch_size, now_ms=1_700_000_000_000)
        encoded = [writer.encode_event(e) for e in events]
        biggest = max(len(e) for e in encoded)
        if limits.max_event_bytes is not None and biggest > limits.max_event_bytes:
            raise ConfigError(f"load.payload_bytes: an event of {biggest} bytes is over {writer.name}'s limit of "
                              f"{limits.max_event_bytes} bytes per event")
        try:
            body = writer.ingest_encoded(encoded).body or b""
        except ValueError as exc:  # the target's own check of its limits
            raise ConfigError(f"load: {exc}") from None
        if limits.max_body_bytes is not None and len(body) > limits.max_body_bytes:
            raise ConfigError(f"load.batch_size: a request of {load.batch_size} events is {len(body)} bytes, over "
                              f"{writer.name}'s limit of {limits.max_body_bytes} bytes per request")
