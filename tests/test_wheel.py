"""The package as a user installs it: a wheel with one top-level import name, the built-in scenarios inside it,
and ``ingestbench run --scenario quick`` passing from an empty directory of a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                           str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("ingestbench-*.whl")
    return built


def test_the_wheel_installs_one_import_name_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"ingestbench"}, sorted(top)
    for data in ("ingestbench/scenarios/quick.toml", "ingestbench/records/slo_default.toml",
                 "ingestbench/scenarios/examples/pipeline.toml", "ingestbench/scenarios/examples/pipeline-slo.toml",
                 "ingestbench/cli/locustfile.py", "ingestbench/pipeline/app.py",
                 "ingestbench/scenarios/replay-day.toml", "ingestbench/scenarios/shapes/day.csv"):
        assert data in names, data


def test_quick_passes_from_an_empty_directory_of_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True,
                         timeout=900, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert pip.returncode == 0, pip.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ib = str(venv / "bin" / "ingestbench")
    listed = subprocess.run([ib, "scenarios"], capture_output=True, text=True, cwd=empty, env=env, timeout=60)
    assert listed.returncode == 0 and "quick" in listed.stdout and "threshold-sweep" in listed.stdout, listed
    assert "examples/clickhouse.toml" in listed.stdout and "invalid" not in listed.stdout, listed.stdout
    assert "replay of shapes/day.csv (compressed 288x): 98 steps" in listed.stdout, listed.stdout  # the shape came
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import ingestbench, sys; print(ingestbench.__file__)"],
                           capture_output=True, text=True, cwd=empty, env=env, timeout=60)
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout, where  # the wheel's copy, not the checkout
    kinds = subprocess.run([ib, "targets"], capture_output=True, text=True, cwd=empty, env=env, timeout=60)
    assert kinds.returncode == 0, kinds
    for kind in ("clickhouse", "http", "pipeline", "posthog", "segment", "userflux"):
        assert f"{kind}: " in kinds.stdout, kinds.stdout
    run = subprocess.run([ib, "run", "--scenario", "quick", "--no-progress", "--out", str(empty / "results")],
                         capture_output=True, text=True, cwd=empty, env=env, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert list((empty / "results").glob("*/report.html"))
