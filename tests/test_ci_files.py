"""The CI files the project ships: the perf-gate workflow (a gate on the user's own system), the GitLab CI example
in the README, and the CI entry point. Checked statically (structure, what each step runs) and by parsing every
``ingestbench`` command they run with the real parser; the workflow's configuration check runs for real (it
only validates: ``--check``)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestbench.cli import build_parser
from tests.doc_env import dummy_env, secret_names

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github/workflows/perf-gate.yml"
# stand-ins for what the runner substitutes, to parse the commands
SUBSTITUTES = {"${GITHUB_SHA::12}": "0123456789ab", "$GITHUB_REF_NAME": "main", "$RUN_ID": "gh-1-1",
               "${{ steps.baseline.outputs.dir }}": "perf-baseline", "$SCENARIO": "scenarios/examples/pipeline.toml",
               "$INGESTBENCH_URL": "https://ingest.example.com", "$CI_PIPELINE_ID": "1", "$CI_JOB_ID": "2",
               "$CI_COMMIT_SHORT_SHA": "0123abcd"}


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def job(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow["jobs"]["ingestion-latency"]


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in job(workflow)["steps"] if s.get("name") == name]
    return found


def ingestbench_commands(script: str) -> list[list[str]]:
    """Every ``ingestbench`` command a shell script runs, with the runner's variables substituted, as argv lists
    (from the subcommand on; redirections dropped)."""
    text = script.replace("\\\n", " ")
    for var, value in SUBSTITUTES.items():
        text = text.replace(var, value)
    out = []
    for line in text.splitlines():
        m = re.search(r"ingestbench (\w.*)$", line)
        if m and "/bin/ingestbench" in line:
            argv = shlex.split(re.split(r"\s[012]?>|;|\|\||&&", m.group(1))[0])
            out.append(argv)
    return out


def parses(argv: list[str]) -> str:
    """'' when the real parser takes ``argv``, else its error."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            build_parser(argv[0]).parse_args(argv)
        except SystemExit:
            return err.getvalue().strip()
    return ""


def test_the_gate_runs_a_scenario_against_the_url_from_the_repository_settings(workflow: dict[str, Any]) -> None:
    env = job(workflow)["env"]
    assert env["INGESTBENCH_URL"] == "${{ vars.INGESTBENCH_URL }}"
    assert "vars.INGESTBENCH_SCENARIO" in env["SCENARIO"] and "scenarios/examples/pipeline.toml" in env["SCENARIO"]
    assert (ROOT / "scenarios/examples/pipeline.toml").is_file()
    runs = [argv for s in job(workflow)["steps"] for argv in ingestbench_commands(s.get("run", ""))
            if argv[0] == "run"]
    assert len(runs) == 2, runs  # the configuration check, then the run
    for argv in runs:
        assert "--url" in argv, argv  # never the embedded pipeline
    check = step(workflow, "Check the configuration")["run"]
    assert check.index('-z "$INGESTBENCH_URL"') < check.index("--check") and "exit 2" in check


def test_every_secret_of_every_target_comes_from_the_repository_secrets(workflow: dict[str, Any]) -> None:
    env = job(workflow)["env"]
    for name in secret_names():
        assert env.get(name) == f"${{{{ secrets.{name} }}}}", name
    text = WORKFLOW.read_text()
    assert not re.search(r"INGESTBENCH_\w+=\S", "\n".join(s.get("run", "") for s in job(workflow)["steps"])), \
        "a secret is never put on a command line"
    assert "secrets." not in text.split("steps:", 1)[1], "secrets reach the steps through the job's env only"


def test_the_run_is_named_and_its_results_published(workflow: dict[str, Any]) -> None:
    env, run = job(workflow)["env"], step(workflow, "Run the scenario")
    assert env["RUN_ID"] == "gh-${{ github.run_id }}-${{ github.run_attempt }}"
    (argv,) = ingestbench_commands(run["run"])
    assert argv[argv.index("--run-id") + 1] == "gh-1-1" and argv[argv.index("--out") + 1] == "results"
    assert '"results/$RUN_ID/report.md" >> "$GITHUB_STEP_SUMMARY"' in run["run"]
    assert "set +e" in run["run"] and 'echo "exit_code=$?" >> "$GITHUB_OUTPUT"' in run["run"]
    report = step(workflow, "Publish the test report")
    assert report["uses"].startswith("mikepenz/action-junit-report@")
    assert report["with"]["report_paths"] == "results/${{ env.RUN_ID }}/junit.xml"
    assert workflow["permissions"]["checks"] == "write"
    upload = step(workflow, "Upload the results")
    assert upload["if"] == "always()" and upload["with"]["path"] == "results/"


def test_it_compares_with_a_committed_or_stored_baseline(workflow: dict[str, Any]) -> None:
    find, compare = step(workflow, "Find the baseline"), step(workflow, "Compare with the baseline")
    assert "perf-baseline/run.json" in find["run"] and "gh run download" in find["run"]
    assert "ingestbench-baseline" in find["run"] and find["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert workflow["permissions"]["actions"] == "read"
    (argv,) = ingestbench_commands(compare["run"])
    assert argv == ["compare", "perf-baseline", "results/gh-1-1"]
    assert "GITHUB_STEP_SUMMARY" in compare["run"]
    keep = step(workflow, "Keep this run as the baseline")
    assert keep["with"] == {"name": "ingestbench-baseline", "path": "results/${{ env.RUN_ID }}/",
                            "retention-days": 90}
    for condition in ("steps.run.outputs.exit_code == '0'", "github.event.repository.default_branch",
                      "steps.compare.outputs.exit_code == '0'"):
        assert condition in keep["if"]


def test_the_gate_fails_on_a_failed_slo_an_invalid_run_and_a_regression(workflow: dict[str, Any]) -> None:
    gate = step(workflow, "Gate")
    assert gate["if"] == "always()"
    script = gate["run"]
    run_case, compare_case = script.split('case "${{ steps.compare.outputs.exit_code }}" in')
    assert "exit 1" in run_case and "exit 3" in run_case and "0) echo" in run_case
    assert "1) echo" in compare_case and "exit 1" in compare_case


def test_it_adds_the_run_to_the_history_checks_it_and_keeps_the_default_branchs(workflow: dict[str, Any]) -> None:
    restore, check, keep = (step(workflow, n) for n in ("Restore the metric history", "Check the metric history",
                                                          "Keep the metric history"))
    assert restore["uses"].startswith("actions/cache/restore@") and keep["uses"].startswith("actions/cache/save@")
    assert restore["with"]["path"] == keep["with"]["path"] == "history.db"
    assert restore["with"]["key"] == keep["with"]["key"] and "github.run_id" in keep["with"]["key"]
    commands = ingestbench_commands(check["run"])
    assert [c[:2] for c in commands] == [["history", "add"], ["history", "check"]]
    assert "--markdown" in commands[1] and 'cat history.md >> "$GITHUB_STEP_SUMMARY"' in check["run"]
    assert "default_branch" in keep["if"] and "pull_request" in keep["if"]
    gate = step(workflow, "Gate")["run"]
    history_case = gate.split('case "${{ steps.history.outputs.exit_code }}" in')[1]
    assert "1) echo" in history_case and "exit 1" in history_case


def test_every_ingestbench_command_of_the_ci_files_parses(workflow: dict[str, Any]) -> None:
    commands = [argv for s in job(workflow)["steps"] for argv in ingestbench_commands(s.get("run", ""))]
    commands += gitlab_commands()
    assert len(commands) == 7, commands  # the workflow's check, run, compare, history add and check; GitLab's 2
    problems = {" ".join(argv): parses(argv) for argv in commands}
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}


def test_the_workflows_configuration_check_passes_for_the_default_scenario(workflow: dict[str, Any]) -> None:
    """The step as the runner runs it, with the runner's .venv replaced by this interpreter."""
    script = step(workflow, "Check the configuration")["run"].replace(".venv/bin/ingestbench",
                                                                       f"{sys.executable} -m ingestbench")
    env = dummy_env(INGESTBENCH_URL="https://ingest.example.com", SCENARIO="scenarios/examples/pipeline.toml")
    proc = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok: nothing started (--check)" in proc.stdout
    env.pop("INGESTBENCH_URL")
    proc = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 2 and "set the repository variable INGESTBENCH_URL" in proc.stdout, proc


def gitlab_job() -> dict[str, Any]:
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"^```yaml\n(perf-gate:.*?)^```", readme, re.M | re.S)
    job: dict[str, Any] = yaml.safe_load(block)["perf-gate"]
    return job


def gitlab_commands() -> list[list[str]]:
    return [argv for line in gitlab_job()["script"] for argv in ingestbench_commands(line)]


def test_the_gitlab_example_runs_against_the_url_compares_and_reports_junit() -> None:
    job = gitlab_job()
    runs = [a for a in gitlab_commands() if a[0] == "run"]
    assert runs and all("--url" in a and "--run-id" in a for a in runs), runs
    assert any(a[0] == "compare" for a in gitlab_commands())
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "results/*/junit.xml"
    assert job["variables"]["SCENARIO"] == "scenarios/examples/pipeline.toml"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    command = next(line for line in readme.splitlines() if "python -m pytest" in line and line.startswith("python3"))
    assert command in ci


