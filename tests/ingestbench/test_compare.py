import math

from ingestbench.checks.quantiles import quantile_ci_ranks
from ingestbench.records.verdicts import TierVerdict
from ingestbench.results.compare import compare_runs


def tier(name, p95, lo, hi, n=100):
    """A tier as run.json keeps it (a loss is null), with the ranks its n gives."""
    low_rank, high_rank = quantile_ci_ranks(n, 0.95)
    return {"tier": name, "percentile": 95, "judged_s": p95, "p95_s": p95, "ci_low_s": lo, "ci_high_s": hi, "n": n,
            "ci_low_rank": low_rank, "ci_high_rank": high_rank}


def run(*tiers):
    return [TierVerdict.from_dict(t) for t in tiers]


def test_regression_beyond_noise_is_flagged():
    base = run(tier("high", 1.0, 0.9, 1.1))
    cand = run(tier("high", 2.0, 1.8, 2.3))
    (row,) = compare_runs(base, cand, max_regression=0.10)
    assert row.regressed and row.change == 1.0
    assert "regressed" in row.note


def test_growth_within_overlapping_intervals_is_noise():
    base = run(tier("high", 1.0, 0.8, 1.4))
    cand = run(tier("high", 1.2, 1.0, 1.5))
    (row,) = compare_runs(base, cand, max_regression=0.10)
    assert not row.regressed and "noise" in row.note


def test_small_growth_is_allowed_even_if_separated():
    base = run(tier("high", 1.0, 0.99, 1.01))
    cand = run(tier("high", 1.05, 1.04, 1.06))
    (row,) = compare_runs(base, cand, max_regression=0.10)
    assert not row.regressed


def test_improvement_and_missing_tiers():
    base = run(tier("low", 10.0, 9, 11), tier("gone", 1.0, 0.9, 1.1))
    cand = run(tier("low", 5.0, 4, 6), tier("new", 1.0, 0.9, 1.1))
    rows = {r.tier: r for r in compare_runs(base, cand)}
    assert not rows["low"].regressed and rows["low"].change == -0.5
    assert rows["new"].note == "not in the baseline" and not rows["new"].regressed
    assert rows["gone"].regressed and rows["gone"].note.startswith("missing from the candidate")


def test_percentile_beyond_loss_limit_is_infinite_and_regresses():
    base = run(tier("high", 1.0, 0.9, 1.1))
    cand = run(tier("high", None, None, None, n=40))  # a lower rank exists for n=40: null there was a loss
    (row,) = compare_runs(base, cand)
    assert math.isinf(row.candidate_s) and row.regressed


def test_losses_beyond_the_budget_regress():
    base = run({**tier("high", 1.0, 0.9, 1.1), "lost": 0})
    (row,) = compare_runs(base, run({**tier("high", 1.0, 0.9, 1.1), "lost": 2, "allowed_lost": 0}))
    assert row.regressed and row.note == "lost canaries grew from 0 to 2"
    (row,) = compare_runs(base, run({**tier("high", 1.0, 0.9, 1.1), "lost": 2, "allowed_lost": 5}))
    assert not row.regressed


def test_bounds_are_never_invented():
    """n=50 has no 95 % upper bound for the p95: a large growth against it is not conclusive, not a regression
    and not a pass of the noise test by a stand-in such as the maximum."""
    base = run({**tier("high", 1.0, 0.9, None, n=50), "max_s": 1.2})
    (row,) = compare_runs(base, run(tier("high", 2.0, 1.8, 2.3)))
    assert not row.regressed and "not conclusive" in row.note and "baseline's upper bound" in row.note
    (row,) = compare_runs(run(tier("high", 1.0, 0.9, 1.1)), run(tier("high", 2.0, None, None, n=1)))
    assert not row.regressed and "candidate's lower bound" in row.note


def test_growth_that_is_tiny_against_the_target_is_not_a_regression():
    base = run({**tier("transactional", 0.002, 0.0019, 0.0021), "target_s": 1.0})
    cand = run({**tier("transactional", 0.004, 0.0038, 0.0042), "target_s": 1.0})
    (row,) = compare_runs(base, cand)
    assert not row.regressed
    (row,) = compare_runs(base, cand, min_change=0.0)
    assert row.regressed
