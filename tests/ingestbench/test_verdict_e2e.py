"""The verdict cannot hide a loss: ``ingestbench run`` against targets that lose or refuse canaries.

Each run is a real ``ingestbench run`` (Locust, the probe, the judge) against a loopback fake of the
pipeline's API (:mod:`tests.fake_target`) that acknowledges every event.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_target import FakeTarget
from tests.ingestbench.test_run_e2e import ROOT, ib_run, pids_gone

pytestmark = [pytest.mark.slow, pytest.mark.server]


def judged(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "judged.jsonl").read_text().splitlines()]


def gate(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(run_dir)], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def probe_exit_code(doc: dict) -> int:
    return next(c["exit_code"] for c in doc["children"] if c["name"] == "probe")


def failed_tiers(result: tuple, *names: str) -> tuple[Path, dict, dict[str, dict]]:
    """The run failed its SLO with every load step valid: its directory, ``run.json`` and the named tiers."""
    code, run_dir, _, output = result[:4]
    assert code == 1, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    assert all(s["valid"] for s in doc["steps"]), doc["steps"]
    tiers = {t["tier"]: t for t in doc["tiers"]}
    assert all(tiers[n]["status"] == "fail" for n in names), tiers
    return run_dir, doc, tiers


@pytest.fixture(scope="module")
def hiding_run(tmp_path_factory):
    """The quick sweep against a target that never shows one canary in three."""
    tmp = tmp_path_factory.mktemp("hiding")
    with FakeTarget(hide_every=3) as fake:
        result = ib_run(tmp / "out", "--scenario", "quick", "--target", "pipeline", "--url", fake.url, timeout=240)
    return (*result, fake)


def test_every_hidden_canary_is_lost_wherever_it_was_sent(hiding_run):
    run_dir, doc, tiers = failed_tiers(hiding_run, "low", "high")
    fake = hiding_run[-1]
    for name in ("low", "high"):
        t = tiers[name]
        assert t["lost"] > 0, t
        assert f"{t['lost']} of {t['canaries']} canaries lost" in t["reason"]
    windows = [w for name in ("low", "high") for w in tiers[name]["windows"].items()]
    lost_in = {w for w, counts in windows if counts.get("lost")}
    assert {"steady", "warmup", "transition"} <= lost_in, tiers
    # exactly the hidden canaries are the lost ones, and every one of them was decided
    rows = judged(run_dir)
    lost = {r["canary_id"] for r in rows if r["outcome"] in ("lost", "late")}
    assert lost == set(fake.hidden) and len(fake.hidden) >= 100
    assert not any(r["outcome"] == "undecided" for r in rows)
    assert doc["probe"]["undecided"] == 0
    # the report says how many and where
    report = (run_dir / "report.md").read_text()
    assert f"| {tiers['low']['lost']} (" in report and "warm-up" in report and "transition" in report
    # the probe, the run and a later gate agree
    assert probe_exit_code(doc) == doc["exit_code"] == 1
    again = gate(run_dir)
    assert again.returncode == 1, again.stdout + again.stderr
    assert pids_gone(run_dir)


def test_gate_reproduces_the_run_exactly(hiding_run):
    _, run_dir, _, _, _ = hiding_run
    doc = json.loads((run_dir / "run.json").read_text())
    out = gate(run_dir).stdout
    for t in doc["tiers"]:
        assert f"{t['status']}: {t['reason']}" in out, (t["tier"], out)


@pytest.fixture(scope="module")
def refusing_run(tmp_path_factory):
    """Two short steps against a target that refuses every fifth canary request with 503."""
    tmp = tmp_path_factory.mktemp("refusing")
    scenario = tmp / "two-steps.toml"
    scenario.write_text('description = "one low and one high step"\ntime_scale = 0.1\n[load]\nbatch_size = 10\n'
                        "steps = [{rate_eps = 500, duration_s = 100}, {rate_eps = 2000, duration_s = 60}]\n")
    with FakeTarget(refuse_every=5) as fake:
        result = ib_run(tmp / "out", "--scenario", str(scenario), "--target", "pipeline", "--url", fake.url,
                        timeout=180)
    return (*result, fake)


def test_refused_canaries_are_errored_and_fail_the_error_budget(refusing_run):
    run_dir, doc, tiers = failed_tiers(refusing_run, "low", "high")
    fake = refusing_run[-1]
    for name in ("low", "high"):
        t = tiers[name]
        assert t["errored"] > t["allowed_errored"], t
        assert "over the error budget of 1% of the canaries" in t["reason"]
        assert t["lost"] == 0
    errored = {r["canary_id"] for r in judged(run_dir) if r["outcome"] == "errored"}
    assert errored == set(fake.refused) and len(errored) >= 10
    assert "errored" in (run_dir / "report.md").read_text()
    assert probe_exit_code(doc) == doc["exit_code"] == gate(run_dir).returncode == 1
