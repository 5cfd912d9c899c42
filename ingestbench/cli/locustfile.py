"""Locust entry point: paced, open-model ingest load from a run's plan, or from a scenario resolved as ``run`` does.

    locust -f ingestbench/cli/locustfile.py --host http://127.0.0.1:8080 --headless \\
        --scenario quick --rates-out results/rates.jsonl [--time-scale 0.1] [--processes 2]

Options (flag > env var > scenario > default, resolved by the same function as ``ingestbench run``):
``--scenario NAME|PATH`` (``INGESTBENCH_SCENARIO``, default ``quick``), ``--rates-out PATH``
(``INGESTBENCH_RATES_OUT``; JSON lines, format in :mod:`ingestbench.loadgen.merger`), ``--time-scale F``
(``INGESTBENCH_TIME_SCALE``, default the scenario's ``time_scale``, else 1; scales step durations, never
rates), ``--target NAME`` (``INGESTBENCH_TARGET``, default the scenario's, else ``pipeline``), ``--target-opt
KEY=VALUE`` (repeatable; ``INGESTBENCH_TARGET_<KEY>``), ``--metrics-port`` (``INGESTBENCH_LOADGEN_METRICS_PORT``;
Prometheus, 0 = off; the web UI also serves ``/ingestbench/metrics``) on ``--metrics-host``
(``INGESTBENCH_LOADGEN_METRICS_HOST``, default 127.0.0.1) and ``--run-id`` (``INGESTBENCH_RUN_ID``: a ``run_id``
label on every metric), ``--ca-file PATH`` (``INGESTBENCH_CA_FILE``, else the scenario's ``[target] ca_file``:
CA certificates trusted besides the system's) and ``--insecure`` (``INGESTBENCH_INSECURE``, else ``[target]
tls_verify = false``: https without verifying certificates or host names; verified by default). ``--plan PATH``
is how ``ingestbench run`` starts it: a run's ``plan.json`` says everything, and the options above are then not
allowed. A target's secrets come from the environment variables it names (the pipeline's write key:
``INGESTBENCH_WRITE_KEY``), never from options. Locust reads ``--help`` before it loads this file, so ``locust
--help`` does not list these options. The user count comes from the shape (Little's law from the rate and
measured latency), so ``-u``/``-r`` are ignored. When the schedule ends the test stops by itself; the exit code
is 3 if any step was invalid. In the web UI, pressing start again runs the schedule again; its lines are appended
to the same rates file.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from locust import events
from locust.runners import LocalRunner, MasterRunner

from ingestbench.loadgen.locust_hooks import ScheduleShape, attach
from ingestbench.loadgen.users import IngestUser
from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.orchestrate.targeting import TargetFlags
from ingestbench.records.config import ConfigError
from ingestbench.records.plan import Plan, read_plan
from ingestbench.records.tls import TlsPlan, resolve_tls

__all__ = ["IngestUser", "ScheduleShape"]

# the options a run's plan decides: with --plan, none of them may be given
_PLANNED = ("scenario", "rates_out", "time_scale", "target", "target_opt", "metrics_port", "run_id", "ca_file",
            "insecure")


def _options(parser: Any) -> None:
    group = parser  # Locust lists these under "Custom options"; is_secret only works on the parser
    group.add_argument("--scenario", default=None, env_var="INGESTBENCH_SCENARIO",
                       help="scenario name (scenarios/<name>.toml) or path to a TOML file (default quick)")
    group.add_argument("--rates-out", default=None, env_var="INGESTBENCH_RATES_OUT",
                       help="write the per-second rate timeline (JSON lines) here")
    group.add_argument("--time-scale", type=float, default=None, env_var="INGESTBENCH_TIME_SCALE",
                       help="multiply step durations (never rates) by this factor (default: the scenario's "
                            "time_scale, else 1)")
    group.add_argument("--target", default=None, env_var="INGESTBENCH_TARGET",
                       help="ingest target kind (default: the scenario's, else pipeline)")
    group.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                       help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>)")
    group.add_argument("--plan", default="", env_var="INGESTBENCH_PLAN",
                       help="a run's plan.json: everything from it (the options above are then not allowed)")
    group.add_argument("--metrics-port", type=int, default=None, env_var="INGESTBENCH_LOADGEN_METRICS_PORT",
                       help="serve Prometheus metrics on METRICS_HOST:PORT (0 = off)")
    group.add_argument("--metrics-host", default="127.0.0.1", env_var="INGESTBENCH_LOADGEN_METRICS_HOST",
                       help="address for --metrics-port (default 127.0.0.1)")
    group.add_argument("--run-id", default=None, env_var="INGESTBENCH_RUN_ID",
                       help="a run_id label on every metric (default none)")
    group.add_argument("--ca-file", default=None, env_var="INGESTBENCH_CA_FILE",
                       help="trust the CA certificates in this PEM file besides the system's (https targets)")
    group.add_argument("--insecure", action="store_true", default=None, env_var="INGESTBENCH_INSECURE",
                       help="https without verifying certificates or host names: the write key is exposed")


def plan_of(opts: Any, host: str | None, *, coordinates: bool) -> Plan | None:
    """The plan this Locust process runs: a run's ``--plan``, or (in the process that coordinates the load) the
    one ``ingestbench run`` would resolve from the same scenario and options, aimed at ``--host``. A worker of
    a distributed test without a plan takes its load from its master (None)."""
    if opts.plan:
        given = [k for k in _PLANNED if getattr(opts, k, None) not in (None, "")]
        if given:
            raise ConfigError(f"plan: --{given[0].replace('_', '-')} cannot be combined with --plan (the plan "
                              "has it)")
        return read_plan(opts.plan)
    if not coordinates:
        return None
    flags = RunFlags(scenario=opts.scenario, time_scale=opts.time_scale,
                     targets=TargetFlags(target=opts.target, url=host or "http://127.0.0.1",
                                         target_opt=opts.target_opt, ca_file=opts.ca_file, insecure=opts.insecure))
    plan = resolve_run(flags, os.environ).plan
    return replace(plan, run_id=opts.run_id or "", rates_out=opts.rates_out or None,
                   generator_metrics_port=opts.metrics_port or None)


def own_tls(opts: Any) -> TlsPlan:
    """How a worker without a plan trusts https targets: its own ``--ca-file``/``--insecure`` (its master's
    scenario is on another machine); verified against the system CAs by default."""
    return resolve_tls(opts.ca_file, opts.insecure, environ=os.environ)


def _init(environment: Any, **_kwargs: Any) -> None:
    runner, opts = environment.runner, environment.parsed_options
    if runner is None or opts is None:
        return
    coordinates = isinstance(runner, LocalRunner | MasterRunner)
    attach(environment, lambda: plan_of(opts, environment.host, coordinates=coordinates),
           own_tls=lambda: own_tls(opts), metrics_host=opts.metrics_host)


# Registered here rather than with decorators: Locust's event hooks are untyped, and a decorator would make the
# functions untyped too. Locust fires both events after it has loaded this file.
events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
