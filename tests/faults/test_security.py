"""Security: loopback by default, keys compared in constant time, no unauthenticated access, no leaked secret.

- The pipeline binds 127.0.0.1 unless told otherwise, and every socket a whole run listens on (pipeline,
  probe metrics, Locust's master with worker processes) is on loopback: read from ``/proc/net/tcp*``.
- The pipeline compares the key with ``hmac.compare_digest`` (a spy wraps it in the real process).
- With a key set, every route but ``/healthz`` and ``/metrics`` refuses a request without the key, with a
  wrong one or a near miss, and stores nothing.
- For every target the CLI knows, a run and a lone probe with the target's secret (from the environment, the
  only place secrets come from) leave it in no file they write, no log, no output and no child's command line:
  the pipeline here; every other target in the test of its own runs (``SECRET_TESTS``), which this suite
  checks exists and asserts that.
- ``docker-compose.yml`` publishes ports on 127.0.0.1 only and sets no
  default password.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.faults.runs import ROOT, SLO, FaultRun, scenario
from tests.http import Client
from tests.procs import cmdline
from tests.servers import start_pipeline

pytestmark = [pytest.mark.server]

KEY = "ib-secret-" + secrets.token_hex(16)
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
EVENT = b'{"name":"signup","userId":"u1","timestamp":1764000000000,"properties":{"canary_id":"c-1"}}'


# --- sockets -------------------------------------------------------------------------------------------
def listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """``(pid, local address, port)`` of every listening TCP socket (v4 and v6) the processes hold."""
    inodes: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # LISTEN
                addr, port = local.split(":")
                found.append((inodes[inode], _address(addr), int(port, 16)))
    return found


def _address(hexaddr: str) -> str:
    if len(hexaddr) == 8:  # little-endian IPv4
        return ".".join(str(int(hexaddr[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return "::1" if hexaddr == "0" * 24 + "01000000" else ("::" if set(hexaddr) == {"0"} else hexaddr)


def test_pipeline_binds_loopback_by_default(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "pipeline", "--port", "0", "--data",
                             str(tmp_path / "data"), "--ready-file", str(ready)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (ready.exists() and ready.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.read_text().startswith("127.0.0.1:")
        sockets = listening({proc.pid})
        assert sockets and all(addr == "127.0.0.1" for _, addr, _ in sockets), sockets
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# --- the key -------------------------------------------------------------------------------------------
SPY = """
import hmac, runpy, sys
log = open(sys.argv[1], "a", buffering=1)
real = hmac.compare_digest
def spy(a, b):
    log.write(f"{len(a)} {len(b)}\\n")
    return real(a, b)
hmac.compare_digest = spy
sys.argv = ["ingestbench", *sys.argv[2:]]
runpy.run_module("ingestbench", run_name="__main__")
"""


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A pipeline that requires KEY, run through a spy on ``hmac.compare_digest``: its URL and the spy's log."""
    tmp = tmp_path_factory.mktemp("keyed")
    spy, calls, ready = tmp / "spy.py", tmp / "compare_digest.calls", tmp / "ready"
    spy.write_text(SPY)
    proc = subprocess.Popen([sys.executable, str(spy), str(calls), "pipeline", "--port", "0", "--data",
                             str(tmp / "data"), "--ready-file", str(ready), "--flush-max-wait", "0.2"], cwd=ROOT,
                            env={**os.environ, "INGESTBENCH_WRITE_KEY": KEY}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (ready.exists() and ready.read_text().strip()):
            assert time.monotonic() < deadline and proc.poll() is None, "the pipeline did not start"
            time.sleep(0.05)
        yield "http://" + ready.read_text().strip(), calls
    finally:
        proc.terminate()
        proc.wait(timeout=15)


ROUTES: list[tuple[str, str, bytes | None]] = [
    ("POST", "/event/ingest", EVENT),
    ("POST", "/event/ingest/batch", b'{"events":[' + EVENT + b"]}"),
    ("POST", "/profile", b'{"userId":"u1","properties":{"plan":"pro"}}'),
    ("GET", "/profile/u1", None),
    ("POST", "/query", b'{"canary_ids":["c-1"]}'),
    ("POST", "/internal/visibility", b'{"canary_ids":["c-1"]}'),
    ("GET", "/internal/stats", None),
]
NEAR_MISSES: list[dict[str, str]] = [
    {}, {"Authorization": ""}, {"Authorization": KEY}, {"Authorization": f"bearer {KEY}"},
    {"Authorization": f"Bearer {KEY[:-1]}"}, {"Authorization": f"Bearer {KEY}x"},
    {"Authorization": f"Bearer  {KEY}"}, {"Authorization": f"Basic {KEY}"}, {"X-Write-Key": KEY},
]


def test_without_the_key_every_route_but_health_and_metrics_is_refused(keyed: tuple[str, Path]) -> None:
    url, calls = keyed
    client = Client(url)
    _, before = client.request("GET", "/internal/stats", headers=AUTH)
    for method, path, body in ROUTES:
        for headers in NEAR_MISSES:
            status, raw = client.request(method, path, body, {"Content-Type": "application/json", **headers})
            assert status == 401, (method, path, headers, status)
            assert b'"field":"Authorization"' in raw and KEY.encode() not in raw
    _, after = client.request("GET", "/internal/stats", headers=AUTH)
    assert after == before, "a refused request stored something"
    for method, path, body in ROUTES:  # and with the key they all work
        status, _ = client.request(method, path, body, AUTH)
        assert status in (200, 204), (method, path, status)
    for path in ("/healthz", "/metrics"):
        status, raw = client.request("GET", path)
        assert status == 200 and KEY.encode() not in raw
    client.close()
    # every check went through hmac.compare_digest, in the real process
    lines = calls.read_text().splitlines()
    assert len(lines) >= len(ROUTES) * (len(NEAR_MISSES) + 1), len(lines)


# --- secrets of every target ---------------------------------------------------------------------------
def known_targets() -> list[str]:
    """The targets the CLI knows, from its own refusal of an unknown one."""
    done = subprocess.run([sys.executable, "-m", "ingestbench", "run", "--check", "--target", "no-such-target"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    match = re.search(r"known: ([^)]*)\)", done.stderr)
    assert done.returncode == 2 and match, done.stderr
    return [t.strip() for t in match.group(1).split(",")]


@contextlib.contextmanager
def keyed_pipeline(tmp: Path) -> Iterator[str]:
    with start_pipeline(tmp, flush_rows=50, flush_max_wait_s=0.3, env={"INGESTBENCH_WRITE_KEY": KEY},
                        name="secret-target") as p:
        yield p.url


# A server speaking each target's API that refuses requests without the secret.
TARGET_SERVERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[str]]] = {"pipeline": keyed_pipeline}
# The other targets' secrets are checked in whole runs against their own loopback servers: the test that does it.
# A new target fails test_every_target_is_covered until it has one here or in TARGET_SERVERS.
SECRET_TESTS = {
    "http": "tests/ingestbench/test_run_e2e.py::test_the_generic_http_target_gives_the_native_targets_verdicts",
    "clickhouse": "tests/targets/test_clickhouse_server.py::"
                  "test_the_knee_then_a_byte_minimum_never_met_fails_the_high_tier",
    "segment": "tests/targets/test_vendor_runs.py::"
               "test_segment_collector_written_here_read_there_through_http_templates",
    "userflux": "tests/targets/test_vendor_runs.py::test_userflux_ingest_profiles_and_metrics_api",
    "posthog": "tests/targets/test_vendor_runs.py::test_posthog_polls_no_faster_than_its_query_limit_and_says_so",
}


def _test_source(node_id: str) -> str:
    path, name = node_id.split("::")
    tree = ast.parse((ROOT / path).read_text())
    (func,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.get_source_segment((ROOT / path).read_text(), func) or ""


def test_every_target_is_covered() -> None:
    assert sorted(known_targets()) == sorted([*TARGET_SERVERS, *SECRET_TESTS])
    for target, node_id in SECRET_TESTS.items():
        source = _test_source(node_id)
        assert f'"--target", "{target}"' in source and "assert_secret_nowhere(" in source, node_id


def _files_with_secret(root: Path) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and KEY.encode() in f.read_bytes()]


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGET_SERVERS))
def test_the_secret_is_nowhere_a_run_or_probe_writes(target: str, tmp_path: Path) -> None:
    with TARGET_SERVERS[target](tmp_path) as url:
        # a whole run with Locust workers
        run = FaultRun.start(tmp_path / "run", "--processes", "2", url=url, env={"INGESTBENCH_WRITE_KEY": KEY},
                             scenario_text=scenario(duration_s=100, lag_bound_s=1.0, max_behind_s=5.0))
        run.wait_for(lambda: (run.out / "results").exists() and len(run.seconds()) >= 2, 90, "the load ran")
        run.watch()
        lines = {p: cmdline(p) for p in run.seen}
        sockets = listening(run.seen | {run.pid})
        run.wait(150)
        # a lone probe with the key in its environment: ten canaries, judged on the run's tier (a 5 s target)
        probe_out = tmp_path / "probe"
        (tmp_path / "probe-slo.toml").write_text(SLO.replace("min_samples = 20", "min_samples = 5"))
        probe = subprocess.run([sys.executable, "-m", "ingestbench", "probe", "--target", target, "--url", url,
                                "--declared-rate-eps", "10", "--duration", "2", "--interval", "0.2",
                                "--slo", str(tmp_path / "probe-slo.toml"), "--out", str(tmp_path), "--run-id", "probe",
                                "--no-transactional"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                               env={**os.environ, "INGESTBENCH_WRITE_KEY": KEY})
    # the target refuses requests without the key (401, "rejected"): the load and the canaries had it, so the
    # run and the probe pass (a target flushing every 0.3 s against a 5 s target)
    assert run.code == 0, run.output[-3000:]
    assert run.seconds() and not any((s.get("failed_by_kind") or {}).get("rejected") for s in run.seconds())
    assert not [s for s in run.jsonl("samples.jsonl") if s["outcome"] == "errored"]
    assert probe.returncode == 0, probe.stdout[-2000:] + probe.stderr[-2000:]
    outcomes = {line.split('"outcome":"')[1].split('"')[0] for line in (probe_out / "samples.jsonl").read_text()
                .splitlines()}
    assert outcomes and "errored" not in outcomes, outcomes  # the target required the key: the probe had it
    assert len(lines) >= 4 and any(" probe " in c for c in lines.values()), lines  # probe, master, 2 workers
    assert not [c for c in lines.values() if KEY in c], "the key is on a child's command line"
    assert not _files_with_secret(run.run_dir) and not _files_with_secret(probe_out)
    assert KEY not in run.output and KEY not in probe.stdout + probe.stderr
    assert not _files_with_secret(tmp_path / "run"), "nor in the scenario or SLO copies"
    for log in tmp_path.glob("*.log"):  # the target's own log
        assert KEY.encode() not in log.read_bytes(), log
    assert sockets and all(addr in ("127.0.0.1", "::1") for _, addr, _ in sockets), sockets


# --- deployment files ----------------------------------------------------------------------------------
def test_compose_file_publishes_on_loopback_only_and_sets_no_password() -> None:
    compose = ROOT / "docker-compose.yml"
    doc = yaml.safe_load(compose.read_text())
    for name, service in (doc.get("services") or {}).items():
        for port in service.get("ports") or []:
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published', '')}"
            assert str(spec).startswith("127.0.0.1:"), (name, port)
        env = service.get("environment") or {}
        pairs = env.items() if isinstance(env, dict) else [(*e.split("=", 1), "")[:2] for e in env]
        for key, value in pairs:
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", str(key), re.I) and value not in (None, ""):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?\?[^}]*)?\}", str(value)), (name, key, "has a default")
