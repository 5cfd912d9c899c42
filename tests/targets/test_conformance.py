"""Every registered target keeps the contract (:mod:`ingestbench.targets.testing`), a plugin's too; ``ingestbench
targets`` lists them from the same specs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.targets.registry import specs
from ingestbench.targets.testing import problems
from tests.test_architecture import ROOT, TINY_TARGET

BUILT_IN = ("clickhouse", "http", "pipeline", "posthog", "segment", "userflux")


@pytest.mark.parametrize("kind", BUILT_IN)
def test_every_built_in_target_conforms(kind: str) -> None:
    assert problems(specs()[kind]) == []


def _plugin(site: Path, name: str, source: str, entry: str) -> None:
    (site / f"{name}-0.1.dist-info").mkdir(parents=True)
    (site / f"{name}.py").write_text(source)
    (site / f"{name}-0.1.dist-info" / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (site / f"{name}-0.1.dist-info" / "entry_points.txt").write_text(f"[ingestbench.targets]\n{entry}\n")


def test_the_suite_runs_over_a_plugin_and_names_what_breaks(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _plugin(site, "tiny_target", TINY_TARGET, "tiny = tiny_target:make")
    broken = TINY_TARGET.replace("def parse_ingest(self, status, headers, body):", "def parse_ingest_gone(self):")
    _plugin(site, "broken_target", broken, "broken = broken_target:make")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    run = subprocess.run([sys.executable, "-m", "ingestbench.targets.testing"], capture_output=True, text=True,
                         timeout=60, env=env, cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "tiny: conforms" in run.stdout and "pipeline: conforms" in run.stdout
    assert "broken: DOES NOT CONFORM" in run.stdout and "is not a Writer" in run.stdout
    alone = subprocess.run([sys.executable, "-m", "ingestbench.targets.testing", "tiny"], capture_output=True,
                           text=True, timeout=60, env=env, cwd=tmp_path)
    assert alone.returncode == 0, alone.stdout + alone.stderr


def test_targets_lists_every_kind_with_its_options_and_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for kind in BUILT_IN:
        assert f"\n{kind}: " in f"\n{out}"
    for spec in specs().values():
        for secret in spec.secrets:
            assert f"    {secret.env}: " in out
        for option in spec.options:
            assert f"    {option.name} ({option.type}" in out
    assert "INGESTBENCH_SEGMENT_WRITE_KEY: the source's write key [needed to writer]" in out
    assert main(["targets", "nope"]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err


def test_a_readers_bad_option_is_named_by_the_readers_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--check", "--reader", "pipeline", "--reader-opt", "database=x", "--reader-url",
                 "http://127.0.0.1:1"]) == 2
    assert "reader-opt: 'database' is not an option of target 'pipeline'" in capsys.readouterr().err
