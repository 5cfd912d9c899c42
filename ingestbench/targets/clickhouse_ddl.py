"""ClickHouse statements for ``ingestbench setup --target clickhouse``: sans-IO, idempotent, and valid on old
servers (Debian's 18.16: no ``DateTime64``, no ``async_insert``, no ``JSONExtract*``) as on current ones.

The events table holds one row per event: ``timestamp`` (milliseconds since the epoch, ``UInt64``), ``name``,
``user_id``, ``anonymous_id``, ``session_id``, ``properties`` (the event's properties as a JSON string) and
``canary_id`` (its own column, empty for ordinary events). It is a ``MergeTree`` ordered by
``(canary_id, timestamp)``: every ordinary event shares the empty canary id, so a canary look-up reads a few
granules through the primary index however large the table grows.

A ``Buffer`` table in front of it (``buffer = MIN_TIME,MAX_TIME,MIN_ROWS,MAX_ROWS,MIN_BYTES,MAX_BYTES``, in
ClickHouse's own argument order, one layer) flushes to the table when *all* minimums are exceeded or *any*
maximum is: size-or-time micro-batching, the behaviour whose time to availability is worth measuring.

>>> Buffer.parse("1,6,1000,1000000,1,100000000").engine("db", "events")
'Buffer(db, events, 1, 1, 6, 1000, 1000000, 1, 100000000)'
>>> same_engine("Buffer('db', 'events', 1, 1, 6, 9, 9, 1, 9)", "Buffer(db, events, 1, 1, 6, 9, 9, 1, 9)")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestbench.records.config import ConfigError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COLUMNS = (
    ("timestamp", "UInt64"),
    ("name", "String"),
    ("user_id", "Nullable(String)"),
    ("anonymous_id", "Nullable(String)"),
    ("session_id", "Nullable(String)"),
    ("properties", "String"),
    ("canary_id", "String"),
)
BUFFER_FIELDS = ("min_time", "max_time", "min_rows", "max_rows", "min_bytes", "max_bytes")


@dataclass(frozen=True)
class Buffer:
    """The ``Buffer`` engine's flush thresholds (times in whole seconds, as ClickHouse takes them)."""

    min_time_s: int
    max_time_s: int
    min_rows: int
    max_rows: int
    min_bytes: int
    max_bytes: int

    @classmethod
    def parse(cls, text: str) -> Buffer:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 6 or not all(p.isdigit() for p in parts):
            raise ConfigError(f"target-opt: buffer must be six whole numbers "
                              f"{','.join(f.upper() for f in BUFFER_FIELDS)}, got {text!r}")
        values = [int(p) for p in parts]
        for i in (0, 2, 4):
            if values[i] > values[i + 1]:
                raise ConfigError(f"target-opt: buffer {BUFFER_FIELDS[i]} ({values[i]}) is above "
                                  f"{BUFFER_FIELDS[i + 1]} ({values[i + 1]})")
        return cls(*values)

    def engine(self, database: str, table: str) -> str:
        args = (self.min_time_s, self.max_time_s, self.min_rows, self.max_rows, self.min_bytes, self.max_bytes)
        return f"Buffer({database}, {table}, 1, {', '.join(str(v) for v in args)})"


def identifier(option: str, value: str) -> str:
    """A database or table name, checked (it goes into SQL unquoted)."""
    if not IDENTIFIER.fullmatch(value):
        raise ConfigError(f"target-opt: {option} must be a plain identifier (letters, digits, _), got {value!r}")
    return value


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {database}"


def create_table(database: str, table: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS {database}.{table} ({columns}) ENGINE = MergeTree() "
            "PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp, 1000))) ORDER BY (canary_id, timestamp)")


def create_buffer(database: str, table: str, buffer_table: str, buffer: Buffer) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {database}.{buffer_table} AS {database}.{table} "
            f"ENGINE = {buffer.engine(database, table)}")


def drop_table(database: str, table: str) -> str:
    return f"DROP TABLE IF EXISTS {database}.{table}"


def engine_of(database: str, table: str) -> str:
    """The query for a table's full engine clause (one row, or none when the table does not exist)."""
    return (f"SELECT engine_full FROM system.tables WHERE database = '{database}' AND name = '{table}' "
            "FORMAT JSON")


def same_engine(found: str, wanted: str) -> bool:
    """Whether two engine clauses say the same, whatever the server's quoting and spacing."""

    def norm(text: str) -> str:
        return re.sub(r"[\s'`\"]", "", text).lower()

    return norm(found) == norm(wanted)
