"""Tiering from achieved-rate points, warm-ups after rate changes, declared rates."""

from __future__ import annotations

import pytest

from ingestbench.checks.rate_tiering import Tiering, assign
from ingestbench.checks.tiering import change_times, window_rate_eps
from ingestbench.records.slo_file import load_slo
from ingestbench.records.timeline import RatePoint

SLO = load_slo(time_scale=0.1)  # warm-up: low 3 s, high 1 s, transactional 1 s


def steps() -> list[RatePoint]:
    """10/s for 20 s (ending at 120), then 2000/s for 20 s (ending at 140); achieved a little short."""
    low = [RatePoint(100.0 + i, 9.5, 10.0) for i in range(1, 21)]
    high = [RatePoint(120.0 + i, 1980.0, 2000.0) for i in range(1, 21)]
    return low + high


def test_window_rate_is_the_mean_of_overlapping_points() -> None:
    pts = [RatePoint(1.0, 10.0), RatePoint(2.0, 20.0), RatePoint(3.0, 30.0), RatePoint(4.0, 40.0)]
    assert window_rate_eps(pts, 3.0, window_s=2.0) == pytest.approx(25.0)  # windows ending 2 and 3
    assert window_rate_eps(pts, 2.5, window_s=1.0) == pytest.approx(25.0)  # ending 2, and 3 contains 2.5
    assert window_rate_eps(pts, 10.0, window_s=2.0) is None
    assert window_rate_eps([], 1.0, window_s=5.0) is None


def test_change_times_from_target_rate() -> None:
    assert change_times(steps()) == [100.0, 120.0]


def test_change_times_from_achieved_band_when_target_unknown() -> None:
    pts = [RatePoint(1.0, 10.0), RatePoint(2.0, 900.0), RatePoint(3.0, 1500.0), RatePoint(4.0, 1100.0)]
    tiering = Tiering(SLO)
    assert change_times(pts, band_of=tiering.band_of) == [0.0, 2.0]
    assert change_times(pts) == [0.0]


def test_gap_in_timeline_starts_a_new_regime() -> None:
    pts = [RatePoint(1.0, 10.0, 10.0), RatePoint(2.0, 10.0, 10.0), RatePoint(10.0, 10.0, 10.0)]
    assert change_times(pts) == [0.0, 9.0]


@pytest.mark.parametrize(
    ("sent", "tier", "window"),
    [
        (101.0, "low", "warmup"),      # 1 s after the start, low warm-up is 3 s
        (110.0, "low", "steady"),
        (119.0, "low", "transition"),  # low target 3 s before the step to high
        (120.5, "high", "warmup"),     # high window already, 0.5 s after the step (warm-up 1 s)
        (121.5, "high", "steady"),
        (200.0, "high", "outside"),    # beyond a live timeline: the nearest rate, outside the load
    ],
)
def test_assign_from_timeline(sent: float, tier: str | None, window: str) -> None:
    pts = steps()
    a = assign("analytical", sent, slo=SLO, points=pts, changes=change_times(pts), window_s=0.5)
    assert (a.tier, a.window) == (tier, window)
    assert a.judged == (window == "steady")


def test_rate_used_is_achieved_not_requested() -> None:
    pts = [RatePoint(1.0 + i, 950.0, 1000.0) for i in range(10)]
    a = assign("analytical", 8.0, slo=SLO, points=pts, window_s=5.0)
    assert a.tier == "low" and a.rate_eps == pytest.approx(950.0)


def test_declared_rate_and_transactional() -> None:
    a = assign("analytical", 5.0, slo=SLO, declared_rate_eps=1500.0)
    assert (a.tier, a.rate_eps, a.window) == ("high", 1500.0, "steady")
    t = assign("transactional", 5.0, slo=SLO)
    assert (t.tier, t.rate_eps) == ("transactional", None)


def test_tiering_places_sends_and_grows() -> None:
    tiering = Tiering(SLO, window_s=0.5)
    assert not tiering.ready("analytical", 130_000) and tiering.place("analytical", 130_000).tier is None
    tiering.extend(steps())
    assert tiering.ready("analytical", 130_000) and tiering.ready("transactional", 999_000)
    a = tiering.place("analytical", 130_000)
    assert (a.tier, a.window, a.rate_eps) == ("high", "steady", 1980.0)


def test_send_after_the_load_is_outside_at_rate_zero() -> None:
    """A canary sent after the load stopped must not inherit the last second's rate: once the timeline is
    complete, none of the load ran then (rate 0, the low tier); a transactional canary is at any rate."""
    done = Tiering(SLO, window_s=0.5, complete=True)
    done.extend(steps())  # last point ends at 140.0
    a = done.place("analytical", 140_300)
    assert (a.tier, a.rate_eps, a.window) == ("low", 0.0, "outside")
    before = done.place("analytical", 99_000)
    assert (before.tier, before.rate_eps, before.window) == ("low", 0.0, "outside")
    assert done.place("analytical", 139_300).tier == "high"
    assert done.place("transactional", 140_300).window == "steady"


def test_send_just_before_a_rate_change_is_a_transition() -> None:
    """Its TTA depends on the traffic after the send: at 2000/s just before the load stops, it measures the
    quiet that follows, not the high-volume regime."""
    high_then_low = [RatePoint(100.0 + i, 1990.0, 2000.0) for i in range(1, 21)] + [
        RatePoint(120.0 + i, 10.0, 10.0) for i in range(1, 21)]
    tiering = Tiering(SLO, window_s=0.5)  # high target 0.3 s at time scale 0.1
    tiering.extend(high_then_low)
    assert tiering.place("analytical", 119_850).window == "transition"
    assert tiering.place("analytical", 119_500).window == "steady"


def test_end_of_a_complete_timeline_counts_as_a_change() -> None:
    points = [RatePoint(100.0 + i, 1990.0, 2000.0) for i in range(1, 21)]  # the load stops at 120
    live, done = Tiering(SLO, window_s=0.5), Tiering(SLO, window_s=0.5, complete=True)
    live.extend(points)
    done.extend(points)
    assert live.place("analytical", 119_900).window == "steady"  # live, more points may come
    assert done.place("analytical", 119_900).window == "transition"  # the load ended 0.1 s after the send


@pytest.mark.parametrize(("sent", "window"), [
    (109.5, "warmup"),
    (110.0, "steady"),      # exactly the 10 s warm-up after the start at 100: steady
    (157.0, "steady"),      # exactly the 3 s target before the change at 160: steady
    (157.5, "transition"),
])
def test_window_edges(sent: float, window: str) -> None:
    """At time scale 1 every duration is exact in binary, so the edges themselves are tested: a window is
    half-open, ``[start, start + warm-up)`` and ``(change - target, change)``."""
    points = [RatePoint(100.0 + i, 2000.0, 2000.0) for i in range(1, 61)] + [
        RatePoint(160.0 + i, 10.0, 10.0) for i in range(1, 21)]
    tiering = Tiering(load_slo(), window_s=0.5, complete=True)  # high: target 3 s, warm-up 10 s
    tiering.extend(points)
    placed = tiering.place("analytical", round(sent * 1000))
    assert (placed.tier, placed.window) == ("high", window)


def ramp() -> list[RatePoint]:
    """10/s flat for 10 s (ending at 110), then a ramp (one shape) from 100/s up by 100/s a second for 20 s: it
    enters the high band (>= 1000/s) in the second ending at 120."""
    flat = [RatePoint(100.0 + i, 10.0, 10.0) for i in range(1, 11)]
    up = [RatePoint(110.0 + i, 100.0 * i, 100.0 * i, regime=1) for i in range(1, 21)]
    return flat + up


def test_a_ramp_is_one_regime_per_band_it_enters_not_one_per_second() -> None:
    tiering = Tiering(SLO)
    assert change_times(ramp(), band_of=tiering.band_of) == [100.0, 110.0, 119.0]
    # without the shape every second of it would be a change, and nothing in it steady
    plain = [RatePoint(p.unix_s, p.achieved_eps, p.target_eps) for p in ramp()]
    assert len(change_times(plain, band_of=tiering.band_of)) == 21
    done = Tiering(SLO, window_s=0.5, complete=True)
    done.extend(ramp())
    # low: 3 s warm-up after the ramp's start at 110, judged until 3 s (its target) before it enters high
    assert [done.place("analytical", ms).window for ms in (112_500, 113_500, 115_500, 116_500)] == \
        ["warmup", "steady", "steady", "transition"]
    # high: 1 s warm-up after entering at 119, then steady, each canary in the tier of the rate before it
    entered, later = done.place("analytical", 119_500), done.place("analytical", 125_500)
    assert (entered.tier, entered.window) == ("high", "warmup")
    assert (later.tier, later.window, later.rate_eps) == ("high", "steady", 1600.0)  # the second it is sent in
