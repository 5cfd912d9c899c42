"""The one judge, table-driven: placement on a rate timeline, budgets, quantiles, wording, exit codes."""

from __future__ import annotations

import math

import pytest

from ingestbench.checks.judge import FAIL, INSUFFICIENT, INVALID, PASS, RateSource, collapse, judge_run
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.observation import Observation
from ingestbench.records.samples import OUTCOME_CODE, SampleColumns
from ingestbench.records.slo_file import load_slo, parse_slo
from ingestbench.records.timeline import RatePoint, StepRow
from ingestbench.records.verdicts import TierVerdict

S = 1_000_000_000
T0 = 1_800_000_000.0
SLO = load_slo(time_scale=0.1)  # low: target 3 s, warm-up 3 s, horizon 30 s; high: 0.3 s, 1 s, 3 s


def timeline(*steps: tuple[float, int]) -> RateSource:
    """One point per second from T0 on; ``steps`` are (events/s, seconds)."""
    points, t = [], T0
    for rate, seconds in steps:
        for _ in range(seconds):
            t += 1.0
            points.append(RatePoint(t, rate, rate))
    return RateSource(points=tuple(points), window_s=0.5)


HIGH_ONLY = timeline((2000.0, 100))  # high from T0 to T0+100: warm-up until T0+1, transition from T0+99.7


def canary(i: int, at_s: float, tta_s: float | None = 0.1, outcome: str = "available", *,
           path: str = "analytical", duplicates: int = 0) -> Observation:
    """A canary sent ``at_s`` after T0; its bounds collapse on ``tta_s`` so the judged TTA is exactly that."""
    sent_ns = int(at_s * S)
    seen = None if tta_s is None or outcome in ("lost", "errored", "undecided") else sent_ns + int(tta_s * S)
    return Observation(f"c{i}", path, outcome, sent_ns=sent_ns, sent_unix_ms=round((T0 + at_s) * 1000),
                       seen_ns=seen, last_miss_ns=seen, duplicates=duplicates,
                       error="rejected: HTTP 503" if outcome == "errored" else None)


def steady(n: int, tta_s: float = 0.1, start: int = 0) -> list[Observation]:
    """``n`` steady high-tier canaries 0.5 s apart from T0+10 s."""
    return [canary(start + i, 10.0 + 0.5 * i, tta_s) for i in range(n)]


def only(result, tier: str = "high"):  # type: ignore[no-untyped-def]
    return next(v for v in result.tiers if v.tier == tier)


LENIENT = parse_slo({"max_lost": 1000, "max_errored": 1000,
                     "tier": [{"name": "high", "path": "analytical", "at_least_eps": 1000, "target_s": 3},
                              {"name": "low", "path": "analytical", "below_eps": 1000, "target_s": 30}]}).scaled(0.1)


@pytest.mark.parametrize(("good", "lost", "pct", "finite"), [
    (20, 1, 95, True),    # 21 samples, 1 lost: rank 20 of 21 is a real TTA
    (21, 1, 95, True),    # 22 samples, 1 lost: rank 21 of 22
    (100, 1, 99, True),   # 101 samples, 1 lost: p99 is rank 100, reported, not null
    (18, 2, 95, False),   # 20 samples, 2 lost (10 %): beyond the loss horizon
    (95, 5, 95, True),    # exactly 5 % lost: rank 95 of 100 is still a TTA
    (94, 6, 95, False),
])
def test_order_statistic_percentiles_with_losses(good: int, lost: int, pct: int, finite: bool) -> None:
    obs = steady(good) + [canary(1000 + i, 60.0 + i * 0.5, None, "lost") for i in range(lost)]
    v = only(judge_run(obs, slo=LENIENT, rates=HIGH_ONLY))
    value = {95: v.p95_s, 99: v.p99_s}[pct]
    assert value is not None
    assert math.isfinite(value) == finite
    assert v.n == good + lost
    record = v.to_dict()[f"p{pct}_s"]
    assert (record is None) == (not finite)  # JSON has no infinity: null, and read back as infinite
    assert TierVerdict.from_dict(v.to_dict()) == v


def test_nearest_rank_values() -> None:
    values = [0.01 * (i + 1) for i in range(100)]  # 0.01 .. 1.00
    v = only(judge_run([canary(i, 10.0 + 0.5 * i, x) for i, x in enumerate(values)], slo=SLO, rates=HIGH_ONLY))
    assert (v.p50_s, v.p90_s, v.p95_s, v.p99_s, v.max_s) == pytest.approx((0.5, 0.9, 0.95, 0.99, 1.0))
    assert (v.ci_low_s, v.ci_high_s) == pytest.approx((0.90, 1.00))  # ranks (90, 100)


def test_losses_in_warmup_and_transition_fail_the_tier() -> None:
    """20 good steady canaries and 15 lost in the warm-up: a fail naming the counts, never a pass."""
    warm = [canary(100 + i, 0.05 + 0.05 * i, None, "lost") for i in range(15)]  # within the 1 s warm-up
    result = judge_run(steady(20) + warm, slo=SLO, rates=HIGH_ONLY)
    v = only(result)
    assert (v.status, v.lost, v.n, v.excluded) == (FAIL, 15, 20, 15)
    assert v.windows["warmup"] == {"lost": 15}
    assert "15 of 35 canaries lost (15 in warm-up)" in v.reason and "loss budget of 0" in v.reason
    assert result.exit_code == ExitCode.SLO_FAILED
    trans = [canary(200 + i, 99.75 + 0.05 * i, None, "lost") for i in range(3)]  # the last 0.3 s of the load
    v = only(judge_run(steady(20) + trans, slo=SLO, rates=HIGH_ONLY))
    assert v.status == FAIL and v.windows["transition"] == {"lost": 3} and "3 in transition" in v.reason


def test_errors_count_against_the_error_budget() -> None:
    errored = [canary(100 + i, 20.0 + 0.1 * i, None, "errored") for i in range(200)]
    v = only(judge_run(steady(20) + errored, slo=SLO, rates=HIGH_ONLY))
    assert (v.status, v.errored, v.allowed_errored) == (FAIL, 200, 2)  # 1 % of 220
    assert "200 of 220 canaries errored" in v.reason and "error budget of 1% of the canaries" in v.reason
    few = [canary(1000, 20.0, None, "errored")]
    v = only(judge_run(steady(150) + few, slo=SLO, rates=HIGH_ONLY))
    assert (v.status, v.errored, v.allowed_errored) == (PASS, 1, 1) and "1 errored" in v.reason


def test_budgets_from_the_slo_file() -> None:
    slo = parse_slo({"max_lost": "10%", "tier": [{"name": "high", "path": "analytical", "at_least_eps": 1000,
                                                 "target_s": 3, "max_errored": 0}]}).scaled(0.1)
    lost = [canary(100 + i, 60.0 + i, None, "lost") for i in range(2)]
    v = only(judge_run(steady(58) + lost, slo=slo, rates=HIGH_ONLY))
    assert (v.allowed_lost, v.lost, v.status) == (6, 2, PASS)
    v = only(judge_run([*steady(28), canary(100, 60.0, None, "errored")], slo=slo, rates=HIGH_ONLY))
    assert v.status == FAIL and "error budget of 0" in v.reason


def test_loss_horizon_per_tier_and_window() -> None:
    """A steady high canary seen after its tier's 3 s horizon was lost; one in transition is judged against
    the longest horizon of its path (30 s), since the traffic after it was not the high tier's."""
    slow_steady = canary(100, 50.0, 3.5)
    slow_transition = canary(101, 99.8, 3.5)
    result = judge_run([*steady(30), slow_steady, slow_transition], slo=SLO, rates=HIGH_ONLY)
    v = only(result)
    assert result.judged is not None
    outcome = {r.canary_id: (r.window, r.outcome) for r in result.judged.rows()}
    assert outcome["c100"] == ("steady", "late") and outcome["c101"] == ("transition", "available")
    assert (v.lost, v.late, v.status) == (1, 1, FAIL)


def test_canaries_outside_the_load_count_at_rate_zero() -> None:
    """Sent after the load ended: the load was not running, so rate 0 (the low tier), outside window."""
    after = [canary(100 + i, 101.0 + i, None, "lost") for i in range(2)] + [canary(102, 103.0, 2.0)]
    result = judge_run(steady(30) + after, slo=SLO, rates=HIGH_ONLY)
    low = only(result, "low")
    assert (low.canaries, low.lost, low.n, low.status) == (3, 2, 0, FAIL)
    assert low.windows["outside"] == {"lost": 2, "available": 1}
    assert "outside the load" in low.reason
    assert result.judged is not None
    assert [r.rate_eps for r in result.judged.rows() if r.tier == "low"] == [0.0, 0.0, 0.0]


def test_late_supersedes_lost_and_counts_as_lost() -> None:
    lost = canary(1, 20.0, None, "lost")
    late = Observation("c1", "analytical", "late", sent_ns=20 * S, sent_unix_ms=round((T0 + 20) * 1000),
                       seen_ns=400 * S)
    for order in ([lost, late], [late, lost]):
        kept = collapse(SampleColumns.from_observations(order))
        assert len(kept) == 1 and int(kept.outcome[0]) == OUTCOME_CODE["late"]
    v = only(judge_run([lost, late, *steady(30, start=10)], slo=LENIENT, rates=HIGH_ONLY))
    assert (v.n, v.lost, v.late) == (31, 1, 1) and "1 lost (1 seen late)" in v.reason


@pytest.mark.parametrize(("case", "code", "status"), [
    ("pass", ExitCode.OK, PASS),
    ("fail", ExitCode.SLO_FAILED, FAIL),
    ("insufficient", ExitCode.INVALID, INVALID),
    ("fail+insufficient", ExitCode.INVALID, INVALID),  # an invalid run is no verdict on the target
    ("fail+problem", ExitCode.INVALID, INVALID),
    ("fail+invalid step", ExitCode.INVALID, INVALID),
    ("undecided", ExitCode.INVALID, INVALID),
    ("expected tier missing", ExitCode.INVALID, INVALID),
    ("nothing", ExitCode.INVALID, INVALID),
    ("pass+unjudged", ExitCode.OK, PASS),  # a tier the run did not set out to test, without a steady canary
    ("unjudged only", ExitCode.INVALID, INVALID),
])
def test_exit_code_precedence(case: str, code: ExitCode, status: str) -> None:
    two = timeline((2000.0, 100), (500.0, 100))  # high, then low from T0+100
    high_ok, high_bad = steady(30), steady(30, tta_s=9.0)
    low_short = [canary(500 + i, 150.0 + i, 1.0) for i in range(3)]
    after_the_load = [canary(600 + i, 205.0 + i, 1.0) for i in range(2)]  # low tier, outside window
    kwargs: dict = {"slo": SLO, "rates": two}
    obs = {"pass": high_ok, "fail": high_bad, "insufficient": high_ok + low_short,
           "fail+insufficient": high_bad + low_short, "fail+problem": high_bad, "fail+invalid step": high_bad,
           "undecided": [*high_ok, canary(900, 40.0, None, "undecided")], "expected tier missing": high_ok,
           "nothing": [], "pass+unjudged": high_ok + after_the_load, "unjudged only": after_the_load}[case]
    if case == "fail+problem":
        kwargs["problems"] = ["the probe exited with -9 during the run"]
    if case == "fail+invalid step":
        kwargs["steps"] = [StepRow(step=0, target_eps=2000, achieved_eps=1500, valid=False, reason="short")]
    if case == "expected tier missing":
        kwargs["expected"] = ["high", "low"]
    result = judge_run(obs, **kwargs)
    assert (result.exit_code, result.status) == (code, status), result.reason
    if case == "fail+insufficient":
        assert "SLO failed for tier high too" in result.reason
        assert only(result, "low").status == INSUFFICIENT
    if case == "undecided":
        assert "1 canaries were never decided" in result.invalid_reasons[0]
    if case == "expected tier missing":
        assert only(result, "low").reason == "no canary was judged in this tier."
    if case in ("pass+unjudged", "unjudged only"):
        assert only(result, "low").status == "unjudged"


def test_not_conclusive_wording() -> None:
    few = only(judge_run(steady(30), slo=SLO, rates=HIGH_ONLY))  # p95 upper bound needs 72 samples
    assert few.status == PASS and not few.conclusive and few.ci_high_s is None
    assert "not conclusive at 95% confidence (an upper bound needs 72 steady samples)" in few.reason
    values = [0.00325 * i for i in range(1, 101)]  # x(90) = 0.2925 <= 0.3 s < x(100) = 0.325
    straddle = only(judge_run([canary(i, 10.0 + 0.5 * i, x) for i, x in enumerate(values)], slo=SLO,
                              rates=HIGH_ONLY))
    assert straddle.status == FAIL and not straddle.conclusive
    assert straddle.reason.endswith("not conclusive at 95% confidence.")
    clear = only(judge_run([canary(i, 10.0 + 0.5 * i, x / 2) for i, x in enumerate(values)], slo=SLO,
                           rates=HIGH_ONLY))
    assert clear.status == PASS and clear.conclusive and "not conclusive" not in clear.reason
    summary = judge_run(steady(30), slo=SLO, rates=HIGH_ONLY).reason
    assert "not conclusive at 95% confidence for tier high" in summary


def test_declared_rate_and_transactional_any_rate() -> None:
    tx = [canary(i, 5.0 + i, 0.002, path="transactional") for i in range(25)]
    result = judge_run(tx + steady(25), slo=SLO, rates=RateSource(declared_rate_eps=10.0))
    assert {v.tier: v.status for v in result.tiers} == {"low": PASS, "transactional": PASS}
    assert only(result, "low").n == 25 and only(result, "low").excluded == 0  # a declared rate has no windows
    assert result.judged is not None and {r.window for r in result.judged.rows()} == {"steady"}


def test_duplicates_are_summed() -> None:
    v = only(judge_run([canary(i, 10.0 + i, 0.1, duplicates=1 if i < 3 else 0) for i in range(25)], slo=SLO,
                       rates=HIGH_ONLY))
    assert v.duplicates == 3


def test_a_percentile_at_its_target_passes_and_a_lower_bound_at_it_proves_nothing() -> None:
    """Edges, with durations that are exact in binary (time scale 1, target 3 s): a p95 of exactly 3 s is
    within the target; a fail whose interval's lower end is exactly 3 s is not conclusive."""
    slo = load_slo()
    at_target = [canary(i, 20.0 + 0.5 * i, 3.0) for i in range(100)]
    v = only(judge_run(at_target, slo=slo, rates=HIGH_ONLY))
    assert (v.judged_s, v.target_s, v.status, v.conclusive) == (3.0, 3.0, PASS, True)
    # ranks (90, 100): x(90..94) = 3 s, x(95..100) = 4 s; the p95 (x(95)) exceeds the target
    ttas = [1.0] * 89 + [3.0] * 5 + [4.0] * 6
    over = only(judge_run([canary(i, 20.0 + 0.5 * i, x) for i, x in enumerate(ttas)], slo=slo, rates=HIGH_ONLY))
    assert (over.judged_s, over.ci_low_s, over.status, over.conclusive) == (4.0, 3.0, FAIL, False)
    assert over.reason.endswith("not conclusive at 95% confidence.")
    ttas = [1.0] * 89 + [3.5] * 5 + [4.0] * 6  # x(90) = 3.5 s: the whole interval is over the target
    clear = only(judge_run([canary(i, 20.0 + 0.5 * i, x) for i, x in enumerate(ttas)], slo=slo, rates=HIGH_ONLY))
    assert (clear.ci_low_s, clear.status, clear.conclusive) == (3.5, FAIL, True)
