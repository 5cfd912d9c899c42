"""The history file: what a run adds, an invalid run stored flagged and left out, a run added once, the schema
version checked, and check's exits on a short or missing history."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.records.config import ConfigError
from ingestbench.records.run_record import FINISHED, RunRecord, ScenarioInfo, TargetInfo
from ingestbench.records.timeline import StepRow
from ingestbench.records.verdicts import TierVerdict
from ingestbench.results.history_check import TooFewRuns, check
from ingestbench.results.history_store import HistoryStore


def run(i: int, p95: float, *, invalid: str | None = None) -> RunRecord:
    tier = TierVerdict(tier="low", n=40, canaries=40, p50_s=p95 / 2, p95_s=p95, p99_s=float("inf"), lost=1)
    return RunRecord(run_id=f"r{i}", status=FINISHED, started_unix_s=1000.0 + i, exit_code=3 if invalid else 0,
                     scenario=ScenarioInfo(name="quick"), target=TargetInfo(name="pipeline"), tags={"branch": "main"},
                     tiers=(tier,), invalid_reasons=(invalid,) if invalid else (),
                     steps=(StepRow(step=0, target_eps=50.0, achieved_eps=49.5, valid=not invalid),))


def test_a_run_is_stored_with_its_metrics_once(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db", create=True) as store:
        store.add(run(0, 0.5))
        with pytest.raises(ConfigError, match=r"run r0 is already in .* a run is added once"):
            store.add(run(0, 0.5))
    db = sqlite3.connect(tmp_path / "h.db")
    rows = dict(((t, m), v) for t, m, v in db.execute("SELECT tier, metric, value FROM history WHERE run_id = 'r0'"))
    assert rows[("low", "tta_p95_s")] == 0.5 and rows[("low", "tta_p50_s")] == 0.25 and rows[("low", "lost")] == 1
    assert rows[("low", "tta_p99_s")] is None  # beyond the loss horizon
    assert rows[("", "step0_achieved_eps")] == 49.5
    assert db.execute("SELECT tags, valid FROM runs").fetchone() == ('{"branch":"main"}', 1)


def test_an_invalid_run_is_flagged_and_left_out_of_every_series(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db", create=True) as store:
        for i in range(6):
            store.add(run(i, 0.5 if i < 3 else 1.5))
        stored = store.add(run(9, 0.1, invalid="step 0 reached 40% of its rate"))
        assert not stored.valid and stored.invalid_reason == "the run is invalid: step 0 reached 40% of its rate"
        series = store.series()
        assert [p.run_id for p in series[("quick", "pipeline", "low", "tta_p95_s")]] == [f"r{i}" for i in range(6)]
        result = check(store, min_segment=3)
    assert [r.run_id for r in result.excluded] == ["r9"] and result.runs == 6
    (change,) = [c for c in result.changes if c.key[3] == "tta_p95_s"]
    assert (change.run_id, change.before, change.after, change.fails) == ("r3", 0.5, 1.5, True)


def test_too_few_runs_or_no_store_cannot_conclude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with HistoryStore.open(tmp_path / "h.db", create=True) as store:
        for i in range(5):
            store.add(run(i, 0.5))
        with pytest.raises(TooFewRuns, match=r"5 valid run.* needs at least 6"):
            check(store, min_segment=3)
    assert main(["history", "check", "--store", str(tmp_path / "h.db")]) == 3
    assert main(["history", "check", "--store", str(tmp_path / "none.db")]) == 3
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "needs at least 6" in out[0] and "no history at" in out[1]


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db", create=True):
        pass
    with sqlite3.connect(tmp_path / "h.db") as db:
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match="schema_version 7 is not the one this ingestbench reads"), \
            HistoryStore.open(tmp_path / "h.db"):
        pass
    (tmp_path / "other.db").write_bytes(b"not sqlite at all, just some bytes" * 10)
    with pytest.raises(ConfigError, match="not a history file"), HistoryStore.open(tmp_path / "other.db"):
        pass
