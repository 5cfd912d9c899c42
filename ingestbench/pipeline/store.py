"""The durable store: SQLite in WAL mode, one writer connection, a visibility watermark.

Why SQLite: it ships with Python, a WAL commit with ``synchronous=FULL`` is fsynced before it returns (so
an acknowledged event survives ``kill -9`` and power loss), readers never block the writer, and a partial
index on ``canary_id`` keeps canary look-ups fast over millions of rows.

Layout: an append-only log. ``requests`` keeps every accepted request body as received (its events, in
order) with its receive time and the id range of its events; events get consecutive ids. Events that carry
``properties.canary_id`` are also written to ``canaries`` (indexed by canary id), the only per-event rows the
query API needs. One row per request instead of one per event is what lets a batch of 100 events cost one
insert, and the log keeps every event byte for byte.

Visibility is a watermark, not a per-row flag: a flush inserts one row into ``flushes`` (``up_to_id``,
``at_ms``, ``reason``), and queries only return events with ``id <= max(up_to_id)``. A flush therefore costs
one row whatever its size. ``at_ms`` is when the flush was decided; the rows become visible to queries only
when its transaction has committed (an fsync later). That moment is the ground truth: the writer notes it
(:meth:`Store.note_visible`) and it is stored as ``visible_at_ms`` with the next transaction, so it costs no
commit of its own; until then :meth:`Store.visibility` answers it from memory. The ground-truth visible time
of an event is that of the first flush that covers it.

All methods are synchronous and meant to run on the one writer thread (writes) or reader threads (reads,
each with its own connection via :meth:`Store.reader`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingestbench.pipeline.validation import Accepted

DB_NAME = "events.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    received_at_ms REAL NOT NULL,
    first_event_id INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_last_event ON requests(last_event_id);
CREATE TABLE IF NOT EXISTS canaries (
    event_id INTEGER PRIMARY KEY,
    canary_id TEXT NOT NULL,
    name TEXT NOT NULL,
    timestamp_ms REAL NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    received_at_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS canaries_by_id ON canaries(canary_id);
CREATE TABLE IF NOT EXISTS flushes (
    up_to_id INTEGER PRIMARY KEY,
    at_ms REAL NOT NULL,
    reason TEXT NOT NULL,
    rows INTEGER NOT NULL,
    visible_at_ms REAL
);
CREATE TABLE IF NOT EXISTS profiles (
    user_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    updated_at_ms REAL NOT NULL
);
"""

_QUERY = """
SELECT canary_id, name, timestamp_ms, user_id, anonymous_id FROM canaries
WHERE canary_id IN (SELECT value FROM json_each(?))
  AND event_id <= (SELECT coalesce(max(up_to_id), 0) FROM flushes)
ORDER BY event_id
"""

_VISIBILITY = """
SELECT c.canary_id, c.received_at_ms, f.up_to_id, coalesce(f.visible_at_ms, f.at_ms), f.visible_at_ms IS NULL
FROM canaries c LEFT JOIN flushes f
  ON f.up_to_id = (SELECT min(up_to_id) FROM flushes WHERE up_to_id >= c.event_id)
WHERE c.canary_id IN (SELECT value FROM json_each(?)) ORDER BY c.event_id
"""


@dataclass(frozen=True)
class Backlog:
    """What is acknowledged but not yet visible, as found on open: ``(received_at_ms, count)`` groups."""

    last_id: int
    watermark: int
    groups: list[tuple[float, int]]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-65536")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class Store:
    """The pipeline's tables. Create with :meth:`open`; writes from one thread only."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / DB_NAME
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._next_id = 1
        self._txn_next_id = 1
        self._visible_unsaved: dict[int, float] = {}  # flush up_to_id -> commit time, not yet stored
        self._visible_saving: dict[int, float] = {}  # written in the open transaction

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        store = cls(data_dir)
        store._writer = connect(store.path)
        store._writer.executescript(SCHEMA)
        columns = {row[1] for row in store._writer.execute("PRAGMA table_info(flushes)")}
        if "visible_at_ms" not in columns:  # a data directory from before the column existed
            store._writer.execute("ALTER TABLE flushes ADD COLUMN visible_at_ms REAL")
        store.backlog()  # sets the next event id
        return store

    @property
    def writer(self) -> sqlite3.Connection:
        assert self._writer is not None, "store is closed"
        return self._writer

    def reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # --- recovery -----------------------------------------------------------------------------
    def backlog(self) -> Backlog:
        w = self.writer
        last_id = w.execute("SELECT coalesce(max(last_event_id), 0) FROM requests").fetchone()[0]
        watermark = w.execute("SELECT coalesce(max(up_to_id), 0) FROM flushes").fetchone()[0]
        groups = w.execute(
            "SELECT received_at_ms, last_event_id - first_event_id + 1 FROM requests WHERE last_event_id > ? "
            "ORDER BY id",
            (watermark,),
        ).fetchall()
        self._next_id = int(last_id) + 1
        return Backlog(int(last_id), int(watermark), [(float(r), int(n)) for r, n in groups])

    # --- writes (writer thread) ---------------------------------------------------------------
    def begin(self) -> None:
        """Open a transaction; it also stores the commit times of earlier flushes noted since the last one."""
        self.writer.execute("BEGIN IMMEDIATE")
        self._txn_next_id = self._next_id
        self._visible_saving, self._visible_unsaved = self._visible_unsaved, {}
        if self._visible_saving:
            self.writer.executemany("UPDATE flushes SET visible_at_ms = ? WHERE up_to_id = ?",
                                    [(ms, up_to) for up_to, ms in self._visible_saving.items()])

    def commit(self) -> None:
        self.writer.execute("COMMIT")
        self._next_id = self._txn_next_id
        self._visible_saving = {}

    def rollback(self) -> None:
        if self.writer.in_transaction:
            self.writer.execute("ROLLBACK")
        self._txn_next_id = self._next_id
        self._visible_unsaved = {**self._visible_saving, **self._visible_unsaved}
        self._visible_saving = {}

    def note_visible(self, up_to_id: int, at_ms: float) -> None:
        """The flush up to ``up_to_id`` committed at ``at_ms``: from then on queries see its rows."""
        self._visible_unsaved[up_to_id] = at_ms

    def insert_events(self, received_at_ms: float, accepted: Accepted, body: bytes) -> int:
        """Append one request: its body to the log, its canary events to the index. Returns the event count."""
        first = self._txn_next_id
        last = first + accepted.n_events - 1
        w = self.writer
        w.execute(
            "INSERT INTO requests (received_at_ms, first_event_id, last_event_id, body) VALUES (?, ?, ?, ?)",
            (received_at_ms, first, last, body),
        )
        if accepted.canaries:
            w.executemany(
                "INSERT INTO canaries (event_id, canary_id, name, timestamp_ms, user_id, anonymous_id, "
                "received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(first + r.position, r.canary_id, r.name, r.timestamp_ms, r.user_id, r.anonymous_id, received_at_ms)
                 for r in accepted.canaries],
            )
        self._txn_next_id = last + 1
        return accepted.n_events

    def last_id(self) -> int:
        """The id of the last event written so far (in the open transaction too)."""
        return self._txn_next_id - 1

    def record_flush(self, up_to_id: int, at_ms: float, reason: str, rows: int) -> None:
        self.writer.execute(
            "INSERT INTO flushes (up_to_id, at_ms, reason, rows) VALUES (?, ?, ?, ?)",
            (up_to_id, at_ms, reason, rows),
        )

    def upsert_profile(self, user_id: str, doc: dict[str, Any], now_ms: float) -> None:
        """Merge a profile write into the stored profile (properties shallow-merged, anonymous ids kept)."""
        w = self.writer
        row = w.execute("SELECT body FROM profiles WHERE user_id = ?", (user_id,)).fetchone()
        current: dict[str, Any] = orjson.loads(row[0]) if row else {
            "id": user_id, "anonymousIds": [], "externalId": None, "properties": {},
            "computedProperties": {}, "segments": [], "deviceData": None,
        }
        current["properties"].update(doc.get("properties") or {})
        anon = doc.get("anonymousId")
        if anon and anon not in current["anonymousIds"]:
            current["anonymousIds"].append(anon)
        if doc.get("externalId"):
            current["externalId"] = doc["externalId"]
        if doc.get("deviceData") is not None:
            current["deviceData"] = doc["deviceData"]
        w.execute(
            "INSERT INTO profiles (user_id, body, updated_at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET body = excluded.body, updated_at_ms = excluded.updated_at_ms",
            (user_id, orjson.dumps(current), now_ms),
        )

    # --- reads (any thread, own connection) ---------------------------------------------------
    def query_canaries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        cur = self.reader().execute(_QUERY, (orjson.dumps(list(ids)).decode(),))
        return [
            {"canary_id": c, "name": n, "timestamp": t, "userId": u, "anonymousId": a}
            for c, n, t, u, a in cur.fetchall()
        ]

    def visibility(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Ground truth per canary: received and visible (commit of the covering flush; None while unflushed)."""
        cur = self.reader().execute(_VISIBILITY, (orjson.dumps(list(ids)).decode(),))
        noted = {**self._visible_saving, **self._visible_unsaved}  # copies: the writer thread may add to them
        return [{"canary_id": c, "received_at_ms": r,
                 "visible_at_ms": noted.get(up_to, v) if unsaved and up_to is not None else v}
                for c, r, up_to, v, unsaved in cur.fetchall()]

    def profile(self, user_id: str) -> bytes | None:
        row = self.reader().execute("SELECT body FROM profiles WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def counts(self) -> dict[str, int]:
        conn = self.reader()
        total = conn.execute("SELECT coalesce(max(last_event_id), 0) FROM requests").fetchone()[0]
        visible = conn.execute("SELECT coalesce(max(up_to_id), 0) FROM flushes").fetchone()[0]
        profiles = conn.execute("SELECT count(*) FROM profiles").fetchone()[0]
        return {"events": int(total), "visible": int(visible), "profiles": int(profiles)}
