"""``ingestbench run`` end to end: real pipeline, real Locust, real probe, on loopback."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from tests.runs import ROOT, assert_plan_only, assert_secret_nowhere, ib_run, ib_run_watched, pids_gone, tiers
from tests.servers import start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]


WRITE_KEY = "ib-test-" + secrets.token_hex(12)
RUN_ID = "e2e-" + secrets.token_hex(4)


@pytest.fixture(scope="module")
def good_run_watched(tmp_path_factory):
    """The main job, with a write key that the embedded pipeline then requires on every request.

    Shared by several tests; only the ones whose claim is the verdict itself (it passes, compare finds no
    regression) need it to pass. The others check what they are about on whatever verdict it gave."""
    return ib_run_watched(tmp_path_factory.mktemp("good"), "--scenario", "quick", "--run-id", RUN_ID,
                          "--tag", "branch=main", env={"INGESTBENCH_WRITE_KEY": WRITE_KEY,
                                                       "INGESTBENCH_TAGS": "suite=e2e"})


@pytest.fixture(scope="module")
def good_run(good_run_watched):
    return good_run_watched[:4]


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """The same scenario against a pipeline whose flush-rows is 100x what the scenario's embedded one uses."""
    tmp = tmp_path_factory.mktemp("bad")
    with start_pipeline(tmp, flush_rows=20_000, flush_max_wait_s=3.0) as p:
        return ib_run(tmp / "out", "--scenario", "quick", "--target", "pipeline", "--url", p.url)


def test_quick_passes_and_shows_the_knee(good_run):
    code, run_dir, elapsed, output = good_run
    assert code == 0, output[-3000:]
    assert elapsed < 90
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["schema_version"] == 2 and doc["exit_code"] == 0 and doc["status"] == "finished"
    assert all(s["valid"] for s in doc["steps"]) and len(doc["steps"]) == 4
    t = tiers(run_dir)
    low, high = t["low"], t["high"]
    assert low["n"] >= 20 and high["n"] >= 20
    wait_s = doc["target"]["pipeline"]["flush_max_wait_s"]  # 3 s at time scale 0.1
    assert 0.5 * wait_s <= low["p95_s"] <= 1.1 * wait_s, low
    assert high["p95_s"] < 0.25 * low["p95_s"], (high, low)
    for name in ("report.md", "report.html", "junit.xml", "samples.jsonl", "rates.jsonl"):
        assert (run_dir / name).stat().st_size > 0, name
    assert pids_gone(run_dir)


def test_the_run_id_names_the_directory_and_the_tags_are_kept(good_run):
    _, run_dir, _, _ = good_run
    assert run_dir.name == RUN_ID and (run_dir.parent / "latest").resolve() == run_dir.resolve()
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["run_id"] == RUN_ID and doc["tags"] == {"suite": "e2e", "branch": "main"}
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["tags"] == plan["probe"]["tags"] == doc["tags"]  # every child labels its metrics with them
    assert "- tags: `branch=main`, `suite=e2e`" in (run_dir / "report.md").read_text()


def test_the_write_key_is_in_no_file_log_or_command_line(good_run_watched):
    _, run_dir, _, output, cmdlines = good_run_watched
    # the pipeline refuses requests without the key (401): every load request and canary got through, so it
    # reached every child
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["steps"] and all(s["failed_events"] == 0 and s["sent_events"] > 0 for s in doc["steps"]), output
    assert all(t["errored"] == 0 for t in doc["tiers"]) and doc["probe"]["sent"] > 0, doc["tiers"]
    assert len(cmdlines) >= 3 and any(" probe " in c for c in cmdlines) and any("locust" in c for c in cmdlines)
    assert_plan_only(cmdlines, run_dir / "plan.json")  # one resolution: children get the plan, nothing else
    assert_secret_nowhere(WRITE_KEY, run_dir, output, cmdlines)


def test_gate_reproduces_the_finished_run(good_run):
    _, run_dir, _, _ = good_run
    doc = json.loads((run_dir / "run.json").read_text())
    again = subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(run_dir)], capture_output=True,
                           text=True, cwd=ROOT)
    assert again.returncode == doc["exit_code"]  # whatever the run's verdict was
    for t in doc["tiers"]:
        assert f"{t['status']}: {t['reason']}" in again.stdout
    probe = next(c for c in doc["children"] if c["name"] == "probe")
    assert probe["exit_code"] == doc["exit_code"]  # the probe's own verdict agrees


def test_bad_setting_fails_the_high_tier(bad_run):
    code, run_dir, _, output = bad_run
    assert code == 1, output[-3000:]
    t = tiers(run_dir)
    assert t["high"]["status"] == "fail" and t["low"]["status"] == "pass"
    report = (run_dir / "report.md").read_text()
    assert "❌ fail" in report and "| high |" in report
    assert "exceeds the 0.3 s target" in t["high"]["reason"]


# The quick scenario judges a few dozen canaries per tier: the A/A comparison asks for 99.9 % confidence and
# changes of 25 % (CPU: 100 %) so that its noise is not a regression; the 100x flush rows move the high tier's
# p95 far beyond that (tests/ingestbench/test_compare_runs.py compares runs with enough canaries at the defaults).
RULES = "[compare]\nconfidence = 0.999\nmin_change = 0.25\n[compare.cpu]\nmin_change = 1\n"


def compare_cases(base_dir, candidate_dir, tmp_path):
    """``ingestbench compare``: its run, and per JUnit test case its failure message (None: it passed)."""
    rules, junit = tmp_path / "rules.toml", tmp_path / f"{candidate_dir.name}.xml"
    rules.write_text((base_dir / "slo.toml").read_text() + "\n" + RULES)
    done = subprocess.run([sys.executable, "-m", "ingestbench", "compare", str(base_dir), str(candidate_dir),
                           "--slo", str(rules), "--junit", str(junit)], capture_output=True, text=True, cwd=ROOT)
    cases = {c.get("name"): (c.find("failure").get("message") if c.find("failure") is not None else None)
             for c in ET.fromstring(junit.read_text()).iter("testcase")}
    return done, cases


def test_compare_flags_the_regression_not_the_rerun(good_run, bad_run, tmp_path):
    _, base_dir, _, _ = good_run
    code, again_dir, _, output = ib_run(tmp_path / "again", "--scenario", "quick")
    assert code == 0, output[-3000:]
    same, cases = compare_cases(base_dir, again_dir, tmp_path)  # the rerun: the same setting, only noise
    assert same.returncode == 0, same.stdout + same.stderr
    tiers_judged = {t["tier"] for t in json.loads((base_dir / "run.json").read_text())["tiers"]}
    assert {f"{t} p95" for t in tiers_judged} <= set(cases), cases
    worse, cases = compare_cases(base_dir, bad_run[1], tmp_path)  # 100x the flush rows: the high tier regresses
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert cases["high p95"] is not None, worse.stdout  # slower beyond the noise
    assert cases["low p95"] is None, worse.stdout
    assert "REGRESSION in" in worse.stderr and "high p95" in worse.stderr, worse.stderr


def test_unreachable_step_makes_the_run_invalid(tmp_path):
    scenario = tmp_path / "too-much.toml"
    scenario.write_text('description = "asks for far more single events than one generator core can send"\n'
                        "time_scale = 0.1\n[load]\nbatch_size = 1\nsteps = [{rate_eps = 50000, duration_s = 40}]\n"
                        "[pipeline]\nflush_rows = 2000\nflush_max_wait_s = 30\n")
    code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", str(scenario))
    assert code == 3, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["steps"][0]["valid"] is False
    assert any("not reached" in r for r in doc["invalid_reasons"])
    assert "INVALID" in (run_dir / "report.html").read_text()


def test_killed_run_leaves_a_renderable_results_dir(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        samples = None
        while time.monotonic() < deadline:
            found = list(out.glob("*/samples.jsonl"))
            # half-way through the low-volume step: canaries decided (flushes there take ~3 s)
            lines = found[0].read_text().splitlines() if found else []
            if sum('"path":"analytical","outcome":"available"' in line for line in lines) >= 30:
                samples = found[0]
                break
            time.sleep(0.2)
        assert samples is not None, "the run recorded samples as it went"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = samples.parent
    assert pids_gone(run_dir), "children stop when the run is killed"
    rendered = subprocess.run([sys.executable, "-m", "ingestbench", "report", str(run_dir)], capture_output=True,
                              text=True, cwd=ROOT)
    assert rendered.returncode == 0, rendered.stderr
    md = (run_dir / "report.md").read_text()
    assert "did not finish" in md and "| low |" in md
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()


def test_ctrl_c_stops_everything_and_writes_results(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "run", "--scenario", "quick", "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        # the load runs and the probe has decided canaries: both are under way when Ctrl-C comes
        while time.monotonic() < deadline and not (list(out.glob("*/rates.jsonl"))
                                                   and any(p.stat().st_size for p in out.glob("*/samples.jsonl"))):
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, output[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["status"] == "interrupted" and doc["exit_code"] == 3
    assert any("interrupted" in r for r in doc["invalid_reasons"])
    # the probe stopped without a drain: what it had not decided yet is recorded, and said
    undecided = doc["probe"]["undecided"]
    assert undecided > 0 and any(f"{undecided} canaries were never decided" in r for r in doc["invalid_reasons"])
    assert (run_dir / "report.md").exists()
    assert pids_gone(run_dir, timeout_s=5)


HTTP_KEY = "ib-http-" + secrets.token_hex(12)
HTTP_TEMPLATES = ("path=/event/ingest/batch", "envelope=events", "accepted=204", "query_path=/query",
                  'query_body={"canary_ids": {ids}}', "rows_path=rows", "canary_path=canary_id")


def test_the_generic_http_target_gives_the_native_targets_verdicts(bad_run, tmp_path):
    """The same pipeline settings and scenario as ``bad_run``, driven through templates alone: the same verdict
    per analytical tier and the same exit code (the http target has no profiles: no transactional tier)."""
    with start_pipeline(tmp_path, flush_rows=20_000, flush_max_wait_s=3.0,
                        env={"INGESTBENCH_WRITE_KEY": HTTP_KEY}) as p:
        args = [a for t in HTTP_TEMPLATES for a in ("--target-opt", t)]
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", "quick", "--target", "http", "--url", p.url, *args,
            env={"INGESTBENCH_HTTP_AUTH": f"Bearer {HTTP_KEY}"})
    native_code, native_dir, _, _ = bad_run
    assert code == native_code == 1, output[-3000:]
    native, generic = tiers(native_dir), tiers(run_dir)
    assert {k: v["status"] for k, v in generic.items()} == {k: native[k]["status"] for k in ("low", "high")}
    assert generic["low"]["n"] >= 20 and generic["high"]["n"] >= 20
    assert_secret_nowhere(HTTP_KEY, run_dir, output, cmdlines)  # the pipeline refused requests without it
