"""``ingestbench probe``: run the TTA probe alone against a target, like Loki's canary.

Writes canaries, polls for them, records ``OUT/samples.jsonl`` as observations are decided, serves
Prometheus ``/metrics`` when ``--metrics-port`` is given. When ``--duration`` is over or on SIGINT/SIGTERM it
stops writing and drains until every canary is seen or past its loss horizon (a second signal skips the
drain: what is still pending is undecided, and the result invalid), then judges with the same judge as
``ingestbench run`` and prints the verdict table. Exit code: 0 pass, 1 an SLO failed, 2 bad usage or config,
3 invalid (too few samples, e.g. because the target was unreachable; undecided canaries; an https certificate
that does not verify, found by a TLS handshake before the first canary).

    ingestbench probe --url http://127.0.0.1:8080 --declared-rate-eps 10 --duration 120 --metrics-port 9465
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from rich.console import Console

from ingestbench.cli.tls import add_tls_flags, tls_of
from ingestbench.orchestrate.net import tls_problem
from ingestbench.orchestrate.probe_process import footer, run_probe
from ingestbench.orchestrate.targeting import TargetFlags, reader_plan
from ingestbench.records import defaults
from ingestbench.records.config import ConfigError, check_number, positive, resolve, target_options
from ingestbench.records.load import LARGEST, LARGEST_TIME_SCALE
from ingestbench.records.plan import ProbePlan, TargetPlan, read_plan
from ingestbench.records.slo_file import load_slo
from ingestbench.results.table import print_verdicts
from ingestbench.targets.roles import make_roles


def register(sub: Any) -> None:
    p = sub.add_parser("probe", help="run the time-to-availability probe alone against a target",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default=None, help="target kind (default pipeline)")
    p.add_argument("--url", default=None, help="target base URL (env INGESTBENCH_URL)")
    p.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>); secrets come from the "
                   "environment variables the target names, never from options")
    add_reader_flags(p, default="env INGESTBENCH_READER", url_default="env INGESTBENCH_READER_URL")
    add_tls_flags(p, scenario=False)
    p.add_argument("--duration", type=float, default=None, help="seconds to probe (default: until SIGINT)")
    p.add_argument("--declared-rate-eps", type=float, default=None,
                   help="ingest rate the target is known to run at, for tiering")
    p.add_argument("--rate-timeline", default=None, help="load generator rate timeline (JSON lines) to tier by")
    p.add_argument("--rate-query", default=None, help="PromQL giving the achieved ingest rate in events/s")
    p.add_argument("--prometheus-url", default=None, help="Prometheus base URL for --rate-query")
    p.add_argument("--slo", default=None, help="SLO file (default: the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, help="scale SLO targets and warm-ups (default 1)")
    p.add_argument("--out", default=None, help="directory for samples.jsonl (default results/probe-<time>)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port (0: any free)")
    p.add_argument("--metrics-host", default=None, help="address for /metrics (default 127.0.0.1)")
    p.add_argument("--run-id", default=None, help="a run_id label on every metric (default none), to select "
                   "this probe on the dashboards")
    p.add_argument("--interval", type=float, default=None, help="seconds between canaries (default 1)")
    p.add_argument("--poll-interval", type=float, default=None, help="seconds between look-ups (default 0.25)")
    p.add_argument("--lost-after", type=float, default=None, help="seconds until a canary is lost, for every "
                   "tier (default: each tier's lost_after from the SLO, 10x its target unless set, time-scaled)")
    p.add_argument("--drain", type=float, default=None, help="at most this many seconds of drain at the end "
                   "(default: until every canary is decided; canaries still pending after a cap are undecided)")
    p.add_argument("--batch-size", type=int, default=None, help="events per canary request: the canary rides "
                   "in a batch of ordinary events, as the load sends them (default 1: the single-event endpoint)")
    p.add_argument("--expect-tier", action="append", default=None, help="a tier that must be judged (the run "
                   "is invalid without it); repeat for several")
    p.add_argument("--timeout", type=float, default=None, help="per-request timeout seconds (default 5)")
    p.add_argument("--no-transactional", action="store_true", help="skip the profile write/read check")
    p.add_argument("--seed", type=int, default=None, help="seed for canary events (default: random)")
    p.add_argument("--plan", default=None, help="a run's plan.json: every setting from its probe part (the "
                   "other options are then not allowed)")
    p.set_defaults(func=run)


def plan_from_args(args: argparse.Namespace) -> ProbePlan:
    """Flags > environment > defaults, validated; a bad value names its option (exit 2)."""
    pos_f = positive(float)
    url = resolve("url", args.url, None, str)
    if not url:
        raise ConfigError("url: required (--url or INGESTBENCH_URL)")
    slo_path = resolve("slo", args.slo, None, str)
    time_scale = resolve("time-scale", args.time_scale, defaults.TIME_SCALE, pos_f)
    check_number("time-scale:", time_scale, maximum=LARGEST_TIME_SCALE)
    lost_after_s = resolve("lost-after", args.lost_after, None, pos_f)
    plan = ProbePlan(
        target=resolve("target", args.target, "pipeline", str),
        url=url,
        slo_path=slo_path,
        slo=load_slo(slo_path, time_scale=time_scale).with_loss_horizon(lost_after_s),
        time_scale=time_scale,
        target_options=target_options(args.target_opt, environ=os.environ),
        reader=reader_plan(TargetFlags.of(args), os.environ),
        tls=tls_of(args),
        duration_s=resolve("duration", args.duration, None, pos_f),
        declared_rate_eps=resolve("declared-rate-eps", args.declared_rate_eps, None, float),
        rate_timeline=resolve("rate-timeline", args.rate_timeline, None, str),
        rate_query=resolve("rate-query", args.rate_query, None, str),
        prometheus_url=resolve("prometheus-url", args.prometheus_url, None, str),
        out=resolve("out", args.out, None, str) or f"results/probe-{time.strftime('%Y%m%d-%H%M%S')}",
        metrics_port=resolve("metrics-port", args.metrics_port, None, int),
        metrics_host=resolve("metrics-host", args.metrics_host, defaults.METRICS_HOST, str),
        run_id=resolve("run-id", args.run_id, None, str) or None,
        interval_s=resolve("interval", args.interval, defaults.CANARY_INTERVAL_S, pos_f),
        poll_interval_s=resolve("poll-interval", args.poll_interval, defaults.POLL_INTERVAL_S, pos_f),
        lost_after_s=lost_after_s,
        drain_s=resolve("drain", args.drain, None, float),
        batch_size=resolve("batch-size", args.batch_size, defaults.CANARY_BATCH_SIZE, positive(int)),
        expected_tiers=tuple(args.expect_tier or ()),
        timeout_s=resolve("timeout", args.timeout, defaults.REQUEST_TIMEOUT_S, pos_f),
        seed=resolve("seed", args.seed, None, int),
        transactional=not args.no_transactional,
    )
    for key in ("duration_s", "interval_s", "poll_interval_s", "lost_after_s", "timeout_s"):
        if getattr(plan, key) is not None:
            check_number(key.removesuffix("_s").replace("_", "-") + ":", getattr(plan, key), maximum=LARGEST)
    for key in ("drain_s", "declared_rate_eps"):
        if getattr(plan, key) is not None:
            check_number(key.removesuffix("_s").replace("_", "-") + ":", getattr(plan, key), allow_minimum=True,
                         maximum=LARGEST)
    if plan.batch_size < 1:
        raise ConfigError(f"batch-size: must be >= 1, got {plan.batch_size}")
    if plan.metrics_port is not None and not 0 <= plan.metrics_port <= 65535:
        raise ConfigError(f"metrics-port: must be 0..65535, got {plan.metrics_port}")
    sources = [k for k in ("declared_rate_eps", "rate_timeline", "rate_query") if getattr(plan, k) is not None]
    if len(sources) != 1:
        raise ConfigError("declared-rate-eps: give exactly one of --declared-rate-eps, --rate-timeline, "
                          f"--rate-query to tier canaries (got {len(sources)})")
    if plan.rate_query is not None and not plan.prometheus_url:
        raise ConfigError("prometheus-url: required with --rate-query")
    return plan


def add_reader_flags(p: argparse.ArgumentParser, *, default: str, url_default: str | None = None) -> None:
    """``--reader``, ``--reader-url`` and ``--reader-opt`` (read by ``reader_plan``); ``default`` says where
    the reader comes from without them."""
    p.add_argument("--reader", default=None, help=f"look canaries up through this other target kind (write "
                   f"here, read there; {default})")
    p.add_argument("--reader-url", default=None,
                   help="the reader's base URL" + (f" ({url_default})" if url_default else ""))
    p.add_argument("--reader-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="an option of the reader (repeatable; env INGESTBENCH_READER_OPT_<KEY>)")


def _plan(args: argparse.Namespace) -> ProbePlan:
    if args.plan is None:
        return plan_from_args(args)
    given = [k for k, v in vars(args).items() if k not in ("plan", "func", "command", "log_level")
             and v not in (None, False)]
    if given:
        raise ConfigError(f"plan: --{given[0].replace('_', '-')} cannot be combined with --plan (the plan has it)")
    return read_plan(args.plan).probe


def run(args: argparse.Namespace) -> int:
    plan = _plan(args)
    slo = plan.slo
    unknown = [t for t in plan.expected_tiers if t not in {tier.name for tier in slo.tiers}]
    if unknown:
        raise ConfigError(f"expect-tier: no tier {unknown[0]!r} in the SLO")
    roles = make_roles(TargetPlan(plan.target, plan.url, plan.target_options, reader=plan.reader), os.environ)
    problem = tls_problem(plan.url, plan.tls, plan.reader.url if plan.reader else None)
    if problem:  # before the first canary: no write key goes to a server whose certificate is not trusted
        print(f"ingestbench: {problem}; nothing was sent (--ca-file to trust its CA, or --insecure)", file=sys.stderr)
        return 3
    record, report = asyncio.run(run_probe(plan, roles))
    console = Console() if sys.stdout.isatty() else Console(width=200)
    print_verdicts(console, record, footer=footer(plan, report))
    return record.exit_code
