"""``ingestbench run --remote-write``: the setting, the pushes as a receiver decodes them, failures as data.

A receiver on loopback decodes every request as Prometheus does (snappy, then the protobuf ``WriteRequest``)
and answers with the status the test sets; the endpoints pushed are real ``prometheus_client`` expositions.
The run-level test pushes a real short run to a receiver that answers 500 to everything: the run passes,
records its failed pushes, and its credentials are in no file, log, command line or output.
"""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import snappy
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_remote_writer.proto.remote_pb2 import WriteRequest

from ingestbench.orchestrate.net import free_port
from ingestbench.orchestrate.pusher import Pusher
from ingestbench.orchestrate.remote_write import RemoteWrite, remote_write_settings
from ingestbench.records.config import ConfigError
from ingestbench.records.tls import TlsPlan
from tests.loopback import LoopbackApp
from tests.runs import ROOT, assert_secret_nowhere, ib_run_watched

Series = dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]


class Receiver(LoopbackApp):
    """A remote-write receiver: every request's headers and decoded series; answers ``status`` (with the
    request's Authorization header echoed in the body of an error, as a careless server might)."""

    def __init__(self, status: int = 204) -> None:
        super().__init__()
        self.status = status
        self.requests: list[tuple[dict[str, str], Series]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/write", self._write)

    async def _write(self, request: web.Request) -> web.Response:
        decoded = WriteRequest()
        decoded.ParseFromString(snappy.decompress(await request.read()))
        series: Series = {tuple((lb.name, lb.value) for lb in ts.labels): [(s.timestamp, s.value)
                                                                            for s in ts.samples]
                          for ts in decoded.timeseries}
        self.requests.append((dict(request.headers), series))
        body = "" if self.status < 300 else f"refused {request.headers.get('Authorization')}"
        return web.Response(status=self.status, text=body)

    def wait(self, check: Callable[[], bool], timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            assert time.monotonic() < deadline, f"not within {timeout_s} s: {len(self.requests)} requests"
            time.sleep(0.05)


@pytest.fixture
def endpoint():
    """A real exposition: a labelled counter, a histogram, and a gauge with its own ``job`` label."""
    registry = CollectorRegistry()
    Counter("demo_events", "Events", ["kind"], registry=registry).labels("a").inc(3)
    Histogram("demo_seconds", "Durations", buckets=(0.1, 1.0), registry=registry).observe(0.5)
    Gauge("demo_level", "Level", ["job"], registry=registry).labels("mine").set(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


def _pusher(receiver: Receiver, endpoints: dict[str, str], interval_s: float = 3600, **auth: str) -> Pusher:
    return Pusher(RemoteWrite(f"{receiver.url}/api/v1/write", interval_s, **auth), TlsPlan(),
                  lambda: dict(endpoints), run_id="r-1")


def _values(series: Series, name: str, **labels: str) -> list[float]:
    return [v for key, samples in series.items() for _, v in samples
            if dict(key).get("__name__") == name and labels.items() <= dict(key).items()]


def _is_stale(value: float) -> bool:
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<Q", 0x7FF0000000000002)


def test_the_final_push_sends_every_series_as_a_scrape_stores_it_then_marks_it_stale(endpoint: str) -> None:
    with Receiver() as receiver:
        pusher = _pusher(receiver, {"probe": endpoint})
        pusher.finish()
    ((headers, series),) = receiver.requests
    assert headers["Content-Encoding"] == "snappy" and "Authorization" not in headers
    target = {"job": "ingestbench-probe", "instance": endpoint, "run_id": "r-1"}
    assert _values(series, "demo_events_total", kind="a", **target)[0] == 3
    assert [_values(series, "demo_seconds_bucket", le=le, **target)[0] for le in ("0.1", "1.0", "+Inf")] == [0, 1, 1]
    assert _values(series, "demo_seconds_sum", **target)[0] == 0.5
    assert _values(series, "demo_seconds_count", **target)[0] == 1
    assert _values(series, "demo_level", **{**target, "job": "mine"})[0] == 7  # its own label wins (honor_labels)
    assert _values(series, "up", **target)[0] == 1
    for key, samples in series.items():
        assert [dict(key)[k] for k in sorted(dict(key))] and list(key) == sorted(key)  # labels sorted
        (t1, first), (t2, last) = samples  # the value, then the end of the series, in time order
        assert not _is_stale(first) and _is_stale(last) and t2 > t1 > 1e12, (key, samples)
    assert pusher.summary()["pushes"] == 1 and pusher.summary()["failed_pushes"] == 0


def test_an_endpoint_that_goes_is_marked_stale_and_one_that_does_not_answer_is_down(endpoint: str) -> None:
    endpoints = {"probe": endpoint, "generator": f"127.0.0.1:{free_port()}"}  # nothing listens on the second
    with Receiver() as receiver:
        pusher = _pusher(receiver, endpoints, interval_s=0.2)
        pusher.start()
        receiver.wait(lambda: len(receiver.requests) >= 1)
        del endpoints["probe"]
        count = len(receiver.requests)
        receiver.wait(lambda: len(receiver.requests) > count)
        pusher.finish()
    first, gone = receiver.requests[0][1], receiver.requests[count][1]
    assert _values(first, "up", job="ingestbench-generator") == [0]
    assert _values(first, "demo_events_total", job="ingestbench-probe") == [3]
    assert all(_is_stale(v) for v in _values(gone, "demo_events_total") + _values(gone, "up", job="ingestbench-probe"))
    assert _values(gone, "demo_events_total") and not _values(receiver.requests[-1][1], "demo_events_total")


class Garbage(LoopbackApp):
    """A ``/metrics`` that is not the text format."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self._body)

    async def _body(self, _request: web.Request) -> web.Response:
        return web.Response(text="this is not an exposition\n")


def test_an_exposition_that_cannot_be_read_counts_as_down_and_is_recorded() -> None:
    with Receiver() as receiver, Garbage() as garbage:
        pusher = _pusher(receiver, {"pipeline": f"127.0.0.1:{garbage.port}"})
        pusher.finish()
    ((_, series),) = receiver.requests
    down, gone = _values(series, "up", job="ingestbench-pipeline")
    assert down == 0 and _is_stale(gone)
    assert pusher.unreadable == 1 and "ingestbench-pipeline: not the text format" in str(pusher.last_error)
    assert pusher.failures == 0  # the push itself went through


@pytest.mark.parametrize("auth, header", [
    ({"username": "alice", "password": "pw-1"}, "Basic " + base64.b64encode(b"alice:pw-1").decode()),
    ({"bearer_token": "tok-1"}, "Bearer tok-1")])
def test_credentials_go_in_the_header_and_a_refused_push_is_counted_without_them(
        endpoint: str, auth: dict[str, str], header: str) -> None:
    with Receiver(status=500) as receiver:
        pusher = _pusher(receiver, {"probe": endpoint}, **auth)
        pusher.finish()
    assert [h["Authorization"] for h, _ in receiver.requests] == [header] * 3  # the final push, tried 3 times
    summary = pusher.summary()
    assert summary["failed_pushes"] == summary["pushes"] == 3 and summary["samples"] == 0
    error = str(summary["last_error"])
    assert "status=500" in error and "***" in error  # the receiver echoed the header: scrubbed
    assert not [s for s in (*auth.values(), header.split()[1]) if s in error + json.dumps(summary)]
    assert str(pusher.note()).startswith("remote write: 3 of 3 pushes to ")


def test_https_is_verified_unless_insecure(endpoint: str, self_signed: Any) -> None:
    receiver = Receiver()
    receiver.ssl_context = self_signed.server_context()
    with receiver:
        url = f"{receiver.url}/api/v1/write"
        verified = Pusher(RemoteWrite(url, 3600), TlsPlan(), lambda: {"probe": endpoint}, run_id="r-1")
        verified.finish()
        assert receiver.requests == [] and "CERTIFICATE_VERIFY_FAILED" in str(verified.last_error)
        trusted = Pusher(RemoteWrite(url, 3600), TlsPlan(ca_file=str(self_signed.cert)),
                         lambda: {"probe": endpoint}, run_id="r-1")
        trusted.finish()
        insecure = Pusher(RemoteWrite(url, 3600), TlsPlan(verify=False), lambda: {"probe": endpoint}, run_id="r-1")
        insecure.finish()
    assert trusted.failures == insecure.failures == 0 and len(receiver.requests) == 2


@pytest.mark.parametrize("url, fault", [
    ("http://bob:hunter2@prom.example/api/v1/write", "must not carry credentials"),
    ("https://token@prom.example/api/v1/write", "must not carry credentials"),
    ("ftp://prom.example/api/v1/write", "must start with http:// or https://"),
    ("http:///api/v1/write", "names no host"),
    ("http://prom.example:http/api/v1/write", "not a valid URL")])
def test_a_bad_url_exits_2_in_one_line_naming_the_fault(url: str, fault: str) -> None:
    done = subprocess.run([sys.executable, "-m", "ingestbench", "run", "--check", "--remote-write", url],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and fault in done.stderr and len(done.stderr.strip().splitlines()) == 1, done
    assert "hunter2" not in done.stderr + done.stdout and "token@" not in done.stderr


def test_the_flag_wins_over_the_environment_and_check_says_where_it_pushes() -> None:
    env = {"INGESTBENCH_REMOTE_WRITE": "http://env.example/api/v1/write",
           "INGESTBENCH_REMOTE_WRITE_BEARER_TOKEN": "tok-check-1", "INGESTBENCH_REMOTE_WRITE_INTERVAL_S": "2"}
    run = [sys.executable, "-m", "ingestbench", "run", "--check"]
    by_env = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, **env})
    by_flag = subprocess.run([*run, "--remote-write", "https://flag.example/w"], capture_output=True, text=True,
                             timeout=60, cwd=ROOT, env={**os.environ, **env})
    assert "remote write: pushing the metrics every 2 s to http://env.example/api/v1/write (bearer token)" \
        in by_env.stdout, by_env
    assert "to https://flag.example/w (bearer token)" in by_flag.stdout and by_flag.returncode == 0
    assert "tok-check-1" not in by_env.stdout + by_env.stderr + by_flag.stdout + by_flag.stderr


@pytest.mark.parametrize("env, fault", [
    ({"INGESTBENCH_REMOTE_WRITE_USERNAME": "a"}, "basic auth needs both"),
    ({"INGESTBENCH_REMOTE_WRITE_PASSWORD": "p"}, "basic auth needs both"),
    ({"INGESTBENCH_REMOTE_WRITE_USERNAME": "a", "INGESTBENCH_REMOTE_WRITE_PASSWORD": "p",
      "INGESTBENCH_REMOTE_WRITE_BEARER_TOKEN": "t"}, "not both"),
    ({"INGESTBENCH_REMOTE_WRITE_INTERVAL_S": "0"}, "INGESTBENCH_REMOTE_WRITE_INTERVAL_S")])
def test_bad_credentials_or_interval_are_one_line_errors(env: dict[str, str], fault: str) -> None:
    with pytest.raises(ConfigError, match=fault):
        remote_write_settings("http://prom.example/api/v1/write", None, environ=env)
    assert remote_write_settings(None, None, environ={}) is None  # off unless asked


# 12 s at 50 events/s against the embedded pipeline flushing every 0.5 s: passes well within the low tier
SCENARIO = """description = "a short low-rate run whose metrics go to a remote-write endpoint"
time_scale = 0.1
[load]
batch_size = 10
seed = 11
lag_bound_s = 0.5  # the lag rule is tested elsewhere; this test is about pushes that fail
steps = [{ rate_eps = 50, duration_s = 120 }]
[pipeline]
flush_rows = 2000
flush_max_wait_s = 5
[probe]
interval_s = 1.0
poll_interval_s = 0.25
single_event = true
"""


def test_a_receiver_that_refuses_every_push_leaves_the_verdict_alone_and_sees_no_secret(tmp_path: Path) -> None:
    scenario = tmp_path / "short.toml"
    scenario.write_text(SCENARIO)
    password = "rw-" + secrets.token_hex(12)
    basic = base64.b64encode(f"bench:{password}".encode()).decode()
    with Receiver(status=500) as receiver:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--remote-write", f"{receiver.url}/api/v1/write",
            env={"INGESTBENCH_REMOTE_WRITE_USERNAME": "bench", "INGESTBENCH_REMOTE_WRITE_PASSWORD": password},
            timeout=150)
    assert code == 0, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    pushed = doc["settings"]["remote_write"]
    assert pushed["failed_pushes"] == pushed["pushes"] >= 3 and "status=500" in pushed["last_error"], pushed
    assert pushed["auth"] == "basic" and len(receiver.requests) == pushed["pushes"]
    assert {h["Authorization"] for h, _ in receiver.requests} == {f"Basic {basic}"}  # sent, every time
    assert doc["status"] == "finished" and not doc["invalid_reasons"], doc["invalid_reasons"]
    assert any(n.startswith("remote write: ") for n in doc["notes"])
    assert "remote write: " in (run_dir / "report.md").read_text()
    for secret in (password, basic):
        assert_secret_nowhere(secret, run_dir, output, cmdlines)

