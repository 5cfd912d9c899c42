"""``ingestbench pipeline --scenario``: the flush settings of a scenario's ``[pipeline]`` table, scaled exactly as
``ingestbench run`` scales its embedded pipeline; explicit flags and their environment variables still win."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ingestbench.cli import build_parser
from ingestbench.cli.pipeline import _config
from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.records.config import ConfigError
from tests.http import Client
from tests.servers import PipelineProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "pipeline.toml"


def _settings(argv: list[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None
              ) -> tuple[int, float]:
    for name in ("INGESTBENCH_SCENARIO", "INGESTBENCH_TIME_SCALE", "INGESTBENCH_FLUSH_ROWS",
                 "INGESTBENCH_FLUSH_MAX_WAIT_S"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    args = build_parser("pipeline").parse_args(["pipeline", "--data", "unused", *argv])
    _host, _port, config, _ready = _config(args)
    return config.flush_rows, config.flush_max_wait_s


@pytest.mark.parametrize("scenario", ["quick", "threshold-sweep", "spike", "soak"])
def test_a_scenario_gives_the_pipeline_a_run_would_embed(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = resolve_run(RunFlags(scenario=scenario), {}).plan.pipeline
    assert embedded is not None
    assert _settings(["--scenario", scenario], monkeypatch) == (embedded.flush_rows, embedded.flush_max_wait_s)


def test_quick_is_scaled_by_its_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    # quick: flush_rows 2000, flush_max_wait_s 30, time_scale 0.1
    assert _settings(["--scenario", "quick"], monkeypatch) == (200, pytest.approx(3.0))
    assert _settings([], monkeypatch, {"INGESTBENCH_SCENARIO": "quick"}) == (200, pytest.approx(3.0))
    # the time scale as run takes it: the flag, else INGESTBENCH_TIME_SCALE, else the scenario's
    assert _settings(["--scenario", "quick", "--time-scale", "0.5"], monkeypatch) == (1000, pytest.approx(15.0))
    assert _settings(["--scenario", "quick"], monkeypatch, {"INGESTBENCH_TIME_SCALE": "1"}) == (2000, 30.0)
    same = resolve_run(RunFlags(scenario="quick"), {"INGESTBENCH_TIME_SCALE": "0.5"}).plan.pipeline
    assert same is not None and (same.flush_rows, same.flush_max_wait_s) == (1000, pytest.approx(15.0))


def test_a_scenario_with_a_url_scales_the_defaults_as_its_comment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline example runs against a URL (no [pipeline] table): at --time-scale 0.1 the pipeline to start
    for it flushes at 300 rows or 3 s, as the example's comment says."""
    assert "--scenario scenarios/examples/pipeline.toml --time-scale 0.1" in EXAMPLE.read_text()
    assert _settings(["--scenario", str(EXAMPLE), "--time-scale", "0.1"], monkeypatch) == (300, pytest.approx(3.0))


def test_explicit_flags_and_their_variables_override_the_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings(["--scenario", "quick", "--flush-rows", "7"], monkeypatch) == (7, pytest.approx(3.0))
    assert _settings(["--scenario", "quick", "--flush-max-wait-s", "9"], monkeypatch) == (200, 9.0)
    assert _settings(["--scenario", "quick"], monkeypatch, {"INGESTBENCH_FLUSH_ROWS": "11"}) == (11, pytest.approx(3.0))


def test_without_a_scenario_the_defaults_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings([], monkeypatch) == (3000, 30.0)
    assert _settings([], monkeypatch, {"INGESTBENCH_TIME_SCALE": "0.1"}) == (3000, 30.0)  # nothing to scale


@pytest.mark.parametrize(("argv", "message"), [
    (["--time-scale", "0.1"], "--time-scale scales a scenario's [pipeline] settings: give --scenario too"),
    (["--scenario", "no-such-scenario"], "no-such-scenario"),
    (["--scenario", "quick", "--time-scale", "0"], "time-scale"),
])
def test_bad_settings_are_named(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _settings(argv, monkeypatch)


@pytest.mark.server
def test_a_pipeline_started_with_quick_flushes_by_size_at_its_scaled_rows(tmp_path: Path) -> None:
    """200 events in one batch: at quick's scaled 200 rows they flush by size at once (unscaled, 2,000 rows,
    they would wait for the timer); the metrics say which rule fired."""
    proc = PipelineProcess(data_dir=tmp_path / "data", args=["--scenario", "quick"], log_path=tmp_path / "p.log")
    proc.start()
    try:
        client = Client(proc.url)
        events = [{"name": "e", "userId": f"u{i}", "timestamp": int(time.time() * 1000)} for i in range(200)]
        status, body = client.post_json("/event/ingest/batch", {"events": events})
        assert status in (200, 202, 204), body
        deadline = time.monotonic() + 20
        while client.stats()["visible"] < 200:
            assert time.monotonic() < deadline, client.stats()
            time.sleep(0.05)
        _status, raw = client.request("GET", "/metrics")
        flushes = dict(re.findall(r'ingestbench_pipeline_flushes_total\{reason="(\w+)"[^}]*\} (\S+)', raw.decode()))
        assert float(flushes["size"]) == 1 and float(flushes["time"]) == 0, flushes
        client.close()
    finally:
        proc.stop()
