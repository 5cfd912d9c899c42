"""The generator inside Locust's processes, given a resolved plan: the worker side in every process that sends,
the master side (schedule, shares, rate timeline, metrics) in the one that coordinates.

The Locust entry point (:mod:`ingestbench.cli.locustfile`) parses its options, resolves the plan and calls
:func:`attach` from Locust's ``init`` event. Nothing here reads a flag or the environment, and nothing scales a
duration: the plan's are scaled already.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust import LoadTestShape
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from prometheus_client import CollectorRegistry, start_http_server

from ingestbench.loadgen.locust_stats import BulkStats
from ingestbench.loadgen.master import MasterSide
from ingestbench.loadgen.merger import TimelineSink
from ingestbench.loadgen.metrics import LoadgenMetrics
from ingestbench.loadgen.rates_out import RatesWriter
from ingestbench.loadgen.registry import TargetRegistry
from ingestbench.loadgen.worker import HELLO_MESSAGE, LEAVE_MESSAGE, PLAN_MESSAGE, STATS_MESSAGE, WorkerSide
from ingestbench.records.config import ConfigError
from ingestbench.records.exposition import render, run_registry
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.plan import Plan
from ingestbench.records.process import die_with_parent
from ingestbench.records.tls import INSECURE_NOTE, TlsPlan

log = logging.getLogger("ingestbench.loadgen")

# Users Locust stops (moved to a joining worker, or at the end) finish the request they hold, for up to this
# long, unless ``--stop-timeout`` says otherwise: killed, a user would lose a response in flight (the events
# sent, their acknowledgement never counted). A master sends it on to its workers with each spawn.
USER_STOP_TIMEOUT_S = 2.0
WORKERS_REPORT_S = 0.2
# With workers started elsewhere the run starts its probe once they are all there, which is when Locust starts
# the schedule: the schedule starts this much later, so that the probe's start (a second or two of CPU) is over
# before the first request is due and does not take the CPU a small machine's workers need then.
WORKERS_LEAD_S = 3.0


class ScheduleShape(LoadTestShape):
    """Delegates to the run's :class:`~ingestbench.loadgen.master.MasterSide` (attached at init)."""

    master: MasterSide | None = None

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def tick(self) -> tuple[int, float] | None:
        return None if self.master is None else self.master.tick()


def attach(environment: Any, plan_of: Callable[[], Plan | None], *, own_tls: Callable[[], TlsPlan],
           metrics_host: str) -> None:
    """Set up this Locust process for the plan ``plan_of`` returns (called once; None: a worker that takes its
    load from its master, and trusts https targets as ``own_tls`` says). A bad plan or option exits 2 with one
    line."""
    runner = environment.runner
    try:
        plan = plan_of()
        tls = environment.ingestbench_tls = plan.target.tls if plan is not None else own_tls()
        if not tls.verify:
            log.warning("ingestbench: %s", INSECURE_NOTE)
        if plan is not None and plan.target.url:
            environment.host = plan.target.url
            for user_class in environment.user_classes:
                user_class.host = plan.target.url
        registry = TargetRegistry.default(environ=os.environ)
        if isinstance(runner, WorkerRunner) and getattr(environment.parsed_options, "processes", None):
            # A worker forked by ``--processes`` outlived a master killed with SIGKILL (it waits a minute for
            # the master's heartbeat, and hangs on SIGTERM trying to say goodbye): it dies with its master
            # instead. Nothing of its share is lost that the master could still have merged.
            die_with_parent(signal.SIGKILL)
        if isinstance(runner, LocalRunner | WorkerRunner):
            _attach_worker(environment, runner, registry)
        if isinstance(runner, LocalRunner | MasterRunner):
            if plan is None:
                raise ConfigError("plan: the generator's master needs a plan")
            _attach_master(environment, runner, plan, registry, metrics_host)
    except ConfigError as exc:  # bad usage or config: one line, exit 2
        log.error("ingestbench: error: %s", exc)
        sys.exit(2)


def _attach_worker(environment: Any, runner: Any, registry: TargetRegistry) -> None:
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
        opts = environment.parsed_options
        log.info("ingestbench: worker %s takes its load from the run at %s:%s", runner.client_id,
                 getattr(opts, "master_host", "?"), getattr(opts, "master_port", "?"))
        runner.send_message(HELLO_MESSAGE, {})


def _attach_master(environment: Any, runner: Any, plan: Plan, registry: TargetRegistry, metrics_host: str) -> None:
    if not environment.stop_timeout:
        environment.stop_timeout = USER_STOP_TIMEOUT_S
    target, run_id = plan.target, plan.run_id
    registry.create(target.kind, environment.host or "http://127.0.0.1", target.options)  # a bad option: exit 2
    prom = CollectorRegistry()
    metrics = LoadgenMetrics(prom, run_id=run_id, scenario=plan.scenario_name, target=target.kind,
                             lag_bound_s=plan.load.lag_bound_s)
    exposed = run_registry(prom, {"run_id": run_id, "target": target.kind, **plan.tags})
    sinks: list[TimelineSink] = [metrics]
    writer = RatesWriter(plan.rates_out) if plan.rates_out else None
    if writer is not None:
        sinks.append(writer)

    def workers() -> list[str]:
        if isinstance(runner, MasterRunner):
            return [c.id for c in runner.clients.ready + runner.clients.spawning + runner.clients.running]
        return ["local"]

    def set_exit_code(code: int) -> None:
        environment.process_exit_code = code

    master = MasterSide(name=plan.scenario_name, load=plan.load, time_scale=1.0, target=target.kind,
                        target_options=target.options, sinks=sinks, on_start=metrics.started,
                        on_sharing=lambda count, lost: metrics.sharing(count, lost=lost), target_url=target.url,
                        lead_s=WORKERS_LEAD_S if plan.workers else 1.0,
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
    if isinstance(runner, MasterRunner) and plan.generators_file:
        gevent.spawn(_report_workers, runner, plan.workers, Path(plan.generators_file))
    if plan.generator_metrics_port:
        start_http_server(plan.generator_metrics_port, addr=metrics_host, registry=exposed)
    if environment.web_ui is not None:
        def web_metrics() -> tuple[bytes, int, dict[str, str]]:
            body, content_type = render(exposed, None)
            return body, 200, {"Content-Type": content_type}

        environment.web_ui.app.add_url_rule("/ingestbench/metrics", "ingestbench_metrics", web_metrics)


def _report_workers(runner: Any, expected: int, path: Path) -> None:
    """While the run waits for its workers (and after), keep ``path`` saying which are connected, so the run
    can start its probe once all are there, or name how many came."""
    last: list[str] | None = None
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        ready = sorted(c.id for c in runner.clients.ready + runner.clients.spawning + runner.clients.running)
        if ready != last:
            write_json_atomic(path, {"expected": expected, "connected": ready})
            last = ready
        gevent.sleep(WORKERS_REPORT_S)
