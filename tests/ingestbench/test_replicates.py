"""``ingestbench run --replicates N``: real runs, each judged, summarised as "k of N replicates passed" per tier;
a tier whose replicates spread too far is flagged erratic rather than passed or failed on luck."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.run_record import RunRecord
from ingestbench.records.verdicts import FAIL, PASS, TierVerdict
from ingestbench.results.replicates import summarize
from tests.fake_target import FakeTarget
from tests.faults.runs import FaultRun


class AlternatingTarget(FakeTarget):
    """Shows a canary ``delay_s`` after its ingest; the test sets the delay per replicate."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.0
        self._due: dict[str, float] = {}

    async def _ingest(self, request: web.Request) -> web.Response:
        before = set(self.visible)
        resp = await super()._ingest(request)
        due = time.monotonic() + self.delay_s
        for cid in self.visible - before:
            self._due[cid] = due
        self.visible = before
        return resp

    async def _query(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.visible |= {c for c, t in self._due.items() if t <= now}
        return await super()._query(request)


def _set(run: FaultRun) -> dict[str, Any]:
    return json.loads((run.run_dir / "replicates.json").read_text())


def test_replicates_are_each_judged_and_counted_per_tier(tmp_path: Path) -> None:
    run = FaultRun.start(tmp_path, "--replicates", "2").wait(timeout_s=240)
    assert run.code == 0, run.output[-3000:]
    doc = _set(run)
    assert len(doc["run_ids"]) == 2 and doc["requested"] == 2
    for rid in doc["run_ids"]:  # each replicate is a whole run of its own, judged on its own
        rec = json.loads((run.run_dir / rid / "run.json").read_text())
        assert rec["run_id"] == rid and rec["exit_code"] == 0 and (run.run_dir / rid / "report.md").exists()
    (tier,) = doc["tiers"]
    assert tier["tier"] == "any" and tier["passed"] == 2 and tier["status"] == "pass"
    assert all(v is not None for v in tier["values_s"]) and tier["spread"] < 0.25
    assert "2 of 2 replicates passed" in (run.run_dir / "replicates.md").read_text()
    assert "2 of 2 replicates passed" in run.output


def test_a_tier_whose_replicates_disagree_is_erratic(tmp_path: Path) -> None:
    """The target shows canaries 0.05 s after ingest during the first replicate and 0.40 s during the second:
    each replicate on its own passes the 0.5 s target, but which p95 a single run gets is luck."""
    delays = (0.05, 0.40)
    with AlternatingTarget() as fake:
        run = FaultRun.start(tmp_path, "--replicates", "2", url=fake.url)
        stop = threading.Event()

        def follow() -> None:  # a replicate's directory exists before any of its children starts
            while not stop.is_set():
                results = tmp_path / "results"
                dirs = sorted(p for d in results.glob("*") if d.is_dir() and not d.is_symlink()
                              for p in d.glob("*-r*") if p.is_dir()) if results.is_dir() else []
                if dirs:
                    fake.delay_s = delays[(len(dirs) - 1) % 2]
                time.sleep(0.02)

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        try:
            run.wait(timeout_s=240)
        finally:
            stop.set()
            watcher.join(timeout=5)
    assert run.code == int(ExitCode.INVALID), run.output[-3000:]
    (tier,) = _set(run)["tiers"]
    low, high = tier["values_s"]
    assert low < 0.2 < 0.4 <= high < 0.5, tier["values_s"]
    assert tier["status"] == "erratic" and tier["erratic"] and tier["spread"] > 0.5, tier
    assert "tier any is erratic" in _set(run)["reason"]
    assert "erratic" in (run.run_dir / "replicates.md").read_text()


def _record(run_id: str, *values: tuple[str, float, str], code: int = 0, invalid: tuple[str, ...] = ()) -> RunRecord:
    tiers = tuple(TierVerdict(tier=name, target_s=1.0, judged_s=v, p50_s=v / 2, status=status)
                  for name, v, status in values)
    return RunRecord(run_id=run_id, tiers=tiers, exit_code=code, invalid_reasons=invalid)


def test_the_set_verdict_by_precedence() -> None:
    same = [_record(f"r{i}", ("high", 0.95 + i / 100, PASS)) for i in range(3)]
    ok = summarize(same, requested=3)
    assert ok.exit_code == 0 and ok.tiers[0].passed == 3 and ok.tiers[0].spread == 0.02
    # near the target: one replicate fails, the spread is small: the promise does not hold every time
    mixed = summarize([*same[:2], _record("r2", ("high", 1.02, FAIL), code=1)], requested=3)
    assert mixed.exit_code == 1 and mixed.tiers[0].status == "fail" and "2 of 3 replicates passed" in mixed.reason
    # spread over a quarter of the target: erratic, whatever the verdicts
    wide = summarize([_record("a", ("high", 0.2, PASS)), _record("b", ("high", 0.9, PASS))], requested=2)
    assert wide.exit_code == 3 and wide.tiers[0].erratic and wide.tiers[0].spread == 0.7
    # the threshold is the one given
    assert summarize([_record("a", ("high", 0.2, PASS)), _record("b", ("high", 0.9, PASS))], requested=2,
                     erratic_spread=0.8).exit_code == 0
    # an invalid replicate makes the set inconclusive, named, before anything else
    bad = summarize([same[0], _record("r9", ("high", 0.5, PASS), code=3, invalid=("load step 0 was not reached",))],
                    requested=2)
    assert bad.exit_code == 3 and bad.invalid == ("r9: load step 0 was not reached",)
    # interrupted: fewer replicates than asked for
    short = summarize(same[:2], requested=3)
    assert short.exit_code == 3 and "only 2 of the 3 replicates ran" in short.reason


def test_replicates_and_remote_workers_are_refused_together(tmp_path: Path) -> None:
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--replicates", "2",
                           "--workers", "2", "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--replicates cannot be combined with --workers" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing started, nothing written
