"""The CI files the project ships: the perf-gate workflow example and the CI entry point."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_perf_gate_workflow_runs_a_scenario_uploads_and_gates():
    doc = yaml.safe_load((ROOT / ".github/workflows/perf-gate.yml").read_text())
    steps = doc["jobs"]["ingestion-latency"]["steps"]
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "ingestbench run --scenario" in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts and "report.md" in scripts
    upload = [s for s in steps if "upload-artifact" in s.get("uses", "")]
    assert upload and upload[0]["if"] == "always()" and upload[0]["with"]["path"] == "results/"
    assert "exit 1" in scripts and "exit 3" in scripts


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    command = next(line for line in readme.splitlines() if "python -m pytest" in line and line.startswith("python3"))
    assert command in ci
