"""Run the loadgen locustfile as a real ``locust --headless`` child process, and tiny servers to aim it at.

Every process started here is stopped by its own PID; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ingestbench.orchestrate.net import free_port
from ingestbench.records.jsonl import LineTail

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")
LOCUSTFILE = ROOT / "ingestbench" / "cli" / "locustfile.py"



def read_rates(path: str | Path) -> list[dict[str, Any]]:
    """Every line of a rates file as written (a torn last line skipped), through the one JSON-lines reader."""
    return LineTail(path).read_objects()


@dataclass
class LocustRun:
    returncode: int
    log: str
    rows: list[dict[str, Any]]

    @property
    def seconds(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["type"] == "second"]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["type"] == "step"]

    def steady_eps(self, step: int, trim_s: int = 1, warmup_s: int = 0) -> float:
        """Mean achieved events/s over the step's whole seconds, minus ``trim_s`` at each end and ``warmup_s``
        more at the start."""
        rows = [r for r in self.seconds if r["step"] == step]
        rows = rows[trim_s + warmup_s:len(rows) - trim_s]
        assert len(rows) >= 1, f"step {step} has no steady seconds"
        return sum(r["achieved_eps"] for r in rows) / len(rows)


def write_scenario(path: Path, steps: list[tuple[float, float]], *, batch_size: int = 1,
                   lag_bound_s: float = 0.5, **load: Any) -> Path:
    """A scenario file; the lag bound is loose by default because functional tests share a busy machine
    (the lag verdict itself is unit-tested, and the accuracy tests use the real default)."""
    load["lag_bound_s"] = lag_bound_s
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in load.items())
    body = ", ".join(f"{{rate_eps = {r}, duration_s = {d}}}" for r, d in steps)
    path.write_text(f"[load]\nbatch_size = {batch_size}\nseed = 7\n{extra}steps = [{body}]\n")
    return path


def run_locust(tmp_path: Path, host: str, scenario: Path | str | None, *, extra: list[str] | None = None,
               timeout_s: float = 180, name: str = "run", env: dict[str, str] | None = None) -> LocustRun:
    """Run headless; ``scenario=None`` leaves ``--scenario`` and ``--rates-out`` to ``env``."""
    rates = Path(env["INGESTBENCH_RATES_OUT"]) if env and "INGESTBENCH_RATES_OUT" in env else (
        tmp_path / f"{name}.rates.jsonl")
    cmd = [str(LOCUST), "-f", str(LOCUSTFILE), "--host", host, "--headless", "--only-summary",
           "--loglevel", "INFO", *(extra or [])]
    if scenario is not None:
        cmd += ["--scenario", str(scenario), "--rates-out", str(rates)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
                            env={**os.environ, **(env or {})})
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = out.decode(errors="replace")
    (tmp_path / f"{name}.log").write_text(log)
    return LocustRun(proc.returncode, log, read_rates(rates) if rates.exists() else [])


Handler = Callable[[web.Request], Awaitable[web.Response]]


async def _no_content(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


@contextlib.contextmanager
def serve(handler: Handler = _no_content, ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """An aiohttp server on a free loopback port in a thread of this process (HTTPS with ``ssl_context``);
    yields its URL."""
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
