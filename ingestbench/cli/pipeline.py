"""``ingestbench pipeline``: the reference pipeline (the embedded default target) in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ingestbench.cli.help import EXIT_CODES_PLAIN, command, internal, seconds
from ingestbench.orchestrate.resolve import scenario_pipeline
from ingestbench.pipeline.app import PipelineApp, PipelineConfig
from ingestbench.records import defaults
from ingestbench.records.config import ConfigError, check_number, positive, resolve
from ingestbench.records.plan import read_plan

WRITE_KEY_ENV = "INGESTBENCH_WRITE_KEY"  # the Bearer key writes and queries must carry; unset accepts any

log = logging.getLogger("ingestbench.pipeline")


class ClientErrorsInOneLine(logging.Filter):
    """aiohttp logs every request it cannot parse (a bad header, a broken chunk) at ERROR with a traceback: a
    client's mistake, not the pipeline's, and one any client can repeat to flood the log. Such records become
    one WARNING line; errors of the pipeline's own are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            first = str(exc.message).strip().splitlines()[0] if exc.message else type(exc).__name__
            record.msg, record.args = "refused a malformed request (%s %s): %s", (exc.code, type(exc).__name__,
                                                                                   first)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


DESCRIPTION = """Run the reference ingestion pipeline in the foreground: the embedded default target of `ingestbench
run`, here to be started on its own and pointed at with --url. It accepts events over HTTP, buffers them and
makes them queryable when a flush rule fires: every --flush-rows events, or when the oldest buffered event has
waited --flush-max-wait-s (so at low volume events take up to that long to become queryable, at high volume
much less). --scenario takes the flush settings from a scenario's [pipeline] table, scaled by its time scale
exactly as `ingestbench run` scales its embedded pipeline (so a pipeline started here for `ingestbench run
--url` of the same scenario behaves as the embedded one would); a flush flag still overrides it. With
INGESTBENCH_WRITE_KEY set, writes and queries must carry it as a Bearer key. Ctrl-C stops it."""


def register(sub: Any) -> None:
    p = command(sub, "pipeline", summary="run the reference ingestion pipeline (the default target)",
                description=DESCRIPTION, exits=EXIT_CODES_PLAIN, examples=(
                    "ingestbench pipeline --port 8080 --data /var/lib/ingestbench",
                    "ingestbench pipeline --port 0 --flush-rows 300 --flush-max-wait-s 3",
                    "ingestbench pipeline --host 0.0.0.0 --port 8080 --scenario quick"))
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to bind (default 8080; 0 picks a free one)")
    p.add_argument("--data", default=None, metavar="DIR", help="directory of the durable store (default: a new "
                   "temporary directory)")
    p.add_argument("--scenario", default=None, metavar="NAME|PATH", help="take the flush settings from this "
                   "scenario's [pipeline] table at its time scale, as `ingestbench run` would (default: none)")
    p.add_argument("--time-scale", type=float, default=None, metavar="FACTOR", help="with --scenario: the time "
                   "scale instead of the scenario's, as `ingestbench run --time-scale` (default: the scenario's)")
    p.add_argument("--flush-rows", type=int, default=None, help="flush when this many events are buffered "
                   "(default: the scenario's, else 3000)")
    seconds(p, "flush-max-wait", "flush when the oldest buffered event has waited this long (default: the "
            "scenario's, else 30)")
    p.add_argument("--max-body-bytes", type=int, default=None, help="largest request body (default 5 MiB)")
    p.add_argument("--max-batch", type=int, default=None, help="most events per batch request (default 1000)")
    p.add_argument("--run-id", default=None, help="a run_id label on every metric (default none)")
    internal(p, "--ready-file", "--plan")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> tuple[str, int, PipelineConfig, str | None]:
    """Where to listen, the pipeline's settings and the ready file: from a run's plan alone (``--plan``), or
    flags > environment > the scenario's ``[pipeline]`` table (scaled) > defaults."""
    if args.plan is not None:
        return _from_plan(args)
    host = resolve("host", args.host, defaults.PIPELINE_HOST, str)
    port = resolve("port", args.port, defaults.PIPELINE_PORT, int)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {port}")
    data = resolve("data", args.data, None, str) or tempfile.mkdtemp(prefix="ingestbench-pipeline-")
    scenario = scenario_pipeline(args.scenario, args.time_scale, os.environ)
    checks = {
        "flush-rows": (args.flush_rows, scenario.flush_rows if scenario else defaults.FLUSH_ROWS, positive(int)),
        "flush-max-wait-s": (args.flush_max_wait_s,
                             scenario.flush_max_wait_s if scenario else defaults.FLUSH_MAX_WAIT_S, positive(float)),
        "max-body-bytes": (args.max_body_bytes, defaults.MAX_BODY_BYTES, positive(int)),
        "max-batch": (args.max_batch, defaults.MAX_BATCH_EVENTS, positive(int)),
    }
    values = {}
    for key, (flag, default, conv) in checks.items():
        value = resolve(key, flag, default, conv)
        check_number(f"--{key}", value)
        values[key] = value
    config = PipelineConfig(
        data_dir=Path(data),
        flush_rows=int(values["flush-rows"]),
        flush_max_wait_s=float(values["flush-max-wait-s"]),
        write_key=os.environ.get(WRITE_KEY_ENV) or None,  # a secret: from the environment only, never a flag
        max_body_bytes=int(values["max-body-bytes"]),
        max_batch=int(values["max-batch"]),
        run_id=resolve("run-id", args.run_id, None, str) or None,
    )
    return host, port, config, args.ready_file


def _from_plan(args: argparse.Namespace) -> tuple[str, int, PipelineConfig, str | None]:
    given = [k for k, v in vars(args).items() if k not in ("plan", "func", "command", "log_level") and v is not None]
    if given:
        raise ConfigError(f"plan: --{given[0].replace('_', '-')} cannot be combined with --plan (the plan has it)")
    plan = read_plan(args.plan)
    p = plan.pipeline
    if p is None:
        raise ConfigError(f"plan: {args.plan} has no embedded pipeline (its target has a URL)")
    data = p.data_dir or tempfile.mkdtemp(prefix="ingestbench-pipeline-")
    config = PipelineConfig(data_dir=Path(data), flush_rows=p.flush_rows, flush_max_wait_s=p.flush_max_wait_s,
                            write_key=os.environ.get(WRITE_KEY_ENV) or None, run_id=plan.run_id or None,
                            tags=plan.tags)
    return p.host, p.port, config, p.ready_file


def run(args: argparse.Namespace) -> int:
    host, port, config, ready_file = _config(args)
    # The writer thread releases the GIL around every SQLite step; with the default 5 ms switch interval it
    # then waits up to 5 ms to get it back from a busy event loop, once per statement (a lock convoy).
    sys.setswitchinterval(0.0002)
    # Parsed request bodies are acyclic trees freed by reference counting; the cyclic collector would
    # otherwise run every few requests and walk every live object (measured: half the CPU of batch ingest).
    gc.set_threshold(100_000, 50, 100)
    try:
        import uvloop  # optional (not on Windows): imported only where it is installed

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        pass
    try:
        asyncio.run(_serve(host, port, config, ready_file))
    except OSError as exc:
        print(f"ingestbench pipeline: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(host: str, port: int, config: PipelineConfig, ready_file: str | None) -> None:
    app = PipelineApp(config).build()
    logging.getLogger("aiohttp.server").addFilter(ClientErrorsInOneLine())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.create_server((host, port), reuse_port=False)
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    gc.collect()
    gc.freeze()  # everything loaded so far lives for the whole run: keep it out of every collection
    bound = sock.getsockname()
    log.info("pipeline listening on http://%s:%d (%r)", bound[0], bound[1], config)
    if ready_file:
        Path(ready_file).write_text(f"{bound[0]}:{bound[1]}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("pipeline stopping")
    await runner.cleanup()
