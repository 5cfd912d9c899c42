"""Exponential ramps: the closed forms of the rate's integral and its inverse, checked against each other, against
a numeric integral of the rate, and near a factor of 1 where the closed forms divide by ln k."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestbench.loadgen.schedule import EXPONENTIAL, RateSchedule, Segment
from ingestbench.loadgen.worker import schedule_for
from ingestbench.records.config import ConfigError
from ingestbench.records.load import LoadConfig, LoadStep, parse_load

rates = st.floats(0.5, 50_000)
durations = st.floats(0.05, 3_600)


def simpson(f, a: float, b: float, n: int = 2000) -> float:
    h = (b - a) / n
    return h / 3 * (f(a) + f(b) + sum((4 if i % 2 else 2) * f(a + i * h) for i in range(1, n)))


def test_doubling_every_second():
    seg = Segment(100, 1600, 4, EXPONENTIAL)
    assert [round(seg.rate_at(u), 6) for u in range(5)] == [100, 200, 400, 800, 1600]
    assert seg.events == pytest.approx(1500 / math.log(2))  # r0 d (k - 1) / ln k
    assert seg.events_until(1) == pytest.approx(100 / math.log(2))
    assert seg.time_of_event(seg.events_until(2.5)) == pytest.approx(2.5)


def test_a_ramp_down_is_the_mirror_of_a_ramp_up():
    up, down = Segment(100, 1000, 10, EXPONENTIAL), Segment(1000, 100, 10, EXPONENTIAL)
    assert up.events == pytest.approx(down.events)
    for u in (0.5, 3, 7.7):
        assert down.rate_at(u) == pytest.approx(up.rate_at(10 - u))
        assert down.events_until(u) == pytest.approx(up.events - up.events_until(10 - u))


def test_more_events_early_than_a_linear_ramp_down_and_fewer_up():
    lin_up, exp_up = Segment(100, 3000, 10), Segment(100, 3000, 10, EXPONENTIAL)
    assert exp_up.events < lin_up.events and exp_up.events_until(5) < lin_up.events_until(5)
    assert exp_up.rate_at(5) == pytest.approx(math.sqrt(100 * 3000))  # the geometric, not arithmetic, mean


@pytest.mark.parametrize("k", [1.0, 1 + 1e-15, 1 + 1e-12, 1 - 1e-12, 1 + 1e-8, 1 + 1e-4])
def test_a_factor_near_one_is_a_flat_step(k):
    seg = Segment(1000, 1000 * k, 10, EXPONENTIAL)
    assert seg.events == pytest.approx(10_000 * (1 + (k - 1) / 2), rel=1e-9)
    assert seg.events_until(4) == pytest.approx(4000, rel=1e-4)
    assert seg.time_of_event(4000) == pytest.approx(4.0, rel=1e-4)
    assert all(math.isfinite(v) for v in (seg.events, seg.events_until(4), seg.time_of_event(4000)))


@pytest.mark.parametrize("bad", [(0, 100), (100, 0)])
def test_an_exponential_segment_needs_both_rates_above_zero(bad):
    with pytest.raises(ValueError, match="both rates > 0"):
        Segment(*bad, 10, EXPONENTIAL)


@given(rates, rates, durations, st.floats(0, 1))
def test_events_until_and_time_of_event_are_inverse(r0, r1, d, frac):
    seg = Segment(r0, r1, d, EXPONENTIAL)
    u = frac * d
    assert seg.time_of_event(seg.events_until(u)) == pytest.approx(u, rel=1e-7, abs=1e-7 * d)
    n = frac * seg.events
    assert seg.events_until(seg.time_of_event(n)) == pytest.approx(n, rel=1e-7, abs=1e-6)


@given(rates, rates, durations, st.lists(st.floats(0, 1), min_size=2, max_size=8))
def test_both_are_monotone(r0, r1, d, fracs):
    seg = Segment(r0, r1, d, EXPONENTIAL)
    fracs = sorted(fracs)
    counts = [seg.events_until(f * d) for f in fracs]
    assert counts == sorted(counts)
    times = [seg.time_of_event(f * seg.events) for f in fracs]
    assert all(b >= a - 1e-9 * d for a, b in itertools.pairwise(times))


@given(rates, rates, st.floats(0.5, 600), st.floats(0.05, 1))
def test_the_integral_matches_a_numeric_integral_of_the_rate(r0, r1, d, frac):
    seg = Segment(r0, r1, d, EXPONENTIAL)
    u = frac * d
    assert seg.events_until(u) == pytest.approx(simpson(seg.rate_at, 0, u), rel=1e-6)


@given(st.lists(st.tuples(rates, rates, st.floats(0.1, 100), st.booleans()), min_size=1, max_size=5),
       st.floats(0, 0.999))
def test_a_schedule_of_mixed_ramps_inverts(segments, frac):
    s = RateSchedule(tuple(Segment(a, b, d, EXPONENTIAL if e else "linear") for a, b, d, e in segments))
    n = frac * s.total_events
    t = s.time_of_event(n)
    assert t is not None
    assert s.events_until(t) == pytest.approx(n, rel=1e-6, abs=1e-6)


def test_the_load_table_makes_an_exponential_schedule_and_round_trips():
    load = parse_load({"steps": [{"rate_eps": 100, "end_rate_eps": 1600, "ramp": "exponential", "duration_s": 40},
                                 {"rate_eps": 50, "end_rate_eps": 60, "duration_s": 10}]})
    assert load.steps[0] == LoadStep(100, 40, 1600, "exponential") and load.steps[1].ramp == "linear"
    assert LoadConfig.from_dict(load.to_dict()) == load  # the plan a worker gets
    s = schedule_for(load, 0.1)  # durations scaled, the curve kept
    assert s.segments[0].curve == EXPONENTIAL and s.duration_s == pytest.approx(5.0)
    assert s.rate_at(1.0) == pytest.approx(200) and s.rate_at(3.0) == pytest.approx(800)


@pytest.mark.parametrize("step,message", [
    ({"rate_eps": 10, "duration_s": 1, "ramp": "exponential"}, "load.steps[0].ramp needs end_rate_eps"),
    ({"rate_eps": 10, "duration_s": 1, "end_rate_eps": 5, "ramp": "cubic"}, "load.steps[0].ramp must be one of"),
    ({"rate_eps": 0, "duration_s": 1, "end_rate_eps": 5, "ramp": "exponential"}, "load.steps[0].rate_eps must be > 0"),
    ({"rate_eps": 5, "duration_s": 1, "end_rate_eps": 0, "ramp": "exponential"},
     "load.steps[0].end_rate_eps must be > 0"),
])
def test_bad_ramps_are_refused_naming_the_key(step, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_load({"steps": [step]})
