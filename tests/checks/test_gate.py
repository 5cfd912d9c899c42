"""Gate verdicts from synthetic observations: quantiles, CI, lost/late/errored/warm-up/insufficient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from checks.gate import FAIL, INSUFFICIENT, INVALID, PASS, collapse, judge, quantile_ci_ranks
from checks.observation import Observation
from checks.slo import load_slo

S = 1_000_000_000
SLO = load_slo()


def obs(i: int, tta_s: float | None, *, tier: str = "high", outcome: str = "available",
        warmup: bool = False, duplicates: int = 0, path: str = "analytical") -> Observation:
    seen = None if tta_s is None else int(tta_s * S)
    # bounds collapsed onto the value: tta_s == tta_s given
    return Observation(f"c{i}", path, outcome, sent_ns=0, sent_unix_ms=i, seen_ns=seen, last_miss_ns=seen,
                       tier=tier, warmup=warmup, duplicates=duplicates)


def test_ci_ranks_match_known_values() -> None:
    # equal-tailed: P(K < l) <= 2.5 % and P(K >= u) <= 2.5 %, K ~ Binomial(n, q)
    assert quantile_ci_ranks(100, 0.95) == (90, 100)
    assert quantile_ci_ranks(100, 0.5) == (40, 61)
    assert quantile_ci_ranks(20, 0.95) == (17, None)  # too few samples for an upper bound
    assert quantile_ci_ranks(0, 0.95) == (None, None)


def test_ci_coverage_is_at_least_nominal() -> None:
    rng = np.random.default_rng(7)
    n, q, hits, trials = 60, 0.9, 0, 2000
    lo, hi = quantile_ci_ranks(n, q)
    assert lo is not None and hi is not None
    true_q = -math.log(1 - q)  # exponential(1)
    for _ in range(trials):
        x = np.sort(rng.exponential(1.0, n))
        hits += x[lo - 1] <= true_q <= x[hi - 1]
    assert hits / trials >= 0.94


def test_pass_with_quantiles() -> None:
    values = [0.01 * (i + 1) for i in range(100)]  # 0.01 .. 1.00
    result = judge([obs(i, v) for i, v in enumerate(values)], SLO)
    [v] = result.verdicts
    assert (v.tier, v.status, v.passed, v.n) == ("high", PASS, True, 100)
    assert v.p50_s == pytest.approx(np.quantile(values, 0.5))
    assert v.p95_s == pytest.approx(np.quantile(values, 0.95))
    assert v.p99_s == pytest.approx(np.quantile(values, 0.99))
    assert v.max_s == pytest.approx(1.0)
    assert v.ci_low_s == pytest.approx(0.90) and v.ci_high_s == pytest.approx(1.00)
    assert "p95 TTA 0.95" in v.reason and "within the 3 s target" in v.reason
    assert result.status == PASS
    assert result.unobserved == ("low", "transactional")


def test_fail_names_observed_percentile_and_target() -> None:
    result = judge([obs(i, 2.0 + 0.05 * i) for i in range(40)], SLO)
    [v] = result.verdicts
    assert v.status == FAIL and not v.passed
    assert f"p95 TTA {v.judged_s:.3g} s" in v.reason and "exceeds the 3 s target" in v.reason
    assert result.status == FAIL


def test_lost_count_as_infinite_and_can_fail_a_tier() -> None:
    fast = [obs(i, 0.1) for i in range(18)]
    lost = [obs(100 + i, None, outcome="lost") for i in range(2)]
    v = judge(fast + lost, SLO).verdicts[0]
    assert v.n == 20 and v.lost == 2
    assert v.status == FAIL and math.isinf(v.judged_s or 0)
    assert "loss limit" in v.reason and "2 lost" in v.reason
    assert v.to_record()["p99_s"] is None


def test_late_supersedes_lost_for_same_canary() -> None:
    lost = obs(1, None, outcome="lost")
    late = Observation("c1", "analytical", "late", sent_ns=0, sent_unix_ms=1, seen_ns=400 * S, tier="high")
    assert collapse([lost, late]) == [late]
    assert collapse([late, lost]) == [late]
    v = judge([lost, late] + [obs(i + 10, 0.1) for i in range(30)], SLO).verdicts[0]
    assert (v.n, v.lost, v.late) == (31, 0, 1)


def test_errored_and_warmup_are_counted_apart() -> None:
    good = [obs(i, 0.2) for i in range(20)]
    errored = [obs(100 + i, None, outcome="errored") for i in range(5)]
    warm = [obs(200 + i, 50.0, warmup=True) for i in range(7)]
    v = judge(good + errored + warm, SLO).verdicts[0]
    assert (v.n, v.errored, v.warmup, v.status) == (20, 5, 7, PASS)
    assert v.max_s == pytest.approx(0.2)


def test_insufficient_makes_the_run_invalid() -> None:
    result = judge([obs(i, 0.2) for i in range(19)], SLO)
    v = result.verdicts[0]
    assert v.status == INSUFFICIENT and not v.passed
    assert "only 19 of the 20" in v.reason
    assert result.status == INVALID


def test_all_errored_is_invalid_and_fail_dominates_invalid() -> None:
    result = judge([obs(i, None, outcome="errored") for i in range(30)], SLO)
    assert result.status == INVALID and result.verdicts[0].n == 0
    bad_high = [obs(i, 9.0) for i in range(20)]
    short_low = [obs(100 + i, 1.0, tier="low") for i in range(3)]
    assert judge(bad_high + short_low, SLO).status == FAIL


def test_require_all_and_untiered() -> None:
    result = judge([obs(1, 0.1, tier="nope")], SLO, require_all=True)
    assert result.untiered == 1
    assert [v.status for v in result.verdicts] == [INSUFFICIENT] * 3
    assert judge([], SLO).status == INVALID


def test_duplicates_summed_and_time_scale_applies() -> None:
    slo = load_slo(time_scale=0.1)
    v = judge([obs(i, 0.25, duplicates=1 if i < 3 else 0) for i in range(25)], slo).verdicts[0]
    assert v.target_s == pytest.approx(0.3) and v.status == PASS and v.duplicates == 3
    v2 = judge([obs(i, 0.35) for i in range(25)], slo).verdicts[0]
    assert v2.status == FAIL


def test_not_conclusive_note_when_ci_straddles_target() -> None:
    values = [0.0325 * i for i in range(1, 101)]  # x(90) = 2.925 <= 3 s < x(100) = 3.25, p95 = 3.09
    v = judge([obs(i, x) for i, x in enumerate(values)], SLO).verdicts[0]
    assert v.status == FAIL
    assert v.ci_low_s == pytest.approx(2.925) and v.ci_high_s == pytest.approx(3.25)
    assert v.reason.endswith("not conclusive at 95% confidence.")
    clear = judge([obs(i, x / 2) for i, x in enumerate(values)], SLO).verdicts[0]
    assert clear.status == PASS and "not conclusive" not in clear.reason
