"""Requests for the reference pipeline (and anything speaking its UserFlux-compatible API).

Ingest follows the UserFlux wire protocol: ``POST /event/ingest`` (one event) and
``POST /event/ingest/batch`` with ``{"events": [...]}``, ``Authorization: Bearer <write key>``, 204 on
success. The query side is the pipeline's own ``POST /query`` with ``{"canary_ids": [...]}``.

Options (``[target]`` / ``--target-opt``): ``location_enrichment`` (``true``/``false``, default false) sends
the SDKs' ``?locationEnrichment`` flag. Secret: the write key, from ``INGESTBENCH_WRITE_KEY``.

Example::

    t = make("http://127.0.0.1:8080", {}, {})
    req = t.query_canaries(["c-1", "c-2"])
    rows = t.parse_query(200, b'{"rows": [{"canary_id": "c-1"}]}')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import CanaryRow, HttpRequest, TargetError, answer_list, loads
from ingestbench.targets.contract import Limits
from ingestbench.targets.spec import PROFILES, READER, WRITER, Option, Secret, TargetSpec
from ingestbench.targets.userflux_wire import UserFluxWire

NAME = "pipeline"
MAX_QUERY_IDS = 10_000
SECRETS = ("INGESTBENCH_WRITE_KEY",)
OPTIONS = {"location_enrichment": "send ?locationEnrichment=true (true/false, default false)"}


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> PipelineTarget:
    """The entry point: validates the options, takes the write key from the environment."""
    SPEC.check_options(options)
    enrich = options.get("location_enrichment", "false").strip().lower()
    if enrich not in ("true", "false"):
        raise ConfigError(f"target-opt: location_enrichment must be true or false, got {enrich!r}")
    return PipelineTarget(url, write_key=environ.get(SECRETS[0]) or None, location_enrichment=enrich == "true")


class PipelineTarget(UserFluxWire):
    """Sans-IO builders and parsers for the reference pipeline's HTTP API: UserFlux-shaped ingest and profiles
    (:class:`~ingestbench.targets.userflux_wire.UserFluxWire`), its own canary query and ground truth."""

    name = NAME
    limits = Limits(max_query_ids=MAX_QUERY_IDS, max_body_bytes=5 * 1024 * 1024, max_batch_events=1000)

    def __init__(self, base_url: str, *, write_key: str | None = None, location_enrichment: bool = False):
        # the reference pipeline ignores the flag: sent only when asked for, to see that it is ignored
        super().__init__(base_url, write_key=write_key, location_enrichment=location_enrichment or None)

    # --- analytical read-back -----------------------------------------------------------------
    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        ids = list(canary_ids)
        if len(ids) > MAX_QUERY_IDS:
            raise ValueError(f"at most {MAX_QUERY_IDS} canary ids per query, got {len(ids)}")
        return self._post("/query", orjson.dumps({"canary_ids": ids}))

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        rows = answer_list(status, body, "query", "rows")
        out = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("canary_id"), str):
                raise TargetError("query row without a string 'canary_id'")
            out.append(
                CanaryRow(
                    canary_id=row["canary_id"],
                    name=row.get("name"),
                    timestamp_ms=row.get("timestamp"),
                    user_id=row.get("userId"),
                    anonymous_id=row.get("anonymousId"),
                )
            )
        return out

    # --- ground truth (reference pipeline only) ------------------------------------------------
    def visibility(self, canary_ids: Iterable[str]) -> HttpRequest:
        return self._post("/internal/visibility", orjson.dumps({"canary_ids": list(canary_ids)}))

    def parse_visibility(self, status: int, body: bytes) -> list[dict[str, Any]]:
        """Rows of ``{canary_id, received_at_ms, visible_at_ms}`` (``visible_at_ms`` None while unflushed)."""
        if status != 200:
            raise TargetError(f"visibility answered HTTP {status}")
        doc = loads(body, "visibility")
        rows = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(rows, list):
            raise TargetError("visibility response has no 'rows' list")
        return rows


SPEC = TargetSpec(
    kind=NAME,
    summary="the reference pipeline (UserFlux-compatible ingest, query API, profiles)",
    make=make,
    options=(Option("location_enrichment", OPTIONS["location_enrichment"], "boolean", "false"),),
    secrets=(Secret(SECRETS[0], "the Bearer key a pipeline started with one requires (unset: it takes any)"),),
    roles=(WRITER, READER, PROFILES),
)
