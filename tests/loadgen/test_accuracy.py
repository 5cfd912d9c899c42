"""Rate accuracy against the real reference pipeline on loopback (acceptance for issue 3).

The steady-state achieved rate over 10 whole seconds (each 12 s step minus its first and last second) is
within ±2 % of the target, and two generator processes (``--processes 2``) deliver the same total rate as
one.

Single-event mode at 3,000 events/s needs both cores of this machine (two generator processes and the
pipeline); it has its own test below, with a warm-up and an honest verdict about the start-up transient.
"""

import pytest

from tests.loadgen.locust_run import run_locust, write_scenario
from tests.servers import start_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.server]

RATES = {1: [200, 900, 1100], 10: [200, 900, 1100, 3000]}
STEP_S = 12
TOLERANCE = 0.02


@pytest.mark.parametrize("batch_size", sorted(RATES))
def test_steady_state_rate_within_2_percent(tmp_path, batch_size):
    rates = RATES[batch_size]
    scenario = write_scenario(tmp_path / "s.toml", [(r, STEP_S) for r in rates], batch_size=batch_size,
                              lag_bound_s=0.05)
    with start_pipeline(tmp_path, flush_rows=3000, flush_max_wait_s=3.0) as p:
        run = run_locust(tmp_path, p.url, scenario, timeout_s=STEP_S * len(rates) + 60)
    assert len(run.steps) == len(rates), run.log[-3000:]
    report = []
    for i, rate in enumerate(rates):
        steady = run.steady_eps(i, trim_s=1)
        report.append(f"{rate}: steady {steady:.1f}, step {run.steps[i]['achieved_eps']:.1f}, "
                      f"lag p99 {run.steps[i]['lag_p99_s']}")
    print("\n".join(report))
    for i, rate in enumerate(rates):
        assert run.steady_eps(i, trim_s=1) == pytest.approx(rate, rel=TOLERANCE), report
        assert run.steps[i]["failed_events"] == 0
    assert all(s["valid"] for s in run.steps), [s["reason"] for s in run.steps]
    assert run.returncode == 0


def test_two_processes_deliver_the_same_total_rate(tmp_path):
    rate = 1100
    scenario = write_scenario(tmp_path / "s.toml", [(rate, STEP_S)])
    with start_pipeline(tmp_path, flush_rows=3000, flush_max_wait_s=3.0) as p:
        one = run_locust(tmp_path, p.url, scenario, name="one")
        two = run_locust(tmp_path, p.url, scenario, extra=["--processes", "2"], name="two")
    assert one.returncode == 0, one.log[-3000:]
    assert two.returncode == 0, two.log[-3000:]
    assert "share 1 of 2" in two.log  # really two generators, each pacing half
    steady_one, steady_two = one.steady_eps(0), two.steady_eps(0)
    print(f"one process {steady_one:.1f} events/s, two processes {steady_two:.1f} events/s")
    assert steady_two == pytest.approx(steady_one, rel=TOLERANCE)
    assert steady_two == pytest.approx(rate, rel=TOLERANCE)
    assert two.steps[0]["sent_events"] == pytest.approx(rate * STEP_S, abs=2)


def test_3000_single_events_per_second_with_two_processes(tmp_path):
    """3,000 single events/s against the pipeline needs both cores: two generator processes and the pipeline
    together keep this 2-core machine 95-100 % busy. The steady state (10 s after a 9 s warm-up in which
    the user pool grows from cold and catches up) is within ±2 %. Timing is not: on a machine this full,
    schedule lag p99 goes past its 50 ms bound (at least in the start-up transient), and the step check
    must say so and name the saturated machine rather than call the step valid."""
    rate, warmup_s, steady_s = 3000, 9, 10
    scenario = write_scenario(tmp_path / "s.toml", [(rate, warmup_s + steady_s + 1)], lag_bound_s=0.05)
    with start_pipeline(tmp_path, flush_rows=3000, flush_max_wait_s=3.0) as p:
        run = run_locust(tmp_path, p.url, scenario, extra=["--processes", "2"], timeout_s=120)
    assert run.steps, run.log[-3000:]
    step = run.steps[0]
    steady = run.steady_eps(0, trim_s=1, warmup_s=warmup_s - 1)  # seconds 9 .. 18
    window = [r for r in run.seconds if r["step"] == 0][warmup_s:-1]
    print(f"steady {steady:.1f} events/s; step: {step['reason']}")
    for r in run.seconds:
        print(r["t_s"], r["achieved_eps"], r["lag_p99_s"], r["latency_mean_s"], r["inflight_peak"], r["generator_cpu"])
    assert len(window) == steady_s
    assert steady == pytest.approx(rate, rel=TOLERANCE)
    assert step["failed_events"] == 0 and step["achieved_eps"] == pytest.approx(rate, rel=0.03)
    assert "share 1 of 2" in run.log
    if step["valid"]:
        assert run.returncode == 0
    else:  # the only thing allowed to go wrong is timing, and then the run says so
        assert "schedule lag p99" in step["reason"] and "achieved" not in step["reason"], step["reason"]
        assert "generator machine saturated" in step["reason"] or "generator CPU-bound" in step["reason"]
        assert run.returncode == 3 and "INVALID step 0" in run.log
