"""A metric history: finished runs' numbers in one SQLite file, which a CI keeps between jobs (a cache or an
artifact), for ``ingestbench history``.

Tables (``schema_version`` in ``meta``; a file of another version is refused, naming both)::

    runs(run_id PRIMARY KEY, started_unix_s, scenario, target, tags JSON, status, exit_code, valid, invalid_reason,
         added_unix_s)
    metrics(run_id, tier, metric, value)      -- PRIMARY KEY (run_id, tier, metric); tier '' for the whole run
    history                                   -- a view: one row per (run, metric) with the run's columns

Per tier (the judged verdicts): ``tta_p50_s``, ``tta_p95_s``, ``tta_p99_s``, ``lost``, ``errored``, ``canaries``.
Per run (tier ''): ``step<N>_achieved_eps`` for each load step, and for each observed target
``<name>.cpu_cores_mean``, ``<name>.cpu_cores_max``, ``<name>.rss_mib_max`` (run.json's ``resources``). A
percentile beyond the loss horizon is stored as NULL (the tier's ``lost`` counts it).

A run is added once: adding a run id already stored is refused. A run that is not valid (it did not finish, has
no verdicts, or was judged invalid: load not reached, too few samples, target down) is stored flagged, with the
first reason, and left out of change detection: its numbers do not measure the system.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from ingestbench.records.config import ConfigError
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.run_record import FINISHED, RunRecord

SCHEMA_VERSION = 1
RUN_LEVEL = ""  # the tier of a metric of the whole run
TIER_METRICS = ("tta_p50_s", "tta_p95_s", "tta_p99_s", "lost", "errored", "canaries")
RESOURCE_METRICS = ("cpu_cores_mean", "cpu_cores_max", "rss_mib_max")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started_unix_s REAL NOT NULL, scenario TEXT NOT NULL, target TEXT NOT NULL,
    tags TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, valid INTEGER NOT NULL, invalid_reason TEXT,
    added_unix_s REAL NOT NULL);
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id), tier TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, tier, metric));
CREATE VIEW history AS SELECT r.run_id, r.started_unix_s, r.tags, r.scenario, r.target, m.tier, m.metric, m.value,
    r.valid, r.invalid_reason FROM metrics m JOIN runs r USING (run_id);
"""


def higher_is_worse(metric: str) -> bool:
    """The direction of a regression: up for latencies, losses, errors and resources; down for rates and for
    the number of canaries sent."""
    return not (metric.endswith("_achieved_eps") or metric == "canaries")


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    started_unix_s: float
    scenario: str
    target: str
    tags: dict[str, str]
    valid: bool
    invalid_reason: str | None


@dataclass(frozen=True)
class Point:
    """One value of one series: the run it came from, in the order of the runs' start times."""

    run_id: str
    started_unix_s: float
    value: float


def _value(v: float | int | None) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def metrics_of(run: RunRecord) -> list[tuple[str, str, float | None]]:
    """(tier, metric, value) of everything the history keeps of a run."""
    rows: list[tuple[str, str, float | None]] = []
    for t in run.tiers:
        rows += [(t.tier, "tta_p50_s", _value(t.p50_s)), (t.tier, "tta_p95_s", _value(t.p95_s)),
                 (t.tier, "tta_p99_s", _value(t.p99_s)), (t.tier, "lost", float(t.lost)),
                 (t.tier, "errored", float(t.errored)), (t.tier, "canaries", float(t.canaries))]
    rows += [(RUN_LEVEL, f"step{s.step}_achieved_eps", _value(s.achieved_eps)) for s in run.steps]
    for u in run.resources.targets if run.resources is not None else ():
        rows += [(RUN_LEVEL, f"{u.name}.cpu_cores_mean", _value(u.cpu_cores_mean)),
                 (RUN_LEVEL, f"{u.name}.cpu_cores_max", _value(u.cpu_cores_max)),
                 (RUN_LEVEL, f"{u.name}.rss_mib_max", _value(u.rss_mib_max))]
    return rows


def invalid_reason(run: RunRecord) -> str | None:
    """Why a run's numbers cannot stand in a history (None: they can)."""
    if run.status != FINISHED:
        return f"the run did not finish (status {run.status})"
    if run.exit_code == ExitCode.INVALID or run.invalid_reasons:
        return f"the run is invalid: {(run.invalid_reasons or ('no reason recorded',))[0]}"
    if not run.tiers:
        return "the run has no verdicts"
    return None


class HistoryStore:
    """An open history file: ``with HistoryStore.open(path, create=True) as store: store.add(run)``."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path = db, path

    @classmethod
    @contextmanager
    def open(cls, path: Path, *, create: bool = False) -> Iterator[HistoryStore]:
        path = Path(path)
        if not path.is_file():
            if not create:
                raise FileNotFoundError(f"no history at {path}: add a run first (ingestbench history add RUN_DIR "
                                        f"--store {path})")
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path)
            try:
                store = cls(db, path)
                store._check_schema(create)
                yield store
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{path}: not a history file ({exc})") from None

    def _check_schema(self, create: bool) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and create:
            with self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            if "meta" in tables else None
        if row is None:
            raise ConfigError(f"{self.path}: not a history file (no schema_version)")
        if row[0] != str(SCHEMA_VERSION):
            raise ConfigError(f"{self.path}: history schema_version {row[0]} is not the one this ingestbench "
                              f"reads ({SCHEMA_VERSION}); use the ingestbench that wrote it")

    def add(self, run: RunRecord) -> StoredRun:
        """Store a run and its metrics; refuses (``ConfigError``) a run id already stored, or a run without a
        start time (it could not be placed in the series)."""
        if run.started_unix_s is None:
            raise ConfigError(f"run {run.run_id} has no start time in its run.json: it cannot be placed in a history")
        known = self.db.execute("SELECT added_unix_s FROM runs WHERE run_id = ?", (run.run_id,)).fetchone()
        if known is not None:
            added = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(known[0]))
            raise ConfigError(f"run {run.run_id} is already in {self.path} (added {added}): a run is added once")
        reason = invalid_reason(run)
        stored = StoredRun(run.run_id, run.started_unix_s, run.scenario.name, run.target.name, dict(run.tags),
                           reason is None, reason)
        with self.db:
            self.db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (run.run_id, run.started_unix_s, stored.scenario, stored.target,
                             orjson.dumps(stored.tags, option=orjson.OPT_SORT_KEYS).decode(), run.status,
                             run.exit_code, int(stored.valid), reason, time.time()))
            self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)",
                                [(run.run_id, tier, metric, value) for tier, metric, value in metrics_of(run)])
        return stored

    def runs(self, scenario: str | None = None) -> list[StoredRun]:
        """Every stored run (of ``scenario``), oldest first."""
        rows = self.db.execute("SELECT run_id, started_unix_s, scenario, target, tags, valid, invalid_reason "
                               "FROM runs WHERE ? IS NULL OR scenario = ? ORDER BY started_unix_s, run_id",
                               (scenario, scenario)).fetchall()
        return [StoredRun(r[0], r[1], r[2], r[3], orjson.loads(r[4]), bool(r[5]), r[6]) for r in rows]

    def series(self, scenario: str | None = None) -> dict[tuple[str, str, str, str], list[Point]]:
        """Each series of the valid runs, keyed (scenario, target, tier, metric), in the runs' start order;
        a run without a value for it (NULL) is left out of that series."""
        rows = self.db.execute(
            "SELECT scenario, target, tier, metric, run_id, started_unix_s, value FROM history "
            "WHERE valid = 1 AND value IS NOT NULL AND (? IS NULL OR scenario = ?) "
            "ORDER BY scenario, target, tier, metric, started_unix_s, run_id", (scenario, scenario)).fetchall()
        out: dict[tuple[str, str, str, str], list[Point]] = {}
        for sc, target, tier, metric, run_id, started, value in rows:
            out.setdefault((sc, target, tier, metric), []).append(Point(run_id, started, value))
        return out
