"""A real Prometheus (Debian's ``prometheus``) on loopback for tests, and the HTTP API calls the tests make.

Usage::

    with start_prometheus(config_dir, tmp_path) as prom:    # config_dir: a copy of dashboards/prometheus
        prom.query_range('up', start, end, step=2)

It listens on a free 127.0.0.1 port with its storage in a temp dir and exemplar storage on, and is stopped by
its own PID when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ci import in_ci

FLAGS = ("--enable-feature=exemplar-storage", "--web.enable-lifecycle")


def need(tool: str) -> str:
    """The path of a Debian tool the test needs; skipped (with the install line) where it is missing, except in
    CI, which installs it (.ci/run): there a missing tool fails the test rather than hide it."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install prometheus docker-compose)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode([(k, v) for k, vs in params.items()
                                        for v in (vs if isinstance(vs, list) else [vs])])
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as resp:
            doc = json.loads(resp.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr, time=at)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return list(self.api("query_range", query=expr, start=start, end=end, step=step)["result"])

    def label_values(self, label: str, match: str, start: float, end: float) -> list[str]:
        return list(self.api(f"label/{label}/values", **{"match[]": match, "start": start, "end": end}))

    def exemplars(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        return list(self.api("query_exemplars", query=expr, start=start, end=end))

    def wait_for(self, expr: str, timeout_s: float) -> list[dict[str, Any]]:
        """Poll until ``expr`` (instant, now) returns a series; the log tail on time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr, time.time())
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr} within {timeout_s} s; prometheus log:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def start_prometheus(config_dir: Path, tmp: Path, *, config: str = "prometheus.yml",
                     flags: tuple[str, ...] = ()) -> Iterator[Prometheus]:
    """``flags``: more command-line flags (``--web.enable-remote-write-receiver``)."""
    binary = need("prometheus")
    port = free_port()
    log_path = tmp / "prometheus.log"
    cmd = [binary, f"--config.file={config_dir / config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
           f"--web.listen-address=127.0.0.1:{port}", *FLAGS, *flags]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{prom.tail()}")
            try:
                with urllib.request.urlopen(prom.url + "/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready within 30 s:\n{prom.tail()}")
            time.sleep(0.1)
        yield prom
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
