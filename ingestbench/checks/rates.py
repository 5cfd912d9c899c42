"""Achieved ingest rates from Prometheus, for tiering canaries against load that ingestbench did not make.

:class:`PromRate` runs an instant PromQL query (e.g. ``sum(rate(pipeline_events_ingested_total[10s]))``) and
turns the answer into a :class:`~ingestbench.records.timeline.RatePoint`; the caller decides how often. The other rate
sources need nothing here: the load generator's timeline is read with :mod:`ingestbench.records.timeline`, and a fixed
declared rate is ``Tiering(declared_rate_eps=...)``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import aiohttp
import orjson

from ingestbench.records.timeline import RatePoint

log = logging.getLogger(__name__)


class PromRate:
    """Instant-query a Prometheus server for the achieved ingest rate (events/s)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, query: str, *, timeout_s: float = 5.0):
        self._session = session
        self._url = base_url.rstrip("/") + "/api/v1/query"
        self.query = query
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def sample(self) -> RatePoint | None:
        """One point (sum over the returned series), or None when Prometheus cannot answer."""
        try:
            async with self._session.get(self._url, params={"query": self.query}, timeout=self._timeout) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("rate query failed: %s", exc)
            return None
        return parse_prom_answer(status, body)


def parse_prom_answer(status: int, body: bytes) -> RatePoint | None:
    """``{"status": "success", "data": {"resultType": "vector", "result": [{"value": [ts, "v"]}]}}``."""
    if status != 200:
        log.warning("rate query answered HTTP %d", status)
        return None
    try:
        doc: Any = orjson.loads(body)
        data = doc["data"]
        scalar = data["resultType"] == "scalar"
        samples = [data["result"]] if scalar else [r["value"] for r in data["result"]]
        if not samples:
            return None
        unix_s = max(float(s[0]) for s in samples)
        total = sum(float(s[1]) for s in samples)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        log.warning("rate query answer not understood: %s", exc)
        return None
    return RatePoint(unix_s, total) if math.isfinite(total) else None
