"""ingestbench's change points agree with Apache Otava's on the same series (min segment 1, where the two
methods are the same): the same indices, p-values and segment means.

Otava 0.8.0 pins NumPy 2.2 and brings SciPy and cloud-database clients (docs/gates.md), so it lives in its own
environment: ``.ci/run`` makes it (``.venv-otava``) and points ``INGESTBENCH_OTAVA_PYTHON`` at its Python; the
test skips without it (under CI a skip fails)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ingestbench.results.changepoints import change_points

HELPER = Path(__file__).resolve().parents[1] / "otava" / "otava_change_points.py"


def _otava_python() -> str:
    python = os.environ.get("INGESTBENCH_OTAVA_PYTHON", "")
    if not python or not Path(python).exists():
        pytest.skip("INGESTBENCH_OTAVA_PYTHON names no Python with apache-otava 0.8.0 (.ci/run makes one)")
    return python


def _cases() -> list[dict[str, object]]:
    rng = np.random.default_rng(7)
    cases: list[dict[str, object]] = []
    for _ in range(300):
        n = int(rng.integers(5, 120))
        series = rng.normal(10, 1, n)
        for _ in range(int(rng.integers(0, 4))):  # up to three shifts of random size
            series[int(rng.integers(1, n)):] += rng.normal(0, 4)
        cases.append({"series": [round(float(v), 4) for v in series], "window": int(rng.choice([10, 30, 50])),
                      "max_pvalue": float(rng.choice([0.001, 0.01, 0.05]))})
    return cases


def test_change_points_agree_with_otava() -> None:
    python = _otava_python()
    cases = _cases()
    done = subprocess.run([python, str(HELPER)], input=json.dumps(cases), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout)
    assert sum(1 for t in theirs if t) > 150  # most cases have change points to agree on
    for case, expected in zip(cases, theirs, strict=True):
        ours = change_points(case["series"], max_pvalue=case["max_pvalue"], window=case["window"])  # type: ignore[arg-type]
        assert [c.index for c in ours] == [e[0] for e in expected], case
        for c, (_, pvalue, before, after) in zip(ours, expected, strict=True):
            assert c.pvalue == pytest.approx(pvalue, rel=1e-9, abs=1e-300)
            assert (c.mean_before, c.mean_after) == pytest.approx((before, after), rel=1e-12)
