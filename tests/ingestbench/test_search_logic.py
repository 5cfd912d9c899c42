"""The search's decisions against simulated targets whose true bounds are known: which rates it tries, the
brackets it ends with, what it names as the limit, and its exit code."""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestbench.records.run_record import RunRecord
from ingestbench.records.timeline import StepRow
from ingestbench.records.verdicts import TierVerdict
from ingestbench.results.search import (
    DELIVERED,
    GENERATOR,
    TARGET,
    TROUBLE,
    Search,
    SearchConfig,
    SearchStep,
    SearchTier,
    classify,
)
from ingestbench.results.search_result import summarize

HIGH = SearchTier("high", 95.0, 3.0, 1000.0, math.inf)
LOW = SearchTier("low", 95.0, 30.0, 0.0, 1000.0)
TRANSACTIONAL = SearchTier("transactional", 95.0, 1.0)

# rate -> (delivered, {tier: "pass" | "fail"})
Truth = Callable[[float], tuple[str, dict[str, str]]]


def simulate(config: SearchConfig, tiers: tuple[SearchTier, ...], truth: Truth, limit: int = 80) -> Search:
    search = Search(config, tiers)
    while (choice := search.next_rate()) is not None:
        rate, why = choice
        delivered, outcomes = truth(rate)
        outcomes = {k: v for k, v in outcomes.items() if any(t.name == k and t.holds(rate) for t in tiers)}
        judged = {t.name: t.target_s * (0.5 if outcomes[t.name] == "pass" else 2.0) for t in tiers
                  if t.name in outcomes}  # what a judged step would have measured, either side of the target
        search = search.with_step(SearchStep(len(search.steps) + 1, rate, f"s{len(search.steps) + 1}", why, 10.0,
                                             delivered, outcomes if delivered in (DELIVERED, TARGET) else {},
                                             judged, 0, ""))
        assert len(search.steps) <= limit, [s.rate_eps for s in search.steps]
    return search


def window(threshold: float, capacity: float, *, generator: float = math.inf) -> Truth:
    def truth(rate: float) -> tuple[str, dict[str, str]]:
        if rate >= generator:
            return GENERATOR, {}
        ok = "pass" if threshold <= rate <= capacity else "fail"
        return DELIVERED, {"high": ok, "low": "pass", "transactional": "pass"}
    return truth


def test_finds_the_threshold_and_the_capacity_within_the_precision() -> None:
    config = SearchConfig(1000, 100_000, precision=0.05)
    search = simulate(config, (HIGH,), window(2000, 40_000))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    high = result.tiers[0]
    assert result.exit_code == 0, result.reason
    assert high.lower.fails_at is not None and high.lower.fails_at < 2000 <= high.lower.passes_at == high.holds_from_eps
    assert high.holds_from_eps / high.lower.fails_at - 1 <= 0.05
    assert high.upper.passes_at == high.holds_up_to_eps and high.holds_up_to_eps <= 40_000 < high.upper.fails_at
    assert high.upper.fails_at / high.holds_up_to_eps - 1 <= 0.05
    assert high.upper.limit == "target" and "the target was the limit" in high.summary
    assert search.steps[0].rate_eps == 1020  # the band is entered just inside its edge
    assert len(search.steps) <= 20


def test_a_generator_that_cannot_send_is_the_limit_never_the_targets_capacity() -> None:
    search = simulate(SearchConfig(1000, 200_000), (HIGH,), window(1000, 90_000, generator=30_000))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    high = result.tiers[0]
    assert high.upper.limit == "generator"
    assert high.holds_up_to_eps is not None and high.holds_up_to_eps < 30_000 <= (high.upper.fails_at or 0)
    assert "the generator was the limit, not the target" in high.summary and "at least" in high.summary
    assert "the target was the limit" not in high.summary
    first = next(i for i, s in enumerate(search.steps) if s.delivered == GENERATOR)
    assert all(s.rate_eps < search.steps[first].rate_eps for s in search.steps[first + 1:])  # nothing above again
    assert result.exit_code == 0
    assert high.lower.limit == "band"


def test_a_tier_that_never_holds_exits_1() -> None:
    search = simulate(SearchConfig(1000, 16_000), (HIGH,), window(math.inf, math.inf))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    assert result.tiers[0].status == "never" and result.exit_code == 1
    assert [s.rate_eps for s in search.steps] == [1020, 2000, 4000, 8000, 16_000]


def test_bands_are_searched_each_in_its_own_rates() -> None:
    search = simulate(SearchConfig(100, 20_000), (LOW, HIGH, TRANSACTIONAL), window(3000, math.inf))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    low, high, tx = result.tiers
    assert (low.holds_from_eps, low.lower.limit) == (100, "search")
    assert low.upper.limit == "band" and low.holds_up_to_eps == 1000 / 1.02
    assert high.lower.fails_at is not None and high.lower.fails_at < 3000 <= (high.holds_from_eps or 0)
    assert (high.holds_up_to_eps, high.upper.limit) == (20_000, "search") and "at least 20,000" in high.summary
    assert (tx.holds_from_eps, tx.holds_up_to_eps) == (100, 20_000)
    assert result.exit_code == 0


def test_a_step_that_decides_nothing_is_retried_once_then_left_as_a_wider_bracket() -> None:
    base = window(2000, 40_000)
    tried: list[float] = []

    def truth(rate: float) -> tuple[str, dict[str, str]]:
        tried.append(rate)
        return (TROUBLE, {}) if 1500 < rate < 2000 else base(rate)

    search = simulate(SearchConfig(1000, 100_000), (HIGH,), truth)
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    assert sum(1 for r in tried if 1500 < r < 2000) == 2
    assert any("decided nothing" in n for n in result.notes)
    assert any("wider than --precision" in n for n in result.tiers[0].notes)


def test_a_failure_between_passing_rates_is_not_called_a_range() -> None:
    def truth(rate: float) -> tuple[str, dict[str, str]]:
        return DELIVERED, {"high": "fail" if 7000 < rate < 9000 else "pass"}

    search = Search(SearchConfig(1000, 16_000), (HIGH,))
    for rate in (1020, 4000, 8000, 16_000):
        delivered, outcomes = truth(rate)
        search = search.with_step(SearchStep(0, rate, "r", "climb", 1, delivered, outcomes, {}, 0, ""))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    assert result.tiers[0].status == "inconclusive" and result.exit_code == 3


def test_the_budget_leaves_an_open_side_inconclusive() -> None:
    search = simulate(SearchConfig(1000, 100_000), (HIGH,), window(1000, 40_000))
    cut = Search(search.config, search.tiers, search.steps[:2], stopped="budget")  # 1020 and 2000 passed
    result = summarize(cut, search_id="s", scenario="x", time_scale=1)
    assert result.tiers[0].upper.limit == "unknown" and result.exit_code == 3
    assert any("budget" in n for n in result.notes)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(threshold=st.floats(1100, 30_000), width=st.floats(1.0, 10), precision=st.sampled_from([0.02, 0.05, 0.1]),
       factor=st.sampled_from([1.5, 2.0, 4.0]))
def test_any_window_is_bracketed_within_the_precision(threshold: float, width: float, precision: float,
                                                      factor: float) -> None:
    capacity = threshold * factor * 1.01 * width  # a window narrower than a climb step can fall between two rates
    search = simulate(SearchConfig(1000, 1_000_000, precision=precision, factor=factor), (HIGH,),
                      window(threshold, capacity))
    high = summarize(search, search_id="s", scenario="x", time_scale=1).tiers[0]
    lower, upper = high.lower, high.upper
    assert lower.fails_at is not None and lower.passes_at is not None
    assert lower.fails_at < threshold <= lower.passes_at
    assert lower.passes_at / lower.fails_at - 1 <= precision + 1e-9
    assert upper.fails_at is not None and upper.passes_at is not None
    assert upper.passes_at <= capacity < upper.fails_at
    assert upper.fails_at / upper.passes_at - 1 <= precision + 1e-9


def _record(*, valid: bool = True, cpu: float = 0.3, failed: int = 0, status: str = "pass",
            problems: tuple[str, ...] = ()) -> RunRecord:
    step = StepRow(step=0, target_eps=4000, achieved_eps=4000 if valid else 3000, valid=valid,
                   failed_events=failed, generator_cpu_peak=cpu, host_cpu_peak=cpu)
    return RunRecord(run_id="r", status="finished", steps=(step,), run_problems=problems,
                     tiers=(TierVerdict(tier="high", judged_s=0.2, status=status),
                            TierVerdict(tier="low", judged_s=0.1, status="pass")))


def test_each_step_is_read_as_delivered_refused_by_the_target_or_not_sent_by_the_generator() -> None:
    tiers = (LOW, HIGH)
    assert classify(_record(), tiers, 4000)[:2] == (DELIVERED, {"high": "pass"})  # low's band is elsewhere
    assert classify(_record(status="fail"), tiers, 4000)[:2] == (DELIVERED, {"high": "fail"})
    assert classify(_record(status="insufficient"), tiers, 4000)[:2] == (DELIVERED, {})
    # short, and the target failed requests while the generator had room: the promise is not kept there
    assert classify(_record(valid=False, failed=40), tiers, 4000)[:2] == (TARGET, {"high": "fail"})
    # short with a CPU-bound generator (failures or not), or its users unable to keep up: not the target's doing
    assert classify(_record(valid=False, cpu=0.97, failed=40), tiers, 4000)[:2] == (GENERATOR, {})
    assert classify(_record(valid=False), tiers, 4000)[:2] == (GENERATOR, {})
    assert classify(_record(problems=("the probe died",)), tiers, 4000)[:2] == (TROUBLE, {})


def test_a_generator_that_cannot_send_the_first_rate_is_named_and_nothing_is_concluded() -> None:
    search = simulate(SearchConfig(50_000, 400_000), (HIGH,), window(1000, math.inf, generator=10_000))
    result = summarize(search, search_id="s", scenario="x", time_scale=1)
    assert [s.rate_eps for s in search.steps] == [50_000] and result.exit_code == 3
    assert "the generator could not send 50,000 events/s" in result.tiers[0].summary
