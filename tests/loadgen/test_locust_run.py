"""The locustfile as a Locust user runs it: headless, self-stopping, rate timeline, verdicts, exit codes."""

import itertools

import pytest
from aiohttp import web

from tests.loadgen.locust_run import run_locust, serve, write_scenario

pytestmark = pytest.mark.server


def test_short_run_meets_its_rates_and_writes_the_timeline(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(100, 2), (300, 2)])
    with serve() as url:
        run = run_locust(tmp_path, url, scenario)
    assert run.returncode == 0, run.log[-3000:]
    assert [r["t_s"] for r in run.seconds] == [0, 1, 2, 3]
    assert [r["target_eps"] for r in run.seconds] == [100, 100, 300, 300]
    assert [r["valid"] for r in run.seconds] == [None, True, None, True]
    unix = [r["unix_s"] for r in run.seconds]
    assert all(b - a == pytest.approx(1.0, abs=1e-6) for a, b in itertools.pairwise(unix))
    for row in run.seconds:
        assert row["achieved_eps"] == pytest.approx(row["target_eps"], rel=0.05)
        assert set(row) >= {"t_s", "unix_s", "target_eps", "achieved_eps", "sent_events", "failed_events",
                            "failed_by_kind", "lag_p50_s", "lag_p99_s", "step", "valid"}
    assert [s["valid"] for s in run.steps] == [True, True]
    assert run.steps[1]["achieved_eps"] == pytest.approx(300, rel=0.02)


def test_batch_mode_sends_batches_to_the_batch_endpoint(tmp_path):
    paths, sizes = [], []

    async def record(request: web.Request) -> web.Response:
        body = await request.json()
        paths.append(request.path)
        sizes.append(len(body["events"]) if "events" in body else 1)
        return web.Response(status=204)

    scenario = write_scenario(tmp_path / "s.toml", [(1000, 3)], batch_size=50)
    with serve(record) as url:
        run = run_locust(tmp_path, url, scenario)
    assert run.returncode == 0, run.log[-3000:]
    assert set(paths) == {"/event/ingest/batch"}
    assert sum(sizes) == 3000 and set(sizes) == {50}
    assert run.steps[0]["achieved_eps"] == pytest.approx(1000, rel=0.02)


def test_failures_are_counted_by_kind_and_invalidate_the_step(tmp_path):
    counter = itertools.count()

    async def flaky(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=503 if next(counter) % 4 == 0 else 204)

    scenario = write_scenario(tmp_path / "s.toml", [(200, 2)])
    with serve(flaky) as url:
        run = run_locust(tmp_path, url, scenario)
    assert run.returncode == 3
    (step,) = run.steps
    assert not step["valid"]
    assert step["failed_events"] == pytest.approx(100, abs=3)
    assert sum(r["failed_by_kind"].get("server_error", 0) for r in run.seconds) == step["failed_events"]
    assert "INVALID step 0" in run.log and "server_error" in run.log


def test_retry_after_is_honoured(tmp_path):
    counter = itertools.count()

    async def throttle_once(request: web.Request) -> web.Response:
        await request.read()
        if next(counter) == 20:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=204)

    scenario = write_scenario(tmp_path / "s.toml", [(100, 3)])
    with serve(throttle_once) as url:
        run = run_locust(tmp_path, url, scenario)
    (step,) = run.steps
    assert sum(r["failed_by_kind"].get("throttled", 0) for r in run.seconds) == 1
    # about one second of traffic was held back rather than sent into the throttle
    assert 80 <= step["dropped_events"] <= 110, step
    assert not step["valid"] and run.returncode == 3


def test_connection_errors_are_counted(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(50, 2)])
    run = run_locust(tmp_path, "http://127.0.0.1:9", scenario)  # discard port: nothing listens
    assert run.returncode == 3
    assert sum(r["failed_by_kind"].get("connection_error", 0) for r in run.seconds) >= 90


def test_saturation_is_reported_invalid_never_passed(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(50_000, 3)])
    with serve() as url:
        run = run_locust(tmp_path, url, scenario)
    assert run.returncode == 3, run.log[-3000:]
    (step,) = run.steps
    assert step["valid"] is False
    assert step["achieved_eps"] < 0.97 * 50_000
    assert "INVALID step 0: target 50000.0 events/s, achieved" in run.log
    assert "RUN INVALID" in run.log


def test_time_scale_scales_durations_not_rates_and_env_vars_work(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(200, 20)])
    env = {"INGESTBENCH_SCENARIO": str(scenario), "INGESTBENCH_RATES_OUT": str(tmp_path / "env-rates.jsonl"),
           "INGESTBENCH_TIME_SCALE": "0.1"}
    with serve() as url:
        run = run_locust(tmp_path, url, None, env=env)
    assert run.returncode == 0, run.log[-3000:]
    assert len(run.seconds) == 2
    assert run.steps[0]["end_s"] == pytest.approx(2.0)
    assert run.steps[0]["achieved_eps"] == pytest.approx(200, rel=0.02)


def test_bad_scenario_is_a_one_line_usage_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[load]\nsteps = [{rate_eps = 0, duration_s = 1}]\n")
    run = run_locust(tmp_path, "http://127.0.0.1:9", bad, timeout_s=60)
    assert run.returncode == 2
    assert "load.steps[0].rate_eps must be > 0" in run.log


def test_scenario_time_scale_applies_without_the_flag(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(200, 20)])
    scenario.write_text("time_scale = 0.1\n" + scenario.read_text())
    with serve() as url:
        run = run_locust(tmp_path, url, scenario)
    assert run.returncode == 0, run.log[-3000:]
    assert len(run.seconds) == 2 and run.steps[0]["end_s"] == pytest.approx(2.0)
