import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestbench.loadgen.schedule import RateSchedule, Segment


def test_constant():
    s = RateSchedule.constant(1000, 10)
    assert s.rate_at(0) == 1000 and s.rate_at(9.99) == 1000
    assert s.rate_at(10) == 0 and s.rate_at(-1) == 0
    assert s.total_events == 10_000
    assert s.time_of_event(0) == 0
    assert s.time_of_event(5000) == pytest.approx(5.0)
    assert s.time_of_event(10_000) is None


def test_steps_boundaries_and_step_index():
    s = RateSchedule.steps([(900, 10), (1100, 10)])
    assert s.duration_s == 20
    assert s.step_at(9.999) == 0 and s.step_at(10.0) == 1 and s.step_at(20.0) is None
    assert s.rate_at(12) == 1100
    assert s.events_until(10) == pytest.approx(9000)
    assert s.time_of_event(9000) == pytest.approx(10.0)
    assert s.time_of_event(9000 + 1100) == pytest.approx(11.0)
    assert s.step_bounds(1) == (10.0, 20.0)


def test_ramp_integral_and_inverse():
    s = RateSchedule.ramp(0, 1000, 10)
    assert s.rate_at(5) == pytest.approx(500)
    assert s.total_events == pytest.approx(5000)
    assert s.events_until(5) == pytest.approx(1250)
    assert s.time_of_event(1250) == pytest.approx(5.0)
    down = RateSchedule.ramp(1000, 100, 10)
    assert down.time_of_event(down.events_until(7.3)) == pytest.approx(7.3)


def test_spike_is_three_steps():
    s = RateSchedule.spike(300, 3000, before_s=60, spike_s=30, after_s=60)
    assert [seg.start_rate_eps for seg in s.segments] == [300, 3000, 300]
    assert s.rate_at(75) == 3000 and s.rate_at(95) == 300


def test_scaled_scales_durations_not_rates():
    s = RateSchedule.steps([(200, 5), (3000, 5)]).scaled(0.1)
    assert s.duration_s == pytest.approx(1.0)
    assert s.rate_at(0.7) == 3000


def test_max_rate_between_sees_upcoming_step():
    s = RateSchedule.steps([(200, 5), (3000, 5)])
    assert s.max_rate_between(0, 3) == 200
    assert s.max_rate_between(3, 6) == 3000
    assert s.max_rate_between(9, 20) == 3000


def test_zero_rate_step_holds_no_events():
    s = RateSchedule.steps([(100, 1), (0, 5), (100, 1)])
    assert s.time_of_event(100) == pytest.approx(6.0)


@pytest.mark.parametrize("bad", [lambda: Segment(-1, 1, 1), lambda: Segment(1, 1, 0), lambda: RateSchedule(())])
def test_rejects_bad_segments(bad):
    with pytest.raises(ValueError):
        bad()


@given(st.lists(st.tuples(st.floats(1, 20_000), st.floats(1, 20_000), st.floats(0.1, 100)), min_size=1,
                max_size=5), st.floats(0, 1))
def test_inverse_of_integral(segments, frac):
    s = RateSchedule(tuple(Segment(a, b, d) for a, b, d in segments))
    n = frac * s.total_events * 0.999
    t = s.time_of_event(n)
    assert t is not None
    assert s.events_until(t) == pytest.approx(n, rel=1e-6, abs=1e-6)
