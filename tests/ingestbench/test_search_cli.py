"""``ingestbench search`` at its edge: bad settings exit 2 in one line naming what was wrong, before anything
starts; ``--check`` says what would run, with how long a step lasts; a step's plan is the scenario's at one rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.orchestrate.search import duration_at, plan_at, search_tiers
from ingestbench.results.search import SearchConfig


@pytest.mark.parametrize("args, message", [
    (["--min-eps", "5", "--max-eps", "4"], "--max-eps (4) must be above --min-eps (5)"),
    (["--precision", "0"], "--precision must be a finite number > 0"),
    (["--precision", "0.001"], "--precision must be >= 0.005"),
    (["--factor", "1"], "--factor must be > 1.05"),
    (["--budget-s", "-3"], "--budget-s must be a finite number > 0"),
    (["--tier", "nope"], "--tier: no tier 'nope' in the SLO (tiers: high, low, transactional)"),
    (["--tier", "low", "--min-eps", "2000"], "--tier: tier low's band (< 1000/s) lies outside --min-eps 2000"),
])
def test_bad_settings_exit_2_naming_them(args: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--scenario", "quick", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


def test_check_prints_the_tiers_and_the_step_length(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--scenario", "quick", "--min-eps", "100", "--max-eps", "8000", "--check",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "search tier low: p95 <= 3 s" in out and "search tier high: p95 <= 0.3 s" in out
    assert "search tier transactional" in out and "ok: nothing started" in out
    # quick at time scale 0.1, a canary every 0.1 s: 88 canaries (72 with a 20 % margin) after the warm-up, plus
    # the target; the low tier's warm-up and target are 3 s each, the high tier's 1 s and 0.3 s
    assert "a step at 100 events/s lasts 14.8 s" in out and "a step at 8,000 events/s lasts 10.1 s" in out
    assert not any(tmp_path.iterdir())


def test_a_steps_plan_is_the_scenarios_at_one_rate() -> None:
    plan = resolve_run(RunFlags(scenario="quick", run_id="s"), {}).plan
    tiers = search_tiers(plan, None, SearchConfig(100, 8000))
    assert [t.name for t in tiers] == ["low", "high", "transactional"]
    step = plan_at(plan, 2500.0, duration_at(plan, 2500.0), "s-s03")
    assert [(s.rate_eps, s.duration_s) for s in step.load.steps] == [(2500.0, 10.1)]
    assert step.run_id == step.probe.run_id == "s-s03"
    assert step.expected_tiers == step.probe.expected_tiers == ("high", "transactional")
    assert step.load.batch_size == plan.load.batch_size and step.target == plan.target
    assert search_tiers(plan, None, SearchConfig(2000, 8000))[0].name == "high"  # low's band is outside
    replayed = resolve_run(RunFlags(scenario="replay-day", run_id="d"), {}).plan
    one = plan_at(replayed, 2000.0, 10.1, "d-s01").load
    assert one.replay is None and one.regimes() == (None,)  # a step of a search is flat, whatever the scenario


def test_a_budget_too_small_for_one_step_stops_before_it_and_says_so(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A step of quick's high tier is 10.1 s of load plus its start-up: 5 s cannot hold one, so nothing runs and
    the search cannot conclude (exit 3), with the budget named in its results."""
    assert main(["search", "--scenario", "quick", "--tier", "high", "--budget-s", "5", "--run-id", "b",
                 "--out", str(tmp_path)]) == 3
    captured = capsys.readouterr()
    assert "would end past the 5 s budget" in captured.err
    doc = json.loads((tmp_path / "b" / "search.json").read_text())
    assert doc["steps"] == [] and doc["stopped"] == "budget" and doc["exit_code"] == 3
    assert doc["tiers"][0]["status"] == "inconclusive" and any("budget" in n for n in doc["notes"])
    assert "no step in its band was judged" in captured.out
