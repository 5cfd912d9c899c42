"""``ingestbench probe`` as a user runs it: a child process, /metrics, SIGINT, exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.records.observation import load_samples
from tests.servers import start_pipeline

CMD = [sys.executable, "-m", "ingestbench", "probe"]


def test_config_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["probe", "--url", "http://127.0.0.1:1"]) == 2  # no rate source
    assert "declared-rate-eps" in capsys.readouterr().err
    assert main(["probe", "--url", "ftp://x", "--declared-rate-eps", "5"]) == 2
    assert "url" in capsys.readouterr().err
    assert main(["probe", "--url", "http://127.0.0.1:1", "--declared-rate-eps", "5", "--target", "nope"]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err
    assert main(["probe", "--url", "http://127.0.0.1:1", "--declared-rate-eps", "5",
                 "--slo", str(tmp_path / "missing.toml")]) == 2
    assert main(["probe", "--url", "http://127.0.0.1:1", "--declared-rate-eps", "5", "--interval", "0"]) == 2
    assert "interval" in capsys.readouterr().err
    assert main(["probe", "--url", "http://127.0.0.1:1", "--rate-query", "up"]) == 2
    assert "prometheus-url" in capsys.readouterr().err


def test_unreachable_target_is_invalid_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([*CMD, "--url", "http://127.0.0.1:1", "--declared-rate-eps", "5", "--duration", "1",
                           "--interval", "0.1", "--drain", "0", "--out", str(out.parent), "--run-id", out.name],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3, proc.stderr
    assert "INVALID" in proc.stdout and "errored" in proc.stdout and "Cannot connect" in proc.stdout
    samples = load_samples(out / "samples.jsonl")
    assert samples and all(o.outcome == "errored" for o in samples)
    assert (out.parent / "latest").resolve() == out.resolve()  # --out is the results root, as for run


@pytest.mark.server
def test_sigint_stops_cleanly_with_metrics_and_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with start_pipeline(tmp_path, flush_rows=5, flush_max_wait_s=0.3) as p:
        proc = subprocess.Popen(
            [*CMD, "--url", p.url, "--declared-rate-eps", "10", "--interval", "0.1", "--time-scale", "0.1",
             "--metrics-port", "0", "--tag", "env=ci", "--out", str(out.parent), "--run-id", out.name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
        try:
            port = None
            deadline = time.monotonic() + 20
            assert proc.stderr is not None
            while port is None and time.monotonic() < deadline:
                line = proc.stderr.readline()
                match = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
                port = int(match.group(1)) if match else None
            assert port, "metrics address not logged"
            time.sleep(3.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            # a probe alone is a run of its own, named by its results directory: the dashboards can select it
            assert re.search(r'ingestbench_canaries_total\{[^}]*outcome="available",path="analytical",run_id="out",'
                             r'target="pipeline",tier="[a-z]+"[^}]*\} [1-9]', text), text[:2000]
            assert re.search(r'ingestbench_tta_seconds_bucket\{[^}]*le="0.05",path="transactional",run_id="out"', text)
            assert 'ingestbench_run_info{env="ci",run_id="out",scenario="probe",target="pipeline"} 1.0' in text
            assert re.search(r'ingestbench_canaries_pending\{[^}]*env="ci"', text), text[:2000]  # the --tag
            assert "ingestbench_canaries_pending" in text and "ingestbench_poll_duration_seconds" in text
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stdout + stderr
    assert "time to availability" in stdout and "PASS" in stdout
    assert re.search(r"low .*analytical .*pass", stdout)
    assert "Traceback" not in stderr
    samples = load_samples(out / "samples.jsonl")
    assert len(samples) >= 40 and {o.outcome for o in samples} == {"available"}
    assert (out / "probe.json").exists()


@pytest.mark.server
@pytest.mark.parametrize("how", ["declared", "timeline"])
def test_gate_on_a_probe_directory_gives_the_probes_exit_code(tmp_path: Path, how: str) -> None:
    """A probe alone, tiering by a declared rate at time scale 0.1 with its own loss horizon, or by a load
    generator's timeline in a file outside its directory: ``gate DIR`` on what it wrote says what it said."""
    out = tmp_path / "out"
    if how == "timeline":
        now = time.time()
        rows = [{"type": "second", "t_s": t, "unix_s": now - 2 + t, "target_eps": 2000, "achieved_eps": 2000}
                for t in range(12)]
        (tmp_path / "load.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        source = ["--rate-timeline", str(tmp_path / "load.jsonl")]
    else:
        source = ["--declared-rate-eps", "2000", "--lost-after", "2"]
    with start_pipeline(tmp_path, flush_rows=5, flush_max_wait_s=0.3) as p:
        proc = subprocess.run([*CMD, "--url", p.url, *source, "--time-scale", "0.1", "--interval", "0.1",
                               "--duration", "6", "--out", str(out.parent), "--run-id", out.name],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1, 3), proc.stderr
    if how == "timeline":
        (tmp_path / "load.jsonl").unlink()  # the directory holds its own copy
        assert (out / "rates.jsonl").exists()
    gate = subprocess.run([sys.executable, "-m", "ingestbench", "gate", str(out)], capture_output=True, text=True,
                          timeout=60)
    assert gate.returncode == proc.returncode, (proc.stdout, gate.stdout)
    record = json.loads((out / "probe.json").read_text())
    assert record["time_scale"] == 0.1 and record["exit_code"] == proc.returncode
    assert record["lost_after_s"] == (2.0 if how == "declared" else None)
    high = next(t for t in record["tiers"] if t["tier"] == "high")
    assert high["n"] >= 20, high  # tiered at 2,000 events/s by the source it was given
    for tier in record["tiers"]:
        assert f"{tier['status']}: {tier['reason']}" in gate.stdout
