"""``ingestbench compare`` on real runs of the embedded pipeline: a slower flush is flagged, a rerun is not.

Four short runs (time scale 0.1, 25 s of load at 100 events/s, about 1,000 canaries each) go side by side: two
with ``flush_max_wait_s = 3`` (0.3 s scaled) and two with 4.5 (0.45 s). Flush rows are far more than the load
sends in a wait, so every flush is by time and a canary's TTA is its wait for the next flush plus a poll: the
slower setting moves the p50 by about +35 % and the p95 by about +45 %.

The rules are the SLO file's ``[compare]``: confidence 0.99 and, for the p50 (whose noise at 1,000 canaries is
about 3.5 % per comparison) and the CPU (per-second samples of a process using a few hundredths of a core),
larger minimum changes. At the defaults (90 %, 5 %) a metric whose noise reaches 5 % is flagged in about one
A/A comparison in ten by design; the A/B must be flagged at the defaults too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.faults.runs import ROOT, SLO, FaultRun, scenario

pytestmark = [pytest.mark.slow, pytest.mark.server]

RULES = "[compare]\nconfidence = 0.99\n[compare.p50]\nmin_change = 0.15\n[compare.cpu]\nmin_change = 0.5\n"


def flush_scenario(wait_s: float) -> str:
    return (scenario(rate_eps=100, duration_s=250, flush_max_wait_s=wait_s)
            .replace("flush_rows = 200", "flush_rows = 20000").replace("interval_s = 1.0", "interval_s = 0.25"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("ab")
    started = {name: FaultRun.start(tmp / name, scenario_text=flush_scenario(wait), slo_text=SLO + RULES)
               for name, wait in (("a1", 3.0), ("a2", 3.0), ("b1", 4.5), ("b2", 4.5))}
    try:
        for run in started.values():
            run.wait(timeout_s=240)
    finally:
        for run in started.values():
            run.stop()
    for name, run in started.items():
        assert run.code == 0, f"{name}: {run.output[-3000:]}"
    return {name: run.run_dir for name, run in started.items()}


def compare(base: Path, cand: Path, tmp: Path, *args: str) -> tuple[int, str, dict[str, str | None]]:
    """Exit code, output and, per test case of the JUnit file, its failure message (None: it passed)."""
    junit = tmp / f"{base.name}-{cand.name}.xml"
    done = subprocess.run([sys.executable, "-m", "ingestbench", "compare", str(base), str(cand), "--junit",
                           str(junit), *args], capture_output=True, text=True, cwd=ROOT, env=dict(os.environ))
    cases = {c.get("name"): (c.find("failure").get("message") if c.find("failure") is not None else None)
             for c in ET.fromstring(junit.read_text()).iter("testcase")}
    return done.returncode, done.stdout + done.stderr, cases


def test_a_slower_flush_is_flagged_and_a_rerun_is_not(runs: dict[str, Path], tmp_path: Path) -> None:
    code, out, cases = compare(runs["a1"], runs["a2"], tmp_path)
    assert code == 0, out
    assert not [n for n, f in cases.items() if f], out
    assert "one run per side" in out
    code, out, cases = compare(runs["a1"], runs["b1"], tmp_path)
    assert code == 1, out
    for metric in ("p50", "p95"):
        message = cases[f"any {metric}"]
        assert message is not None and message.startswith(f"any {metric} changed +"), out
    assert cases["any lost"] is None and cases["step 0 (100/s) rate"] is None, out
    default_rules = tmp_path / "defaults.toml"
    default_rules.write_text(SLO)
    code, out, cases = compare(runs["a1"], runs["b1"], tmp_path, "--slo", str(default_rules))
    assert code == 1 and cases["any p95"] is not None, out
    code, out, cases = compare(runs["b1"], runs["a1"], tmp_path)  # the other way round: faster, no regression
    assert code == 0, out


def test_replicate_sets_are_compared_run_by_run(runs: dict[str, Path], tmp_path: Path) -> None:
    for side, names in (("base", ("a1", "a2")), ("cand", ("b1", "b2"))):
        (tmp_path / side).mkdir()
        for name in names:
            (tmp_path / side / name).symlink_to(runs[name], target_is_directory=True)
    code, out, cases = compare(tmp_path / "base", tmp_path / "cand", tmp_path)
    assert code == 1, out
    assert "(2 runs)" in out and "one run per side" not in out
    assert cases["any p50"] is not None and cases["any p95"] is not None, out
    code, out, cases = compare(tmp_path / "base", tmp_path / "base", tmp_path)
    assert code == 0, out
