"""PostHog: events through the capture API, canaries looked up with HogQL.

Writer: ``POST {url}/batch/`` with ``{"api_key": <project key>, "batch": [{"event", "distinct_id",
"timestamp" (ISO 8601), "properties"}]}``. A 200 means *received*, not ingested (an event without a name or
distinct id is dropped silently), which is why TTA needs the reader. Properties carry ``$geoip_disable: true``,
as PostHog's server-side SDKs send by default: a GeoIP look-up of the generator's address would be work the
real traffic does not cause, and properties it does not have.

Reader: ``POST {app_url}/api/projects/{project_id}/query/`` with ``Authorization: Bearer <personal key>`` and
``{"query": {"kind": "HogQLQuery", "query": "select properties.canary_id from events where
properties.canary_id in (...)"}, "refresh": "force_blocking"}`` (``force_blocking``: never a cached answer),
answered with ``{"results": [[canary_id], ...]}``. The query API is rate limited (documented figures differ
by endpoint, plan and date: 240/min and 2,400/h in one place, about 120 HogQL queries an hour in another), so
``max_queries_per_hour`` (default 120, the conservative figure) floors the poll interval: 30 s by default,
and TTAs are resolved that coarsely. The reader exists only with ``project_id`` and the personal key;
without them this is a writer only. There is no profile API here: no transactional tier.

Options: ``app_url`` (default: the URL; PostHog Cloud's is ``https://us.posthog.com`` while ingest is
``https://us.i.posthog.com``), ``project_id``, ``max_queries_per_hour``. Secrets:
``INGESTBENCH_POSTHOG_PROJECT_KEY`` (``phc_...``), ``INGESTBENCH_POSTHOG_PERSONAL_KEY``.

>>> t = make("http://127.0.0.1:8000", {"project_id": "1"}, {"INGESTBENCH_POSTHOG_PERSONAL_KEY": "p"})
>>> t.limits.min_poll_interval_s
30.0
>>> t.query_canaries(["c-1"]).path
'/api/projects/1/query/'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import (
    JSON_HEADERS,
    CanaryRow,
    HttpRequest,
    IngestResult,
    answer_list,
    classify_status,
    iso_ms,
    sql_in_list,
)
from ingestbench.targets.contract import Limits
from ingestbench.targets.spec import READER, WRITER, Option, Secret, TargetSpec

NAME = "posthog"
SECRETS = ("INGESTBENCH_POSTHOG_PROJECT_KEY", "INGESTBENCH_POSTHOG_PERSONAL_KEY")
OPTIONS = {
    "app_url": "base URL of the query API (default: the target URL)",
    "project_id": "project whose events are queried (the reader needs it)",
    "max_queries_per_hour": "the query API's rate limit to respect (default 120): floors the poll interval",
}
MAX_QUERY_IDS = 1000
RESULT_LIMIT = 10_000  # rows per answer (PostHog: 100 by default, 50,000 at most)


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> PostHogWriter:
    """A writer, or a writer and reader when the project id and the personal key are given."""
    SPEC.check_options(options)
    try:
        per_hour = float(options.get("max_queries_per_hour", "120"))
    except ValueError:
        per_hour = 0.0
    if not per_hour > 0:
        raise ConfigError(f"target-opt: max_queries_per_hour must be a number > 0, "
                          f"got {options.get('max_queries_per_hour')!r}")
    project_id = options.get("project_id", "").strip()
    if project_id and not project_id.isdigit():
        raise ConfigError(f"target-opt: project_id must be a number, got {project_id!r}")
    project_key, personal_key = environ.get(SECRETS[0]) or "", environ.get(SECRETS[1]) or ""
    if project_id and personal_key:
        return PostHogTarget(url, project_key, app_url=options.get("app_url") or url, project_id=project_id,
                             personal_key=personal_key, max_queries_per_hour=per_hour)
    return PostHogWriter(url, project_key)


class PostHogWriter:
    """Sans-IO builders for PostHog's ``/batch/`` capture endpoint."""

    name = NAME
    limits = Limits()

    def __init__(self, base_url: str, project_key: str):
        self.base_url = base_url.rstrip("/")
        self._key_json = orjson.dumps(project_key)  # the project key travels in the body, as PostHog asks

    def __repr__(self) -> str:  # never show a key
        return f"{type(self).__name__}({self.base_url!r})"

    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        distinct_id = event.get("userId") or event.get("anonymousId")
        return orjson.dumps({"event": event.get("name"), "distinct_id": distinct_id,
                             "timestamp": iso_ms(int(event.get("timestamp") or 0)),
                             "properties": {**(event.get("properties") or {}), "$geoip_disable": True}})

    def format_time(self, unix_ms: int) -> bytes:
        return iso_ms(unix_ms).encode()

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        body = b'{"api_key":' + self._key_json + b',"batch":[' + b",".join(encoded) + b"]}"
        return HttpRequest("POST", self.base_url, "/batch/", JSON_HEADERS, body)

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest:
        return self.ingest_encoded([self.encode_event(e) for e in events])

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
        return classify_status(status, headers, body)


class PostHogTarget(PostHogWriter):
    """The writer plus HogQL canary look-ups, polled no faster than the query rate limit allows."""

    def __init__(self, base_url: str, project_key: str, *, app_url: str, project_id: str, personal_key: str,
                 max_queries_per_hour: float):
        super().__init__(base_url, project_key)
        self.app_url = app_url.rstrip("/")
        self._path = f"/api/projects/{project_id}/query/"
        self._headers: Mapping[str, str] = {**JSON_HEADERS, "Authorization": f"Bearer {personal_key}"}
        self.limits = Limits(max_query_ids=MAX_QUERY_IDS, min_poll_interval_s=3600.0 / max_queries_per_hour)

    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        listed = sql_in_list(canary_ids, MAX_QUERY_IDS)
        hogql = (f"select properties.canary_id from events where properties.canary_id in ({listed}) "
                 f"limit {RESULT_LIMIT}")
        body = {"query": {"kind": "HogQLQuery", "query": hogql}, "refresh": "force_blocking"}
        return HttpRequest("POST", self.app_url, self._path, self._headers, orjson.dumps(body))

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        results = answer_list(status, body, "posthog HogQL query", "results")
        return [CanaryRow(canary_id=str(r[0])) for r in results if isinstance(r, list) and r and r[0] is not None]


SPEC = TargetSpec(
    kind=NAME,
    summary="PostHog: events through the capture API, canaries looked up with HogQL",
    make=make,
    options=(Option("app_url", OPTIONS["app_url"], "url"), Option("project_id", OPTIONS["project_id"]),
             Option("max_queries_per_hour", OPTIONS["max_queries_per_hour"], "integer", "120")),
    secrets=(Secret(SECRETS[0], "the project API key events are captured with", needed_by=(WRITER,)),
             Secret(SECRETS[1], "a personal API key with query access (the reader)", needed_by=(READER,))),
    roles=(WRITER, READER),
)
