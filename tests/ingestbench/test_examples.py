"""The example scenarios in ``scenarios/examples/``: one for each target kind, each beside its SLO file. Every one
passes ``ingestbench run --check`` with its secrets set (to dummy values) and its URL given; the pipeline's is run
for real against a pipeline started on loopback, at a fifth of its durations, and passes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ingestbench.records.scenario import is_slo_file
from ingestbench.targets.registry import names
from tests.doc_env import dummy_env
from tests.servers import start_pipeline

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "ingestbench" / "scenarios" / "examples"
SCENARIOS = sorted(p for p in EXAMPLES.glob("*.toml") if not is_slo_file(p))
# the URLs each check gives on the command line (the files' own are placeholders)
URLS = {
    "clickhouse": ["--url", "http://clickhouse.test:8123"],
    "http": ["--url", "https://ingest.test"],
    "pipeline": ["--url", "http://127.0.0.1:8080"],
    "posthog": ["--url", "https://eu.i.posthog.com"],
    "segment-clickhouse": ["--url", "https://collector.test", "--reader-url", "http://warehouse.test:8123"],
    "userflux": ["--url", "https://integration-api.userflux.co"],
}


def ib(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def test_there_is_an_example_for_every_target_kind_and_each_names_its_own_slo() -> None:
    docs = {p.stem: tomllib.loads(p.read_text()) for p in SCENARIOS}
    assert set(docs) == set(URLS), sorted(docs)
    kinds = set()
    for name, doc in docs.items():
        target = doc["target"]
        kinds.add(target["writer"]["kind"] if "writer" in target else target["kind"])
        assert doc["slo"] == f"{name}-slo.toml" and is_slo_file(EXAMPLES / doc["slo"]), name
        assert doc["description"], name
    assert kinds == set(names()), kinds  # every built-in kind has its example
    assert docs["segment-clickhouse"]["target"]["reader"]["kind"] == "clickhouse"
    slo_files = {p.name for p in EXAMPLES.glob("*.toml") if is_slo_file(p)}
    assert slo_files == {f"{n}-slo.toml" for n in docs}, slo_files  # no SLO file that no example uses


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_each_example_passes_check_with_its_secrets_and_url(scenario: Path) -> None:
    proc = ib("run", "--scenario", str(scenario.relative_to(ROOT)), "--check", *URLS[scenario.stem],
              env=dummy_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok: nothing started (--check)" in proc.stdout
    assert f"SLO {scenario.with_name(scenario.stem + '-slo.toml').relative_to(ROOT)}" in proc.stdout
    assert URLS[scenario.stem][1] in proc.stdout  # the URL given wins over the file's
    assert "dummy-" not in proc.stdout + proc.stderr  # a secret's value is never printed
    if "--reader-url" in URLS[scenario.stem]:
        assert f"reading through clickhouse at {URLS[scenario.stem][3]}" in proc.stdout


def test_scenarios_lists_the_examples_and_never_their_slo_files_as_broken() -> None:
    proc = ib("scenarios", env=dummy_env())
    assert proc.returncode == 0, proc.stderr
    assert "invalid" not in proc.stdout, proc.stdout
    for scenario in SCENARIOS:
        assert f"examples/{scenario.name} " in proc.stdout, proc.stdout
    assert "-slo" not in proc.stdout, proc.stdout
    assert "quick " in proc.stdout and "threshold-sweep " in proc.stdout  # the built-ins still come first


@pytest.mark.server
def test_the_pipeline_example_runs_against_a_pipeline_at_its_url_and_passes(tmp_path: Path) -> None:
    """The example as a CI gate uses it: a pipeline running on its own, a write key it requires, the URL on the
    command line. At a fifth of the durations (50 s of load; targets 6 s, 0.6 s and 0.2 s), with a pipeline that
    flushes at 150 rows or 3 s, every tier passes with a margin a busy machine does not eat: measured with two
    busy loops beside it on 2 cores (load average 7), p95s of 8 % (low), 21 % (high) and 22 % (transactional) of
    the targets, every step at its rate with a lag p99 under 25 ms."""
    key = "example-write-key"
    with start_pipeline(tmp_path, flush_rows=150, flush_max_wait_s=3.0, env={"INGESTBENCH_WRITE_KEY": key}) as p:
        proc = ib("run", "--scenario", "scenarios/examples/pipeline.toml", "--url", p.url, "--time-scale", "0.2",
                  "--out", str(tmp_path / "results"), "--no-progress",
                  env=dummy_env(INGESTBENCH_WRITE_KEY=key), timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    (run_dir,) = [d for d in (tmp_path / "results").iterdir() if d.is_dir() and not d.is_symlink()]
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["target"]["url"] == p.url and not doc["target"]["embedded"], doc["target"]
    tiers = {t["tier"]: t for t in doc["tiers"]}
    assert set(tiers) == {"low", "high", "transactional"}, tiers
    for name, tier in tiers.items():
        assert tier["status"] == "pass" and tier["errored"] == 0 and tier["lost"] == 0, (name, tier)
    assert all(step["valid"] for step in doc["steps"]), doc["steps"]
    # the README's table of the results directory names every file this run wrote
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("\n`results/<run-id>/`"):readme.index("### Exit codes")]
    documented = set(re.findall(r"^\| `([^`]+?)/?`", table, re.M))
    assert {p.name for p in run_dir.iterdir()} <= documented, sorted({p.name for p in run_dir.iterdir()} - documented)
