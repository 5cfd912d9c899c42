"""A real ClickHouse server on loopback for tests: Debian's ``clickhouse-server``, started here, stopped by PID.

It gets its own configuration in a temp dir (data, logs, free HTTP and TCP ports, 127.0.0.1 only, no
interserver port) and a user with a password, so the tests exercise the credentials path too::

    with start_clickhouse(tmp_path) as ch:
        ch.url, ch.user, ch.password

Where the binary is missing the test is skipped with the reason, except in CI (``CI=true``), where a missing
server is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestbench.orchestrate.net import free_port
from ingestbench.records.process import die_with_parent
from tests.ci import in_ci

BINARY = "/usr/sbin/clickhouse-server"
READY_TIMEOUT_S = 30.0
USER = "ingestbench"

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>information</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog>
        <size>10M</size><count>1</count></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <path>{d}/data/</path>
    <tmp_path>{d}/data/tmp/</tmp_path>
    <user_files_path>{d}/data/user_files/</user_files_path>
    <format_schema_path>{d}/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
</yandex>
"""
USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <{user}><password>{password}</password><networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile><quota>default</quota></{user}>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default></quotas>
</yandex>
"""


@dataclass
class ClickHouseServer:
    url: str
    user: str
    password: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def env(self) -> dict[str, str]:
        """The target's secrets, as a run's environment carries them."""
        return {"INGESTBENCH_CLICKHOUSE_USER": self.user, "INGESTBENCH_CLICKHOUSE_PASSWORD": self.password}

    def query(self, sql: str) -> str:
        req = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST",
                                     headers={"X-ClickHouse-User": self.user, "X-ClickHouse-Key": self.password})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read().decode()


def require_binary() -> None:
    """Skip when the server is not installed, unless in CI, where that is a failure."""
    if Path(BINARY).exists():
        return
    if in_ci():
        pytest.fail(f"{BINARY} is missing in CI: .ci/run installs Debian's clickhouse-server")
    pytest.skip(f"{BINARY} is not installed (apt-get install clickhouse-server; CI installs it)")


@contextlib.contextmanager
def start_clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    require_binary()
    d = tmp_path / "clickhouse"
    (d / "data").mkdir(parents=True)
    http, tcp = free_port(), free_port()
    password = "ch-" + secrets.token_hex(12)
    (d / "config.xml").write_text(CONFIG.format(d=d, http=http, tcp=tcp))
    (d / "users.xml").write_text(USERS.format(user=USER, password=password))
    # run as whoever runs the tests, in dirs of its own (pytest's temp dirs are private to that user)
    cmd = [BINARY, f"--config-file={d / 'config.xml'}"]
    log = (d / "stdout.log").open("ab")
    # tied to the test process: if pytest is killed before its fixtures stop the server, the server stops too
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=die_with_parent)
    log.close()
    server = ClickHouseServer(f"http://127.0.0.1:{http}", USER, password, proc, d / "error.log")
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: ClickHouseServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"clickhouse-server exited with {server.proc.returncode}: {_tail(server.log_path)}")
        try:
            with urllib.request.urlopen(server.url + "/ping", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"clickhouse-server not ready within {READY_TIMEOUT_S} s: {_tail(server.log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process we started, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
