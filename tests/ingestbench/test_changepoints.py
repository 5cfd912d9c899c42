"""Change points on synthetic series: a shift is found where it starts, a flat or noisy series and a single spike
are not changes, and the t-test's p-values are those of the textbook formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ingestbench.results.changepoints import betainc, change_points, t_test


def _noisy(rng: np.random.Generator, n: int, mean: float, sd: float) -> list[float]:
    return [float(x) for x in rng.normal(mean, sd, n)]


@pytest.mark.parametrize("at", [3, 7, 12, 20])
def test_a_shift_is_found_at_the_first_point_after_it(at: int) -> None:
    rng = np.random.default_rng(at)
    series = _noisy(rng, at, 0.15, 0.01) + _noisy(rng, 24 - at, 0.40, 0.01)
    found = change_points(series, max_pvalue=0.001, min_segment=3)
    assert [c.index for c in found] == [at]
    (c,) = found
    assert c.mean_before == pytest.approx(np.mean(series[:at])) and c.mean_after == pytest.approx(np.mean(series[at:]))
    assert c.change == pytest.approx(c.mean_after / c.mean_before - 1) and c.change > 1.0 and c.pvalue < 1e-6


def test_two_shifts_are_two_change_points() -> None:
    rng = np.random.default_rng(1)
    series = _noisy(rng, 10, 1.0, 0.05) + _noisy(rng, 10, 2.0, 0.05) + _noisy(rng, 10, 1.5, 0.05)
    assert [c.index for c in change_points(series, min_segment=3)] == [10, 20]


def test_flat_noisy_series_have_no_change_at_the_chosen_significance() -> None:
    """Noise with a 20 % standard deviation, 16 points: E-divisive tests its best split, the most extreme of
    many, so a flat series shows a change somewhat more often than the p-value alone says (1.4 % at p <= 0.001
    here), and never one that is not significant."""
    found = 0
    for seed in range(1000):
        series = _noisy(np.random.default_rng(seed), 16, 1.0, 0.2)
        points = change_points(series, max_pvalue=0.001, min_segment=3)
        assert all(c.pvalue < 0.001 for c in points)
        found += bool(points)
    assert found <= 20, f"{found} of 1000 flat series had a change point at p <= 0.001"
    constant = [1.0] * 16
    assert change_points(constant) == []


def test_a_single_spike_is_not_a_change_with_segments_of_at_least_two() -> None:
    series = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 5.0, 1.0, 1.01, 0.99, 1.02, 0.98]
    assert change_points(series, min_segment=2) == []
    assert change_points(series, min_segment=3) == []
    spike_at_end = [*series[:6], 1.0, 0.99, 1.01, 1.0, 1.02, 5.0]
    assert change_points(spike_at_end, min_segment=2) == []


def test_a_segment_shorter_than_the_minimum_is_never_reported() -> None:
    series = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 3.0, 3.01]  # the shift has 2 points after it
    assert [c.index for c in change_points(series, min_segment=2)] == [8]
    assert change_points(series, min_segment=3) == []


def test_the_same_series_gives_the_same_answer() -> None:
    series = _noisy(np.random.default_rng(3), 40, 1.0, 0.3)
    series[25:] = [v + 0.5 for v in series[25:]]
    assert change_points(series) == change_points(list(series))


def test_student_t_p_values_match_the_formula() -> None:
    # t = -5.0 with 8 degrees of freedom: two-sided p = 0.00105 (a t table); df = 1 is the Cauchy distribution
    left, right = np.array([1.0, 2.0, 3.0, 2.0, 2.0]), np.array([4.0, 5.0, 6.0, 5.0, 5.0])
    p, m1, m2, _, _ = t_test(left, right)
    s1, s2 = float(np.std(left)), float(np.std(right))
    t = (m1 - m2) / math.sqrt((4 * s1 * s1 + 4 * s2 * s2) / 8 * (1 / 5 + 1 / 5))
    assert p == pytest.approx(betainc(4.0, 0.5, 8 / (8 + t * t)))
    assert betainc(0.5, 0.5, 1 / 2) == pytest.approx(0.5)  # t = 1, df = 1: P(|T| > 1) = 0.5
    assert betainc(1.0, 0.5, 2 / (2 + 4.302652729911275 ** 2)) == pytest.approx(0.05, rel=1e-9)  # t(0.975, 2)
    assert t_test(np.array([1.0, 1.0]), np.array([1.0, 1.0]))[0] == 1.0


def test_the_targets_resources_are_judged_against_their_own_minimum_change() -> None:
    from ingestbench.results.history_check import is_resource
    assert is_resource("pipeline.cpu_cores_mean") and is_resource("pid 12.rss_mib_max")
    assert not is_resource("tta_p95_s") and not is_resource("achieved_eps")
