"""ClickHouse over its HTTP interface (default port 8123): events in a table, canaries looked up with SQL.

Writer: ``POST /?query=INSERT INTO <database>.<insert_into> FORMAT JSONEachRow`` with one JSON object per line, one
row per event (columns in :mod:`ingestbench.targets.clickhouse_ddl`: ``timestamp`` in milliseconds, ``name``, user
and anonymous ids, ``properties`` as a JSON string, ``canary_id`` in its own column). ``insert_settings`` are sent
as URL parameters, e.g. ``async_insert=1,wait_for_async_insert=0`` on servers that have asynchronous inserts.

Reader: one ``SELECT <canary_column> AS canary_id FROM <database>.<table> WHERE <canary_column> IN (...)
FORMAT JSON`` per poll, against the destination table (a Buffer table in front of it would also show rows
not yet flushed). ``canary_column`` may be an expression for a table of your own, e.g.
``visitParamExtractString(properties, 'canary_id')`` (``JSONExtractString`` on servers from 19.x).

Options: ``database`` (ingestbench), ``table`` (events), ``insert_into`` (default: ``table``, or
``<table>_buffer`` with ``buffer``), ``insert_settings``, ``canary_column`` (canary_id), ``buffer`` (the
Buffer table ``ingestbench setup`` creates). Secrets: ``INGESTBENCH_CLICKHOUSE_USER`` and
``INGESTBENCH_CLICKHOUSE_PASSWORD``, sent as the ``X-ClickHouse-User`` / ``X-ClickHouse-Key`` headers.

ClickHouse answers an error with a non-2xx status and a text; it becomes one line naming what the query was
for (``clickhouse insert into ingestbench.events: Unknown setting async_insert ...``).

>>> t = make("http://127.0.0.1:8123", {"buffer": "1,6,1000,1000000,1,100000000"}, {})
>>> t.ingest_encoded([b'{"name":"a"}']).path
'/?query=INSERT%20INTO%20ingestbench.events_buffer%20FORMAT%20JSONEachRow'
>>> t.query_canaries(["c-1"]).body
b"SELECT canary_id AS canary_id FROM ingestbench.events WHERE canary_id IN ('c-1') FORMAT JSON"
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.targets import clickhouse_ddl as ddl
from ingestbench.targets.base import (
    CanaryRow,
    HttpRequest,
    IngestResult,
    TargetError,
    answer_list,
    classify_status,
    loads,
    sql_in_list,
)
from ingestbench.targets.contract import Limits, SetupConversation, SetupStep
from ingestbench.targets.spec import READER, SETUP, WRITER, Option, Secret, TargetSpec

NAME = "clickhouse"
SECRETS = ("INGESTBENCH_CLICKHOUSE_USER", "INGESTBENCH_CLICKHOUSE_PASSWORD")
OPTIONS = {
    "database": "database of the tables (default ingestbench)",
    "table": "table canaries are looked up in (default events)",
    "insert_into": "table events are inserted into (default: table, or <table>_buffer with buffer)",
    "insert_settings": "settings sent with each insert, e.g. async_insert=1,wait_for_async_insert=0",
    "canary_column": "column or expression holding the canary id (default canary_id)",
    "buffer": "MIN_TIME,MAX_TIME,MIN_ROWS,MAX_ROWS,MIN_BYTES,MAX_BYTES of the Buffer table setup creates",
}
MAX_QUERY_IDS = 2000  # ~80 KB of quoted UUIDs: well inside the default 256 KiB max_query_size
_SETTING = re.compile(r"[a-z_][a-z0-9_]*=[A-Za-z0-9_.]+")


def make(url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> ClickHouseTarget:
    """The entry point: validates the options, takes the user and password from the environment."""
    SPEC.check_options(options)
    database = ddl.identifier("database", options.get("database", "ingestbench"))
    table = ddl.identifier("table", options.get("table", "events"))
    buffer = ddl.Buffer.parse(options["buffer"]) if options.get("buffer") else None
    insert_into = ddl.identifier("insert_into", options.get("insert_into") or
                                 (f"{table}_buffer" if buffer else table))
    settings = [s.strip() for s in options.get("insert_settings", "").split(",") if s.strip()]
    for setting in settings:
        if not _SETTING.fullmatch(setting):
            raise ConfigError(f"target-opt: insert_settings must be NAME=VALUE pairs separated by commas, "
                              f"got {setting!r}")
    column = options.get("canary_column", "canary_id").strip()
    if not column or ";" in column:
        raise ConfigError(f"target-opt: canary_column must be a column or expression, got {column!r}")
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if environ.get(SECRETS[0]):
        headers["X-ClickHouse-User"] = environ[SECRETS[0]]
    if environ.get(SECRETS[1]):
        headers["X-ClickHouse-Key"] = environ[SECRETS[1]]
    return ClickHouseTarget(url, database=database, table=table, insert_into=insert_into,
                            insert_settings=dict(s.split("=", 1) for s in settings), canary_column=column,
                            buffer=buffer, headers=headers)


class ClickHouseTarget:
    """Sans-IO builders and parsers for ClickHouse's HTTP interface (writer, reader and setup)."""

    name = NAME
    limits = Limits(max_query_ids=MAX_QUERY_IDS)

    def __init__(self, base_url: str, *, database: str, table: str, insert_into: str,
                 insert_settings: Mapping[str, str], canary_column: str, buffer: ddl.Buffer | None,
                 headers: Mapping[str, str]):
        self.base_url = base_url.rstrip("/")
        self.database, self.table, self.insert_into = database, table, insert_into
        self.canary_column, self.buffer = canary_column, buffer
        self.insert_settings = dict(insert_settings)
        query = urlencode({"query": f"INSERT INTO {database}.{insert_into} FORMAT JSONEachRow",
                           **self.insert_settings}, quote_via=quote)
        self._insert_path = f"/?{query}"
        self._headers: Mapping[str, str] = dict(headers)

    def __repr__(self) -> str:  # never show the password
        return f"ClickHouseTarget({self.base_url!r}, {self.database}.{self.table})"

    # --- ingest -------------------------------------------------------------------------------
    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        """One ``JSONEachRow`` line: the event's fields as the table's columns."""
        props = event.get("properties") or {}
        canary = props.get("canary_id") if isinstance(props, dict) else None
        return orjson.dumps({
            "timestamp": event.get("timestamp"), "name": event.get("name"), "user_id": event.get("userId"),
            "anonymous_id": event.get("anonymousId"), "session_id": event.get("sessionId"),
            "properties": orjson.dumps(props).decode(), "canary_id": canary if isinstance(canary, str) else "",
        })

    def format_time(self, unix_ms: int) -> bytes:
        """The ``timestamp`` column: milliseconds since the epoch, a JSON number."""
        return b"%d" % unix_ms

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        return HttpRequest("POST", self.base_url, self._insert_path, self._headers, b"\n".join(encoded) + b"\n")

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest:
        return self.ingest_encoded([self.encode_event(e) for e in events])

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult:
        result = classify_status(status, headers, body)
        if result.ok:
            return result
        text = error_line(body)
        if "Unknown setting" in text and self.insert_settings:
            text += " (this server does not have a setting of insert_settings)"
        return replace(result, error=f"clickhouse insert into {self.database}.{self.insert_into}: {text}")

    # --- analytical read-back -----------------------------------------------------------------
    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest:
        listed = sql_in_list(canary_ids, MAX_QUERY_IDS)
        col = self.canary_column
        return self._sql(f"SELECT {col} AS canary_id FROM {self.database}.{self.table} WHERE {col} IN ({listed}) "
                         "FORMAT JSON")

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]:
        rows = answer_list(status, body, f"clickhouse canary look-up in {self.database}.{self.table}", "data",
                           detail=error_line(body) if status != 200 else None)
        return [CanaryRow(canary_id=str(r.get("canary_id"))) for r in rows if isinstance(r, dict)]

    # --- setup (ingestbench setup) ------------------------------------------------------------
    def setup(self) -> SetupConversation:
        """Create the database, the table and (with ``buffer``) the Buffer table in front of it; a Buffer table
        that exists with other thresholds is replaced (dropping it flushes its rows into the table first)."""
        db, table = self.database, self.table
        yield from self._run("create the database", ddl.create_database(db))
        yield from self._run(f"create the table {db}.{table}", ddl.create_table(db, table))
        lines = [f"table: {db}.{table} (canaries are looked up here)"]
        if self.buffer is not None:
            buf, wanted = self.insert_into, self.buffer.engine(db, table)
            if buf == table:
                raise TargetError("setup: with buffer, insert_into must name a table other than table")
            found = yield from self._run(f"look up the buffer table {db}.{buf}", ddl.engine_of(db, buf), show=False)
            rows = loads(found, "engine look-up").get("data") or []
            engine = rows[0].get("engine_full", "") if rows else None
            if engine is not None and not ddl.same_engine(engine, wanted):
                yield from self._run(f"replace the buffer table {db}.{buf} (was {engine})", ddl.drop_table(db, buf))
                engine = None
            if engine is None:
                yield from self._run(f"create the buffer table {db}.{buf}",
                                     ddl.create_buffer(db, table, buf, self.buffer))
            lines.append(f"buffer: {db}.{buf} = {wanted}")
        lines.append(f"insert_into={self.insert_into}")
        return lines

    def _run(self, purpose: str, sql: str, *, show: bool = True) -> Generator[SetupStep, tuple[int, bytes], bytes]:
        status, body = yield SetupStep(purpose, self._sql(sql), sql if show else None)
        if status != 200:
            raise TargetError(f"clickhouse setup: {purpose}: HTTP {status}: {error_line(body)}")
        return body

    def _sql(self, sql: str) -> HttpRequest:
        return HttpRequest("POST", self.base_url, "/", self._headers, sql.encode())


def error_line(body: bytes) -> str:
    """ClickHouse's error text on one line, without the exception class noise of old servers."""
    text = body.decode("utf-8", "replace").strip().splitlines()
    line = text[0] if text else "(empty answer)"
    line = line.replace("e.displayText() = ", "").replace(", e.what() = DB::Exception", "")
    return line[:300]


OPTION_DEFAULTS = {"database": "ingestbench", "table": "events", "canary_column": "canary_id"}
SPEC = TargetSpec(
    kind=NAME,
    summary="ClickHouse over HTTP: rows inserted as JSONEachRow, canaries read back with SQL",
    make=make,
    options=tuple(Option(name, text, default=OPTION_DEFAULTS.get(name)) for name, text in OPTIONS.items()),
    secrets=(Secret(SECRETS[0], "the ClickHouse user (X-ClickHouse-User; unset: the server's default user)"),
             Secret(SECRETS[1], "that user's password (X-ClickHouse-Key)")),
    roles=(WRITER, READER, SETUP),
)
