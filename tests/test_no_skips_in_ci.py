"""Under CI no test may skip: ``tests/ci.py`` decides what CI is, ``tests/conftest.py`` makes a skip a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import in_ci

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("value", "ci"), [
    ("true", True), ("TRUE", True), ("True", True), ("1", True), ("yes", True), ("Yes", True), (" true ", True),
    ("false", False), ("FALSE", False), ("0", False), ("", False), ("no", False), (None, False),
])
def test_what_ci_means(value: str | None, ci: bool) -> None:
    assert in_ci({} if value is None else {"CI": value}) is ci


SKIPPING = """
import pytest

pytestmark = pytest.mark.skipif(True, reason="marked away")

def test_passes():
    pass
"""
SKIPPING_INSIDE = """
import pytest

def test_needs_a_tool():
    pytest.skip("frobnicate is not installed")

def test_passes():
    pass
"""
SKIPPING_MODULE = """
import pytest

pytest.skip("no frobnicate here", allow_module_level=True)

def test_passes():
    pass
"""


def run_pytest(tmp_path: Path, source: str, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py")], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_a_skip_inside_a_test_fails_the_run_under_ci(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, SKIPPING_INSIDE, "true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout and "frobnicate is not installed" in done.stdout, done.stdout


def test_a_skip_marker_fails_the_run_under_ci(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, SKIPPING, "1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "marked away" in done.stdout, done.stdout


def test_a_module_skipped_while_collecting_fails_the_run_under_ci(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, SKIPPING_MODULE, "yes")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no frobnicate here" in done.stderr, done.stdout + done.stderr


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, SKIPPING_INSIDE, "false")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
