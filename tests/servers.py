"""Start real servers on loopback for tests: the reference pipeline as a child process.

Usage::

    with start_pipeline(tmp_path, flush_rows=200, flush_max_wait_s=2.0) as p:
        requests go to p.url ...
        p.kill9(); p.restart()   # same data dir, same port

Each server is stopped by its own PID when the block ends; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 20.0


@dataclass
class PipelineProcess:
    data_dir: Path
    args: list[str]
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ready = self.data_dir.parent / f"{self.data_dir.name}.ready"
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "ingestbench", "pipeline", "--host", "127.0.0.1",
               "--port", str(self.port), "--data", str(self.data_dir), "--ready-file", str(ready), *self.args]
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pipeline exited with {self.proc.returncode}: {self.tail()}")
            if ready.exists() and ready.read_text().strip():
                self.port = int(ready.read_text().strip().rsplit(":", 1)[1])
                if self._healthy():
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"pipeline not ready within {READY_TIMEOUT_S}s: {self.tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Start again on the same data dir and the same port."""
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def start_pipeline(
    tmp_path: Path,
    *,
    flush_rows: int = 3000,
    flush_max_wait_s: float = 30.0,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    name: str = "pipeline",
) -> Iterator[PipelineProcess]:
    data = tmp_path / f"{name}-data"
    args = ["--flush-rows", str(flush_rows), "--flush-max-wait", str(flush_max_wait_s), *(extra_args or [])]
    proc = PipelineProcess(data_dir=data, args=args, log_path=tmp_path / f"{name}.log", env=env or {})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
