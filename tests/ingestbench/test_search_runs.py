"""``ingestbench search`` for real: whole runs at each rate against targets whose bounds are known in advance.

- The embedded pipeline flushes a batch when ``F`` rows are buffered. With events arriving at ``r`` per second a
  canary waits at most ``F / r`` for its batch (its place in the batch is uniform, so the p95 wait is about
  ``0.95 F / r``). The high tier's target ``T`` is therefore met from ``r = F / T`` on (``0.95 F / T`` for the
  p95): the lower bound the search must find, within 10 %.
- A target that serves at most ``C`` events/s and queues the rest (:class:`tests.capacity_target.CapacityTarget`)
  keeps every wait near zero below ``C`` and lets it grow without bound above: the upper bound must be within
  15 % of ``C``, and the target named as the limit.
- A rate the generator cannot send: the generator is named as the limit, never the target's capacity.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.capacity_target import CapacityTarget
from tests.procs import kill_if_alive

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.1
HIGH_TARGET_S = 3.0 * TIME_SCALE  # the packaged SLO's high tier, scaled


def _scenario(flush_rows: int, load_extra: str = "") -> str:
    return ('description = "search test"\ntime_scale = 0.1\n'
            "[load]\nbatch_size = 10\nseed = 3\nsteps = [{ rate_eps = 1000, duration_s = 60 }]\n" + load_extra +
            f"[pipeline]\nflush_rows = {flush_rows}\nflush_max_wait_s = 30\n"
            "[probe]\ninterval_s = 0.5\npoll_interval_s = 0.25\nsingle_event = true\ntransactional = false\n")


def _search(tmp: Path, flush_rows: int, *args: str, timeout_s: float = 400,
            scenario_extra: str = "") -> tuple[int, str, dict[str, Any], Path]:
    (tmp / "scenario.toml").write_text(_scenario(flush_rows, scenario_extra))
    cmd = [sys.executable, "-m", "ingestbench", "search", "--scenario", str(tmp / "scenario.toml"), "--out",
           str(tmp / "results"), "--run-id", "s", "--no-progress", "--tier", "high", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_if_alive(proc.pid)
        out, _ = proc.communicate(timeout=30)
        raise AssertionError(f"the search did not end within {timeout_s} s: {out[-3000:]}") from None
    path = tmp / "results" / "s"
    doc = json.loads((path / "search.json").read_text()) if (path / "search.json").exists() else {}
    return proc.returncode, out, doc, path


def _high(doc: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in doc["tiers"] if t["tier"] == "high")


def test_the_high_tiers_lower_bound_is_where_batches_fill_within_the_target(tmp_path: Path) -> None:
    flush_rows = 7500  # unscaled: 750 rows at time scale 0.1
    f = round(flush_rows * TIME_SCALE)
    expected = f / HIGH_TARGET_S  # 2,500 events/s: a canary waits at most F / r <= T from here on
    code, out, doc, path = _search(tmp_path, flush_rows, "--min-eps", "1700", "--max-eps", "3400")
    assert code == 0, out[-4000:]
    high = _high(doc)
    found = high["holds_from_eps"]
    assert abs(found - expected) <= 0.10 * expected, (found, expected, out[-3000:])
    lower = high["lower"]
    assert lower["fails_at"] < found == lower["passes_at"] and found / lower["fails_at"] - 1 <= 0.05 + 1e-9
    for step in doc["steps"]:  # every step is a whole run, judged on its own, kept in the results
        run = json.loads((path / step["run_id"] / "run.json").read_text())
        assert run["scenario"]["rates_eps"] == [step["rate_eps"]] and run["exit_code"] == step["exit_code"]
        assert (path / step["run_id"] / "report.html").exists()
    line = next(ln for ln in out.splitlines() if ln.startswith("tier high"))
    assert f"holds from {found:,.0f}" in line and f"fails at {lower['fails_at']:,.0f}" in line
    md = (path / "report.md").read_text()
    assert line in md
    page = (path / "report.html").read_text()
    assert "<svg" in page and f"holds from {found:,.0f}" in page and "judged p95 against rate" in page


def test_the_upper_bound_is_the_targets_capacity_and_the_target_is_named(tmp_path: Path) -> None:
    capacity = 3000.0
    with CapacityTarget(capacity) as target:
        code, out, doc, _ = _search(tmp_path, 2000, "--target", "pipeline", "--url", target.url,
                                       "--min-eps", "2000", "--max-eps", "4000")
    assert code == 0, out[-4000:]
    high = _high(doc)
    found, upper = high["holds_up_to_eps"], high["upper"]
    assert abs(found - capacity) <= 0.15 * capacity, (found, out[-3000:])
    assert upper["limit"] == "target" and upper["fails_at"] > found
    failing = next(s for s in doc["steps"] if s["rate_eps"] == upper["fails_at"])
    assert failing["delivered"] == "delivered"  # the generator kept its rate: the target fell behind
    assert "the target was the limit" in high["summary"] and "the target was the limit" in out
    assert "generator" not in high["upper"]["text"]


def test_a_rate_the_generator_cannot_send_is_its_limit_not_the_targets(tmp_path: Path) -> None:
    """A generator of two users (``[load] max_users_per_process = 2``) cannot keep up with tens of thousands of
    events/s in batches of 10, while the embedded pipeline takes them with p95 far under the 1 s target here: the
    only limit to find is the generator's, named as such, never as the target's capacity. (Pushing one generator
    process against the embedded pipeline on this 2-core machine instead finds whichever of the two falls behind
    first; near 100,000 events/s the pipeline did, and the search said so.)"""
    (tmp_path / "slo.toml").write_text('[[tier]]\nname = "high"\npath = "analytical"\nat_least_eps = 1000\n'
                                       'target_s = 10\npercentile = 95\n')
    code, out, doc, _ = _search(tmp_path, 2000, "--slo", str(tmp_path / "slo.toml"), "--min-eps", "2000",
                                "--max-eps", "1000000", "--factor", "8", "--precision", "0.5",
                                scenario_extra="max_users_per_process = 2\n")
    high = _high(doc)
    limited = [s for s in doc["steps"] if s["delivered"] == "generator"]
    assert limited, out[-4000:]
    assert high["upper"]["limit"] == "generator" and "the generator was the limit, not the target" in high["summary"]
    assert "the target was the limit" not in out and "at least" in high["summary"]
    assert high["holds_up_to_eps"] is None or high["holds_up_to_eps"] < min(s["rate_eps"] for s in limited)
    assert code == 0, out[-4000:]
