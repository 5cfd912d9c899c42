"""Where tiering gets achieved ingest rates from: the load generator's rate timeline, or Prometheus.

- :class:`TimelineTail` reads the generator's JSON-lines rate timeline (``"type": "second"`` records with
  ``unix_s`` = wall-clock end of the second, ``achieved_eps``, ``target_eps``) as it grows; a half-written
  last line is left for the next read.
- :class:`PromRate` runs an instant PromQL query (e.g. ``sum(rate(pipeline_events_ingested_total[10s]))``)
  and turns the answer into a :class:`~checks.tiering.RatePoint`; the caller decides how often.
- A fixed declared rate needs no source: see ``Tiering(declared_rate_eps=...)``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from checks.tiering import RatePoint
from ingestbench.jsonl import LineTail

log = logging.getLogger(__name__)


def parse_timeline_line(line: bytes) -> RatePoint | None:
    """A ``second`` record as a point; other record types and unreadable lines give None."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return point_from_record(doc) if isinstance(doc, dict) else None


def point_from_record(doc: dict[str, Any]) -> RatePoint | None:
    """A parsed ``second`` record as a point; other record types and malformed records give None."""
    if doc.get("type", "second") != "second":
        return None
    unix_s, achieved = doc.get("unix_s"), doc.get("achieved_eps")
    if not isinstance(unix_s, int | float) or not isinstance(achieved, int | float):
        return None
    target = doc.get("target_eps")
    return RatePoint(float(unix_s), float(achieved), float(target) if isinstance(target, int | float) else None)


def read_timeline(path: str | Path) -> list[RatePoint]:
    """Every ``second`` point of a finished timeline file."""
    return TimelineTail(path).read_new()


class TimelineTail:
    """Incrementally reads a rate timeline that another process is still appending to."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lines = LineTail(path)

    def read_new(self) -> list[RatePoint]:
        points = (parse_timeline_line(line) for line in self._lines.read_lines())
        return [p for p in points if p is not None]


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
