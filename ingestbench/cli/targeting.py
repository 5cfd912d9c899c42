"""Which targets a run talks to, and what they let it measure: resolved once, for ``ingestbench run``.

``[target]`` names one target, or a writer and a reader (write here, read there); ``--target``/``--url``/
``--target-opt`` set the writer, ``--reader``/``--reader-url``/``--reader-opt`` the reader. The targets are
made here, once, so a bad kind or option exits 2 before anything starts, and the run learns what it cannot
measure: no reader means no TTA (the run is invalid if its SLO needs one, and says why), no profile store
means no transactional tier (skipped, with the reason), a reader's query-rate limit means coarser TTAs. The
load must also fit the writer's documented limits (events per request, bytes per event and per request):
checked on a sample of the load's own events, not discovered at the target.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestbench.cli.probe import reader_plan
from ingestbench.loadgen.events import EventFactory
from ingestbench.records.config import ConfigError, env_name, resolve, target_options
from ingestbench.records.load import LoadConfig
from ingestbench.records.plan import TargetPlan
from ingestbench.targets.contract import Writer
from ingestbench.targets.registry import spec_of
from ingestbench.targets.roles import Roles, make_roles

SAMPLE_REQUESTS = 20  # requests of the load's own events checked against the writer's limits


@dataclass(frozen=True)
class Targeting:
    """The resolved targets and what the run will and will not measure through them."""

    target: TargetPlan
    roles: Roles
    notes: tuple[str, ...]


def resolve_targets(args: argparse.Namespace, table: Mapping[str, Any], environ: Mapping[str, str]) -> Targeting:
    """The writer (and a separate reader) by precedence: flag > environment > scenario ``[target]``."""
    writer_table = table.get("writer", table)
    kind = resolve("target", args.target, str(writer_table.get("kind", "pipeline")), str, environ=environ)
    # an unknown kind, named before anything else is asked of it, by where it was given
    given = "--target" if args.target is not None else env_name("target") if env_name("target") in environ else \
        "target.writer.kind" if "writer" in table else "target.kind"
    spec_of(kind, flag=given)
    url = resolve("url", args.url, writer_table.get("url"), str, environ=environ)
    if url is None and kind != "pipeline":
        raise ConfigError(f"--url is required for target {kind!r} (only the pipeline is embedded)")
    options = target_options(args.target_opt, environ=environ, scenario=writer_table)
    target = TargetPlan(kind=kind, url=url, options=options,
                        reader=reader_plan(args, environ, table.get("reader")))
    roles = make_roles(target, environ)
    return Targeting(target, roles, tuple(notes_for(roles)))


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
