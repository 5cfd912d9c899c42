"""The A/B statistics (ab_stats) and ``compare`` over synthetic results directories (no servers)."""

import json
import math
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ingestbench.cli import main
from ingestbench.records.compare_rules import CompareRules, MetricRule, parse_compare
from ingestbench.records.config import ConfigError
from ingestbench.results.ab_stats import (
    change,
    mean_replicates,
    percentile_replicates,
    share_change,
    side_mean,
    side_percentile,
)
from tests.ingestbench.synthetic import make_run_dir


def tta_change(base, cand, pct, seed=7, confidence=0.9):
    rng = np.random.default_rng(seed)
    b, c = [np.sort(x) for x in base], [np.sort(x) for x in cand]
    return change(percentile_replicates(b, pct, rng), percentile_replicates(c, pct, rng), side_percentile(b, pct),
                  side_percentile(c, pct), direction=1, confidence=confidence)


def test_a_known_shift_is_found_with_its_sign_and_size():
    rng = np.random.default_rng(1)
    base = [rng.exponential(0.2, 2000) + 0.1]
    slower, faster = [base[0] * 1.3], [base[0] * 0.7]
    up = tta_change(base, slower, 95)
    assert up.change == pytest.approx(0.3) and up.low > 0.2 and up.p_worse > 0.99
    down = tta_change(base, faster, 95)
    assert down.change == pytest.approx(-0.3) and down.high < -0.2 and down.p_worse < 0.01
    # independent samples of the same distribution, 30 % apart, and the interval covers the truth
    other = [rng.exponential(0.2, 2000) * 1.3 + 0.13]
    moved = tta_change(base, other, 50)
    assert moved.low < 0.3 < moved.high and moved.p_worse > 0.99


def test_identical_samples_give_an_interval_around_zero():
    rng = np.random.default_rng(2)
    same = [rng.uniform(0, 1, 500)]
    for pct in (50, 95, 99):
        ch = tta_change(same, same, pct)
        assert ch.change == 0 and ch.low < 0 < ch.high and 0.3 < ch.p_worse < 0.7
    means = change(mean_replicates(same, np.random.default_rng(3)), mean_replicates(same, np.random.default_rng(4)),
                   side_mean(same), side_mean(same), direction=1, confidence=0.9)
    assert means.change == 0 and means.low < 0 < means.high


def test_the_seed_makes_it_deterministic():
    rng = np.random.default_rng(5)
    a, b = [rng.normal(1, 0.1, 300)], [rng.normal(1.02, 0.1, 300)]
    assert tta_change(a, b, 95, seed=11) == tta_change(a, b, 95, seed=11)
    assert tta_change(a, b, 95, seed=11) != tta_change(a, b, 95, seed=12)


def test_replicate_sets_count_run_to_run_noise():
    """Runs whose levels differ from run to run: the same within-run spread, but the hierarchical interval is
    wider with the between-run spread than one run's."""
    rng = np.random.default_rng(6)
    base = [rng.uniform(0, 1, 4000) * level for level in (0.8, 1.0, 1.2)]
    cand = [rng.uniform(0, 1, 4000) * level for level in (0.85, 1.05, 1.25)]
    sets = tta_change(base, cand, 50)
    single = tta_change(base[1:2], cand[1:2], 50)
    assert sets.high - sets.low > 2 * (single.high - single.low)
    assert sets.low < 0 < sets.high  # +5 % against a 20 % run-to-run spread is not shown


def test_losses_beyond_the_horizon_count_as_worse():
    base = [np.array([0.1] * 90 + [0.2] * 10)]
    cand = [np.array([0.1] * 90 + [math.inf] * 10)]
    ch = tta_change(base, cand, 95)
    assert math.isinf(ch.change) and ch.p_worse > 0.9


def test_a_difference_of_shares_has_a_score_interval():
    more = share_change(0, 400, 12, 400, 0.9)
    assert more.change == pytest.approx(0.03) and 0 < more.low < 0.03 < more.high and more.p_worse > 0.99
    same = share_change(2, 400, 2, 400, 0.9)
    assert same.change == 0 and same.low < 0 < same.high and same.p_worse == 0.5
    fewer = share_change(12, 400, 0, 400, 0.9)
    assert fewer.high < 0 and fewer.p_worse < 0.01
    one = share_change(0, 100, 1, 100, 0.9)  # one loss in a hundred: not sure at 90 %
    assert one.low < 0 and one.p_worse < 0.9


def test_a_100k_canary_run_compares_in_well_under_a_second():
    rng = np.random.default_rng(8)
    base, cand = [np.sort(rng.exponential(1, 100_000))], [np.sort(rng.exponential(1.02, 100_000))]
    started = time.perf_counter()
    for pct in (50, 95, 99):
        tta_change(base, cand, pct)
    assert time.perf_counter() - started < 0.5


def test_compare_rules_parse_and_refuse_bad_keys():
    rules = parse_compare({"confidence": 0.95, "min_change": 0.1, "p95": {"min_change": 0.2}, "lost": {}}, "slo")
    assert rules.rule("p95") == MetricRule(0.95, 0.2) and rules.rule("p50") == MetricRule(0.95, 0.1)
    assert rules.rule("lost") == MetricRule(0.95, 0.01)  # shares: points, their own default
    assert CompareRules().with_defaults(min_change=0.5, metrics=("p50",)).rule("p50").min_change == 0.5
    for bad, key in (({"p96": {}}, "compare.p96"), ({"confidence": 1.0}, "compare.confidence"),
                     ({"p50": {"min_change": -1}}, "compare.p50.min_change"), ({"rate": {"x": 1}}, "compare.rate.x")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            parse_compare(bad, "slo")


LONG = ((200, 60), (1500, 60))  # about 120 canaries per tier


def reported(path, **kw):
    run = make_run_dir(path, status=kw.pop("status", "finished"), steps=kw.pop("steps", LONG), **kw)
    assert main(["report", str(run)]) == 0
    return run


def test_compare_flags_a_slower_tier_and_writes_markdown_and_junit(tmp_path, capsys):
    base = reported(tmp_path / "base", high_tta_s=0.2, seed=1)
    same = reported(tmp_path / "same", high_tta_s=0.2, seed=2)
    worse = reported(tmp_path / "worse", high_tta_s=0.6, seed=3)
    assert main(["compare", str(base), str(same)]) == 0
    assert "one run per side" in capsys.readouterr().out
    md, xml = tmp_path / "c.md", tmp_path / "c.xml"
    assert main(["compare", str(base), str(worse), "--markdown", str(md), "--junit", str(xml)]) == 1
    captured = capsys.readouterr()
    assert "REGRESSION in high p50, high p95, high p99" in captured.err
    suite = ET.fromstring(xml.read_text())
    failed = {c.get("name"): c.find("failure") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert set(failed) == {"high p50", "high p95", "high p99"}
    assert "interval +" in failed["high p95"].get("message") and "%" in failed["high p95"].get("message")
    names = {c.get("name") for c in suite.iter("testcase")}
    assert {"low p95", "low lost", "high errored", "step 1 (1500/s) rate"} <= names
    assert "| high | p95 |" in md.read_text() and "❌ regression: worse with" in md.read_text()
    # swapped: the candidate is faster, an improvement
    assert main(["compare", str(worse), str(base)]) == 0


def test_a_replicate_set_is_every_run_in_a_directory(tmp_path, capsys):
    for i in (1, 2):
        reported(tmp_path / "base" / f"r{i}", high_tta_s=0.2, seed=i)
        reported(tmp_path / "cand" / f"r{i}", high_tta_s=0.6, seed=10 + i)
    (tmp_path / "base" / "latest").symlink_to("r1")
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "cand")]) == 1
    out = capsys.readouterr().out
    assert "(2 runs)" in out and "one run per side" not in out


def test_what_cannot_be_compared_exits_3(tmp_path, capsys):
    base = reported(tmp_path / "base", seed=1)
    killed = reported(tmp_path / "killed", seed=4, status="running")
    assert main(["compare", str(base), str(killed)]) == 3  # an invalid candidate proves nothing
    assert "killed is invalid" in capsys.readouterr().err
    other = reported(tmp_path / "other", seed=5)
    doc = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**doc, "scenario": {"name": "soak", "time_scale": 0.1}}))
    assert main(["compare", str(base), str(other)]) == 3
    assert "different scenarios" in capsys.readouterr().err
    fewer = reported(tmp_path / "fewer", seed=6)
    doc = json.loads((fewer / "run.json").read_text())
    (fewer / "run.json").write_text(json.dumps({**doc, "tiers": [t for t in doc["tiers"] if t["tier"] != "high"]}))
    assert main(["compare", str(base), str(fewer)]) == 3
    assert "tier high is judged in some runs but not in" in capsys.readouterr().err
    assert main(["compare", str(base), str(tmp_path / "nothing")]) == 2


def test_the_slo_compare_table_and_the_deprecated_option_set_the_rules(tmp_path, capsys):
    base = reported(tmp_path / "base", high_tta_s=0.2, seed=1)
    worse = reported(tmp_path / "worse", high_tta_s=0.6, seed=3)
    slo = tmp_path / "slo.toml"
    slo.write_text((base / "slo.toml").read_text() + "\n[compare.p50]\nmin_change = 5\n[compare.p95]\nmin_change = 5\n"
                   "[compare.p99]\nmin_change = 5\n")
    assert main(["compare", str(base), str(worse), "--slo", str(slo)]) == 0  # +200 % is below 500 %
    capsys.readouterr()
    assert main(["compare", str(base), str(worse), "--max-regression", "5"]) == 0
    assert "deprecated" in capsys.readouterr().err
    assert main(["compare", str(base), str(worse), "--confidence", "1.5"]) == 2


def test_the_targets_cpu_counts_from_a_quarter_unless_the_slo_file_says_otherwise() -> None:
    from ingestbench.records.compare_rules import CompareRules, parse_compare
    assert CompareRules().rule("cpu").min_change == 0.25  # 10 ms ticks, and a shared machine's neighbours
    assert CompareRules().rule("rss").min_change == 0.05 and CompareRules().rule("p95").min_change == 0.05
    assert parse_compare({"min_change": 0.4}, "slo").rule("cpu").min_change == 0.4
    assert parse_compare({"cpu": {"min_change": 0.1}}, "slo").rule("cpu").min_change == 0.1
