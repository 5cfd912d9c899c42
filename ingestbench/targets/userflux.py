"""UserFlux, the real API: ingest and profiles as the SDKs send them, canaries read back with the Metrics API.

Writer and profiles (:class:`~ingestbench.targets.userflux_wire.UserFluxWire`, base URL
``https://integration-api.userflux.co``): ``POST /event/ingest`` and ``/event/ingest/batch`` with
``Authorization: Bearer <write key>``, 204 on success; ``POST /profile`` and ``GET /profile/{userId}`` (the
read takes the read+write key).

Reader (only with a client secret): the Metrics API (``metrics_url``, default
``https://metrics-api.userflux.co``) has no per-event look-up, but answers SQL. A short-lived token comes from
``POST /metrics/auth/token`` with ``{"clientSecret", "environmentApiKey"}``; each look-up is
``POST /metrics/query`` with ``Authorization: Bearer <token>`` and ``{"encodedQuery": <base64 of SQL>}``.
Answers are cached server-side for at least 5 minutes keyed on the request body, so every query carries a
fresh nonce in a comment: a repeated poll would otherwise read the first poll's stale answer for minutes.
On 401 the token is dropped and the next poll fetches a new one.

Not documented, so options with defaults (check them against your account): ``token_field`` (``token``),
the token's field in the auth answer; ``events_table`` (``eventsTable``); ``canary_column``
(``JSONExtractString(properties, 'canary_id')``), how the SQL reaches the canary id inside properties;
``rows_path`` (``data``), where the rows are in the answer (each a JSON object, or an array whose first item
is the id); ``canary_key`` (``canary_id``), the id's key in an object row.

Secrets: ``INGESTBENCH_USERFLUX_WRITE_KEY`` (ingest, profile writes), ``INGESTBENCH_USERFLUX_READ_KEY``
(profile reads; default: the write key), ``INGESTBENCH_USERFLUX_CLIENT_SECRET`` and
``INGESTBENCH_USERFLUX_ENVIRONMENT_KEY`` (Metrics API; the environment key defaults to the write key).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import JSON_HEADERS, CanaryRow, HttpRequest, TargetError, answer_list, loads, sql_in_list
from ingestbench.targets.contract import Limits
from ingestbench.targets.spec import PROFILES, READER, WRITER, Option, Secret, TargetSpec
from ingestbench.targets.userflux_wire import UserFluxWire

NAME = "userflux"
SECRETS = ("INGESTBENCH_USERFLUX_WRITE_KEY", "INGESTBENCH_USERFLUX_READ_KEY",
           "INGESTBENCH_USERFLUX_CLIENT_SECRET", "INGESTBENCH_USERFLUX_ENVIRONMENT_KEY")
DEFAULTS = {
    "location_enrichment": "false",
    "metrics_url": "https://metrics-api.userflux.co",
    "token_field": "token",
    "events_table": "eventsTable",
    "canary_column": "JSONExtractString(properties, 'canary_id')",
    "rows_path": "data",
    "canary_key": "canary_id",
}
OPTIONS = {
    "location_enrichment": "?locationEnrichment=true|false on every write, as the SDKs (default false)",
    "metrics_url": f"base URL of the Metrics API (default {DEFAULTS['metrics_url']})",
    "token_field": "the token's field in the auth answer (default token; not documented)",
    "events_table": "the events table in Metrics SQL (default eventsTable)",
    "canary_column": f"SQL for the canary id (default {DEFAULTS['canary_column']}; not documented)",
    "rows_path": "dotted path to the rows in a query answer (default data; not documented)",
    "canary_key": "the canary id's key in an object row (default canary_id; not documented)",
}
MAX_QUERY_IDS = 500


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> UserFluxIngest:
    """Ingest and profiles; with ``INGESTBENCH_USERFLUX_CLIENT_SECRET`` also the Metrics API reader."""
    SPEC.check_options(options)
    opts = {**DEFAULTS, **{k: v.strip() for k, v in options.items()}}
    if opts["location_enrichment"].lower() not in ("true", "false"):
        raise ConfigError(f"target-opt: location_enrichment must be true or false, got {opts['location_enrichment']!r}")
    if not opts["metrics_url"].startswith(("http://", "https://")):
        raise ConfigError(f"target-opt: metrics_url must start with http:// or https://, got {opts['metrics_url']!r}")
    write_key, read_key, secret, env_key = (environ.get(name) or None for name in SECRETS)
    kw: dict[str, Any] = {"write_key": write_key, "read_key": read_key,
                          "location_enrichment": opts["location_enrichment"].lower() == "true"}
    if not secret:
        return UserFluxIngest(url, **kw)
    return UserFluxTarget(url, client_secret=secret, environment_key=env_key or write_key or "", opts=opts, **kw)


class UserFluxIngest(UserFluxWire):
    """Ingest and profiles only (no Metrics API credentials: a writer without a reader)."""

    name = NAME
    limits = Limits()


class UserFluxTarget(UserFluxIngest):
    """Ingest, profiles, and canary look-ups through the Metrics API (a token first, a nonce in every query)."""

    def __init__(self, base_url: str, *, client_secret: str, environment_key: str, opts: Mapping[str, str],
                 **kw: Any):
        super().__init__(base_url, **kw)
        self.limits = Limits(max_query_ids=MAX_QUERY_IDS)
        self.metrics_url = opts["metrics_url"].rstrip("/")
        self._auth_body = orjson.dumps({"clientSecret": client_secret, "environmentApiKey": environment_key})
        self._opts = dict(opts)
        self._token: str | None = None

    # --- the token (TokenAuth) ----------------------------------------------------------------
    def token_request(self) -> HttpRequest | None:
        if self._token is not None:
            return None
        return HttpRequest("POST", self.metrics_url, "/metrics/auth/token", JSON_HEADERS, self._auth_body)

    def take_token(self, status: int, body: bytes) -> None:
        if status != 200:
            raise TargetError(f"userflux metrics token request answered HTTP {status}")
        doc = loads(body, "userflux metrics token")
        token = doc.get(self._opts["token_field"]) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise TargetError(f"userflux metrics token: no {self._opts['token_field']!r} field in the answer "
                              "(set the token_field option)")
        self._token = token

    def drop_token(self) -> None:
        self._token = None

    # --- canary look-ups -----------------------------------------------------------------------
    def query_sql(self, canary_ids: Iterable[str], nonce: str) -> str:
        """The SQL of one look-up; the nonce comment makes every query body unique (no cached answer)."""
        col, listed = self._opts["canary_column"], sql_in_list(canary_ids, MAX_QUERY_IDS)
        return (f"/* ingestbench {nonce} */ SELECT {col} AS canary_id FROM {self._opts['events_table']} "
                f"WHERE {col} IN ({listed})")

    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        if self._token is None:
            raise TargetError("userflux metrics: no token yet")
        sql = self.query_sql(canary_ids, secrets.token_hex(8))
        body = orjson.dumps({"encodedQuery": base64.b64encode(sql.encode()).decode()})
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {self._token}"}
        return HttpRequest("POST", self.metrics_url, "/metrics/query", headers, body)

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        rows = answer_list(status, body, "userflux metrics query", self._opts["rows_path"])
        key, out = self._opts["canary_key"], []
        for row in rows:
            value = row.get(key) if isinstance(row, dict) else (row[0] if isinstance(row, list) and row else None)
            if isinstance(value, str):
                out.append(CanaryRow(canary_id=value))
        return out


SPEC = TargetSpec(
    kind=NAME,
    summary="UserFlux: ingest and profiles as its SDKs send them, canaries read with the Metrics API",
    make=make,
    options=tuple(Option(name, text, type={"location_enrichment": "boolean", "metrics_url": "url"}.get(name, "text"),
                    default=DEFAULTS.get(name)) for name, text in OPTIONS.items()),
    secrets=(Secret(SECRETS[0], "the write key events and profiles are sent with", needed_by=(WRITER, PROFILES)),
             Secret(SECRETS[1], "the read+write key profiles are read back with (default: the write key)"),
             Secret(SECRETS[2], "the Metrics API client secret (the reader)", needed_by=(READER,)),
             Secret(SECRETS[3], "the environment API key for the Metrics API (the reader; default: the write key)")),
    roles=(WRITER, READER, PROFILES),
)
