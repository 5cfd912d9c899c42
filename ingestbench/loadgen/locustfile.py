"""Locust entry point: paced, open-model ingest load from a scenario file (or a run's plan).

    locust -f loadgen/locustfile.py --host http://127.0.0.1:8080 --headless \\
        --scenario quick --rates-out results/rates.jsonl [--time-scale 0.1] [--processes 2]

Options (flag > env var > default; this is the edge, the only place that reads the environment):

``--scenario NAME|PATH`` (``INGESTBENCH_SCENARIO``, default ``quick``), ``--rates-out PATH``
(``INGESTBENCH_RATES_OUT``; JSON lines, format in :mod:`ingestbench.loadgen.merger`), ``--time-scale F``
(``INGESTBENCH_TIME_SCALE``, default the scenario's ``time_scale``, else 1; scales step durations, never
rates), ``--target NAME``
(``INGESTBENCH_TARGET``, default ``pipeline``), ``--target-opt KEY=VALUE`` (repeatable;
``INGESTBENCH_TARGET_<KEY>``), ``--plan PATH`` (a run's ``plan.json``: its load, time scale, target and run id
instead of the options above), ``--metrics-port`` (``INGESTBENCH_LOADGEN_METRICS_PORT``; Prometheus, 0 = off;
the web UI also serves ``/ingestbench/metrics``) on ``--metrics-host`` (``INGESTBENCH_LOADGEN_METRICS_HOST``,
default 127.0.0.1), ``--run-id`` (``INGESTBENCH_RUN_ID``: a ``run_id`` label on every metric), ``--ca-file PATH``
(``INGESTBENCH_CA_FILE``, else the scenario's ``[target] ca_file``: CA certificates trusted besides the system's)
and ``--insecure`` (``INGESTBENCH_INSECURE``, else ``[target] tls_verify = false``: https without verifying
certificates or host names; verified by default).
A target's secrets come from the
environment variables it names (the pipeline's write key: ``INGESTBENCH_WRITE_KEY``), never from options.

The user count comes from the shape (Little's law from the rate and measured latency), so ``-u``/``-r`` are
ignored. When the schedule ends the test stops by itself; the exit code is 3 if any step was invalid. In the
web UI, pressing start again runs the schedule again; its lines are appended to the same rates file.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from locust import LoadTestShape, events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from prometheus_client import CollectorRegistry, start_http_server

from ingestbench.loadgen.locust_stats import BulkStats
from ingestbench.loadgen.master import MasterSide
from ingestbench.loadgen.merger import TimelineSink
from ingestbench.loadgen.metrics import LoadgenMetrics
from ingestbench.loadgen.rates_out import RatesWriter
from ingestbench.loadgen.registry import TargetRegistry
from ingestbench.loadgen.users import IngestUser
from ingestbench.loadgen.worker import HELLO_MESSAGE, LEAVE_MESSAGE, PLAN_MESSAGE, STATS_MESSAGE, WorkerSide
from ingestbench.records.config import ConfigError, target_options
from ingestbench.records.exposition import render, run_registry
from ingestbench.records.plan import read_plan
from ingestbench.records.process import die_with_parent
from ingestbench.records.scenario import load_scenario
from ingestbench.records.tls import INSECURE_NOTE, TlsPlan, tls_settings

__all__ = ["IngestUser", "ScheduleShape"]

log = logging.getLogger("ingestbench.loadgen")

# Users Locust stops (moved to a joining worker, or at the end) finish the request they hold, for up to this
# long, unless ``--stop-timeout`` says otherwise: killed, a user would lose a response in flight (the events
# sent, their acknowledgement never counted). A master sends it on to its workers with each spawn.
USER_STOP_TIMEOUT_S = 2.0


class ScheduleShape(LoadTestShape):
    """Delegates to the run's :class:`~ingestbench.loadgen.master.MasterSide` (attached at init)."""

    master: MasterSide | None = None

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def tick(self) -> tuple[int, float] | None:
        return None if self.master is None else self.master.tick()


def _options(parser: Any) -> None:
    group = parser  # Locust lists these under "Custom options"; is_secret only works on the parser
    group.add_argument("--scenario", default="quick", env_var="INGESTBENCH_SCENARIO",
                       help="scenario name (scenarios/<name>.toml) or path to a TOML file")
    group.add_argument("--rates-out", default="", env_var="INGESTBENCH_RATES_OUT",
                       help="write the per-second rate timeline (JSON lines) here")
    group.add_argument("--time-scale", type=float, default=None, env_var="INGESTBENCH_TIME_SCALE",
                       help="multiply step durations (never rates) by this factor (default: the scenario's "
                            "time_scale, else 1)")
    group.add_argument("--target", default="pipeline", env_var="INGESTBENCH_TARGET",
                       help="ingest target kind (default pipeline)")
    group.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                       help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>)")
    group.add_argument("--plan", default="", env_var="INGESTBENCH_PLAN",
                       help="a run's plan.json: load, time scale and target from it")
    group.add_argument("--metrics-port", type=int, default=0, env_var="INGESTBENCH_LOADGEN_METRICS_PORT",
                       help="serve Prometheus metrics on METRICS_HOST:PORT (0 = off)")
    group.add_argument("--metrics-host", default="127.0.0.1", env_var="INGESTBENCH_LOADGEN_METRICS_HOST",
                       help="address for --metrics-port (default 127.0.0.1)")
    group.add_argument("--run-id", default="", env_var="INGESTBENCH_RUN_ID",
                       help="a run_id label on every metric (a plan's run id wins; default none)")
    group.add_argument("--ca-file", default=None, env_var="INGESTBENCH_CA_FILE",
                       help="trust the CA certificates in this PEM file besides the system's (https targets)")
    group.add_argument("--insecure", action="store_true", default=False, env_var="INGESTBENCH_INSECURE",
                       help="https without verifying certificates or host names: the write key is exposed")


def _init(environment: Any, **_kwargs: Any) -> None:
    runner = environment.runner
    opts = environment.parsed_options
    if runner is None or opts is None:
        return
    registry = TargetRegistry.default(environ=os.environ)
    if opts.plan:
        try:
            _from_plan(environment, opts)
        except ConfigError as exc:
            log.error("ingestbench: error: %s", exc)
            sys.exit(2)
    if isinstance(runner, WorkerRunner) and getattr(opts, "processes", None):
        # A worker forked by ``--processes`` outlived a master killed with SIGKILL (it waits a minute for the
        # master's heartbeat, and hangs on SIGTERM trying to say goodbye): it dies with its master instead.
        # Nothing of its share is lost that the master could still have merged.
        die_with_parent(signal.SIGKILL)
    if isinstance(runner, LocalRunner | WorkerRunner):
        try:
            environment.ingestbench_tls = _tls(opts)
        except ConfigError as exc:
            log.error("ingestbench: error: %s", exc)
            sys.exit(2)
        if not environment.ingestbench_tls.verify:
            log.warning("ingestbench: %s", INSECURE_NOTE)
        side = WorkerSide(host=environment.host or "http://127.0.0.1", registry=registry,
                          send_message=lambda kind, data: runner.send_message(kind, data))
        environment.ingestbench_worker = side
        stats = environment.ingestbench_stats = BulkStats(environment.stats)
        runner.register_message(PLAN_MESSAGE, lambda environment, msg, **_: side.on_plan(msg.data))

        def on_test_stop(**_: Any) -> None:
            side.stop()
            stats.flush()

        environment.events.test_stop.add_listener(on_test_stop)
        if isinstance(runner, WorkerRunner):
            # Quitting mid-run (SIGTERM): hand the share over and send the last report *before* Locust tells
            # the master this worker quit (its own quitting listener was added earlier, and listeners are
            # called last-added first), while the users still run.
            environment.events.quitting.add_listener(lambda **_: side.leave())
            runner.send_message(HELLO_MESSAGE, {})
    if isinstance(runner, LocalRunner | MasterRunner):
        try:
            _init_master(environment, runner, opts, registry)
        except ConfigError as exc:  # bad usage or config: one line, exit 2
            log.error("ingestbench: error: %s", exc)
            sys.exit(2)


def _from_plan(environment: Any, opts: Any) -> None:
    """A run's child: the target's address comes from the plan, as everything else does (its command line says
    only ``--plan`` besides Locust's own words; the plan wins over any option or variable)."""
    plan = read_plan(opts.plan)
    if plan.target.url:
        environment.host = plan.target.url
        for user_class in environment.user_classes:
            user_class.host = plan.target.url


def _tls(opts: Any) -> TlsPlan:
    """How the users' https connections trust the target: the plan's setting, else the options, else the
    scenario's ``[target]`` keys; verified against the system CAs by default."""
    if opts.plan:
        return read_plan(opts.plan).target.tls
    if opts.insecure:
        return TlsPlan(verify=False)
    if opts.ca_file:
        return tls_settings(ca_file=opts.ca_file, verify=None, what="--ca-file")
    scenario = load_scenario(opts.scenario)
    table = scenario.target_table
    return tls_settings(ca_file=table.get("ca_file"), verify=table.get("tls_verify"), what="target.ca_file",
                        base=scenario.path.parent)


def _init_master(environment: Any, runner: Any, opts: Any, registry: TargetRegistry) -> None:
    if not environment.stop_timeout:
        environment.stop_timeout = USER_STOP_TIMEOUT_S
    rates_out, metrics_port = opts.rates_out, opts.metrics_port
    if opts.plan:  # a run's plan: durations already scaled, the target as the run resolved it
        plan = read_plan(opts.plan)
        name, load, time_scale = plan.scenario_name, plan.load, 1.0
        target, target_opts, run_id = plan.target.kind, plan.target.options, plan.run_id or opts.run_id
        rates_out, metrics_port = plan.rates_out or "", plan.generator_metrics_port or 0
    else:
        scenario = load_scenario(opts.scenario)
        name, load = scenario.name, scenario.load
        time_scale = scenario.time_scale if opts.time_scale is None else opts.time_scale
        target, run_id = opts.target, opts.run_id
        target_opts = target_options(opts.target_opt, environ=os.environ, scenario=scenario.target_table)
        if not time_scale > 0:
            raise ConfigError(f"--time-scale must be > 0, got {time_scale}")
    registry.create(target, environment.host or "http://127.0.0.1", target_opts)  # a bad option: exit 2 now
    prom = CollectorRegistry()
    metrics = LoadgenMetrics(prom, run_id=run_id, scenario=name, target=target)
    exposed = run_registry(prom, {"run_id": run_id, "target": target})
    sinks: list[TimelineSink] = [metrics]
    writer = RatesWriter(rates_out) if rates_out else None
    if writer is not None:
        sinks.append(writer)

    def workers() -> list[str]:
        if isinstance(runner, MasterRunner):
            return [c.id for c in runner.clients.ready + runner.clients.spawning + runner.clients.running]
        return ["local"]

    def set_exit_code(code: int) -> None:
        environment.process_exit_code = code

    master = MasterSide(name=name, load=load, time_scale=time_scale, target=target, target_options=target_opts,
                        sinks=sinks, on_start=metrics.started,
                        workers=workers, set_exit_code=set_exit_code,
                        send_plan=lambda wid, data: runner.send_message(PLAN_MESSAGE, data, client_id=wid))
    runner.register_message(STATS_MESSAGE, lambda environment, msg, **_: master.on_stats(msg.node_id, msg.data))
    runner.register_message(HELLO_MESSAGE, lambda environment, msg, **_: master.on_hello(msg.node_id))
    runner.register_message(LEAVE_MESSAGE, lambda environment, msg, **_: master.on_leave(msg.node_id, msg.data))

    def on_quit(**_: Any) -> None:
        master.finish()
        if writer is not None:
            writer.close()

    environment.events.test_stop.add_listener(lambda **_: master.finish())
    environment.events.quitting.add_listener(on_quit)
    if environment.shape_class is None:
        environment.shape_class = ScheduleShape()
        environment.shape_class.runner = runner
    environment.shape_class.master = master
    if metrics_port:
        start_http_server(metrics_port, addr=opts.metrics_host, registry=exposed)
    if environment.web_ui is not None:
        def web_metrics() -> tuple[bytes, int, dict[str, str]]:
            body, content_type = render(exposed, None)
            return body, 200, {"Content-Type": content_type}

        environment.web_ui.app.add_url_rule("/ingestbench/metrics", "ingestbench_metrics", web_metrics)


# Registered here rather than with decorators: Locust's event hooks are untyped, and a decorator would make the
# functions untyped too. Locust fires both events after it has loaded this file.
events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
