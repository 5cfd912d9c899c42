"""Rate accuracy against the real reference pipeline on loopback (acceptance for issue 3).

The steady-state achieved rate over 10 whole seconds (each 12 s step minus its first and last second) is
within ±2 % of the target, and two generator processes (``--processes 2``) deliver the same total rate as
one.

Single-event mode stops at 1,100 events/s: on this 2-core machine a *bare* Locust FastHttpUser at full
speed reaches only ~2,400 requests/s against the pipeline (~2,850 with two processes), because the
generator and the pipeline share the two cores; asking for 3,000 single events/s here is saturation, which
the generator reports as an invalid step (see ``test_locust_run.py``). 3,000 events/s is covered in batch
mode.
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
