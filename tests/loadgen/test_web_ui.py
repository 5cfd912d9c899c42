"""The web UI path: start from the UI, metrics at /ingestbench/metrics, start again for a second run."""

import signal
import subprocess
import time
import urllib.request

import pytest

from tests.loadgen.locust_run import LOCUST, LOCUSTFILE, free_port, read_rates, serve, write_scenario

pytestmark = pytest.mark.server


def _wait_for_steps(path, n, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and sum(r["type"] == "step" for r in read_rates(path)) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{n} step line(s) not written within {timeout_s}s")


def test_web_ui_runs_twice_and_serves_metrics(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(100, 2)])
    rates = tmp_path / "rates.jsonl"
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    with serve() as url, (tmp_path / "locust.log").open("wb") as log:
        proc = subprocess.Popen([str(LOCUST), "-f", str(LOCUSTFILE), "--host", url, "--web-host", "127.0.0.1",
                                 "--web-port", str(port), "--scenario", str(scenario), "--rates-out", str(rates)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            swarm = urllib.request.Request(ui + "/swarm", data=b"user_count=1&spawn_rate=1", method="POST")
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(swarm, timeout=5).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            _wait_for_steps(rates, 1)
            metrics = urllib.request.urlopen(ui + "/ingestbench/metrics", timeout=5).read().decode()
            assert 'ingestbench_loadgen_achieved_eps{target="pipeline"} 100.0' in metrics
            assert "ingestbench_loadgen_schedule_lag_seconds_count" in metrics
            time.sleep(0.5)
            urllib.request.urlopen(swarm, timeout=5).read()
            _wait_for_steps(rates, 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    steps = [r for r in read_rates(rates) if r["type"] == "step"]
    assert [s["valid"] for s in steps] == [True, True]
