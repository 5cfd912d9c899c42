"""``ingestbench probe``: the time-to-availability probe alone against a target (what it does, for a user:
:data:`DESCRIPTION`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from ingestbench.cli.connect import connect_and_print
from ingestbench.cli.help import command, internal, kinds, seconds
from ingestbench.cli.tls import add_tls_flags, tls_of
from ingestbench.orchestrate.net import tls_problem
from ingestbench.orchestrate.probe_process import footer, needs_reader, run_probe
from ingestbench.orchestrate.targeting import TargetFlags, check_secrets, reader_plan
from ingestbench.records import defaults
from ingestbench.records.config import (
    ConfigError,
    check_number,
    check_run_id,
    parse_tags,
    positive,
    resolve,
    target_options,
)
from ingestbench.records.load import LARGEST, LARGEST_TIME_SCALE
from ingestbench.records.plan import ProbePlan, TargetPlan, read_plan
from ingestbench.records.slo_file import load_slo
from ingestbench.results.rundir import point_latest
from ingestbench.results.table import print_verdicts
from ingestbench.targets.roles import make_roles

DESCRIPTION = """Run the time-to-availability probe alone against a target, like Loki's canary: write uniquely marked
canary events, look each up on the target's query side until it is there, and judge the times against the SLO's
tiers. Canaries are tiered by the ingest rate around them: give exactly one of --declared-rate-eps, --rate-
timeline or --rate-query. Results go to <out>/<run-id>/ (samples.jsonl, probe.json, slo.toml; <out>/latest points
at them); `ingestbench gate DIR` on them later gives the same verdicts. The probe stops at --duration-s or on
Ctrl-C, then drains until every canary is decided (a second Ctrl-C skips the drain)."""


def register(sub: Any) -> None:
    p = command(sub, "probe", summary="run the time-to-availability probe alone against a target",
                description=DESCRIPTION, examples=(
                    "ingestbench probe --url http://127.0.0.1:8080 --declared-rate-eps 10 --duration-s 120",
                    "ingestbench probe --target clickhouse --url http://127.0.0.1:8123 --rate-query "
                    "'sum(rate(events_total[1m]))' --prometheus-url http://127.0.0.1:9090 --metrics-port 9465"))
    p.add_argument("--target", default=None, metavar="KIND", help=f"target kind: {kinds()} (default pipeline)")
    p.add_argument("--url", default=None, help="target base URL (env INGESTBENCH_URL)")
    p.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>); secrets come from the "
                   "environment variables the target names, never from options (`ingestbench targets` lists both)")
    add_reader_flags(p, default="env INGESTBENCH_READER", url_default="env INGESTBENCH_READER_URL")
    add_tls_flags(p, scenario=False)
    seconds(p, "duration", "how long to write canaries (default: until Ctrl-C)")
    p.add_argument("--declared-rate-eps", type=float, default=None, metavar="EVENTS_PER_S",
                   help="the ingest rate the target is known to run at, in events/s, to tier canaries by")
    p.add_argument("--rate-timeline", default=None, metavar="PATH",
                   help="a load generator's rate timeline (rates.jsonl) to tier canaries by")
    p.add_argument("--rate-query", default=None, metavar="PROMQL",
                   help="a PromQL query giving the achieved ingest rate in events/s, to tier canaries by")
    p.add_argument("--prometheus-url", default=None, help="Prometheus base URL for --rate-query")
    p.add_argument("--slo", default=None, metavar="PATH", help="SLO file (default: the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, metavar="FACTOR",
                   help="multiply the SLO's targets, warm-ups and loss horizons by this (default 1)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the results root, as for run: this probe writes DIR/<run-id>/ (default results)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port (0: "
                   "any free port; default: not served)")
    p.add_argument("--metrics-host", default=None, help="address for /metrics (default 127.0.0.1)")
    p.add_argument("--run-id", default=None, help="the probe's id: its directory's name and a run_id label on "
                   "every metric, to select it on the dashboards (default probe-<time>-<random>)")
    p.add_argument("--tag", action="append", default=None, metavar="KEY=VALUE", help="a label of this probe "
                   "(repeatable; env INGESTBENCH_TAGS=k=v,k2=v2) on every metric it exports")
    seconds(p, "interval", "time between canaries (default 1)")
    seconds(p, "poll-interval", "time between look-ups of a pending canary (default 0.25)")
    seconds(p, "lost-after", "how long a canary may stay unseen before it is lost, for every tier (default: each "
            "tier's lost_after from the SLO: 10x its target unless set, time-scaled)")
    seconds(p, "drain", "at most this long to drain at the end (default: until every canary is decided; "
            "canaries still pending after a cap are undecided)")
    p.add_argument("--batch-size", type=int, default=None, help="events per canary request: the canary rides "
                   "in a batch of ordinary events, as the load sends them (default 1: the single-event endpoint)")
    p.add_argument("--expect-tier", action="append", default=None, metavar="TIER", help="a tier that must be "
                   "judged (the result is invalid without it); repeat for several")
    seconds(p, "timeout", "timeout of each request (default 5)")
    p.add_argument("--no-transactional", action="store_true", help="skip the profile write/read check")
    p.add_argument("--seed", type=int, default=None, help="seed for the canaries' ids and timing (default: "
                   "random ids; the events they ride with always come from seed 0)")
    p.add_argument("--check", action="store_true", help="validate every option, the SLO, the target's options "
                   "and secrets, print what would run, and start nothing (exit 0, or 2 naming what is wrong)")
    p.add_argument("--connect", action="store_true", help="--check, then without any load: write one canary "
                   "(and one profile) with the target's keys and read it back, with timings; a rejected key exits 2, "
                   "an unreachable target or a canary not visible in time 3")
    internal(p, "--plan")
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
    lost_after_s = resolve("lost-after-s", args.lost_after_s, None, pos_f)
    run_id = check_run_id(resolve("run-id", args.run_id, None, str)
                          or f"probe-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")
    plan = ProbePlan(
        target=resolve("target", args.target, "pipeline", str),
        url=url,
        slo_path=slo_path,
        slo=load_slo(slo_path, time_scale=time_scale).with_loss_horizon(lost_after_s),
        time_scale=time_scale,
        target_options=target_options(args.target_opt, environ=os.environ),
        reader=reader_plan(TargetFlags.of(args), os.environ),
        tls=tls_of(args),
        duration_s=resolve("duration-s", args.duration_s, None, pos_f),
        declared_rate_eps=resolve("declared-rate-eps", args.declared_rate_eps, None, float),
        rate_timeline=resolve("rate-timeline", args.rate_timeline, None, str),
        rate_query=resolve("rate-query", args.rate_query, None, str),
        prometheus_url=resolve("prometheus-url", args.prometheus_url, None, str),
        out=str(Path(resolve("out", args.out, defaults.RESULTS_ROOT, str)) / run_id),
        metrics_port=resolve("metrics-port", args.metrics_port, None, int),
        metrics_host=resolve("metrics-host", args.metrics_host, defaults.METRICS_HOST, str),
        run_id=run_id,
        tags=parse_tags(args.tag, environ=os.environ),
        interval_s=resolve("interval-s", args.interval_s, defaults.CANARY_INTERVAL_S, pos_f),
        poll_interval_s=resolve("poll-interval-s", args.poll_interval_s, defaults.POLL_INTERVAL_S, pos_f),
        lost_after_s=lost_after_s,
        drain_s=resolve("drain-s", args.drain_s, None, float),
        batch_size=resolve("batch-size", args.batch_size, defaults.CANARY_BATCH_SIZE, positive(int)),
        expected_tiers=tuple(args.expect_tier or ()),
        timeout_s=resolve("timeout-s", args.timeout_s, defaults.REQUEST_TIMEOUT_S, pos_f),
        seed=resolve("seed", args.seed, None, int),
        transactional=not args.no_transactional,
    )
    for key in ("duration_s", "interval_s", "poll_interval_s", "lost_after_s", "timeout_s"):
        if getattr(plan, key) is not None:
            check_number(key.replace("_", "-") + ":", getattr(plan, key), maximum=LARGEST)
    for key in ("drain_s", "declared_rate_eps"):
        if getattr(plan, key) is not None:
            check_number(key.replace("_", "-") + ":", getattr(plan, key), allow_minimum=True,
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
    given = [k for k, v in vars(args).items() if k not in ("plan", "func", "command", "log_level", "check",
                                                           "connect")
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
    check_secrets(roles, os.environ, reads=needs_reader(plan), profiles=plan.transactional)
    if args.check or args.connect:
        reader = f", reading through {plan.reader.kind} at {plan.reader.url}" if plan.reader else ""
        print(f"probe {plan.target} at {plan.url}{reader}; a canary every {plan.interval_s:g} s, polled every "
              f"{plan.poll_interval_s:g} s; SLO {plan.slo_path or 'the vendor promise'} at time scale "
              f"{plan.time_scale:g}; results in {plan.out}\nok: nothing started (--check)")
        if not args.connect:
            return 0
        target = TargetPlan(plan.target, plan.url, plan.target_options, reader=plan.reader)
        return connect_and_print(target, plan.tls, plan.slo, poll_s=plan.poll_interval_s, timeout_s=plan.timeout_s)
    problem = tls_problem(plan.url, plan.tls, plan.reader.url if plan.reader else None)
    if problem:  # before the first canary: no write key goes to a server whose certificate is not trusted
        print(f"ingestbench: {problem}; nothing was sent (--ca-file to trust its CA, or --insecure)", file=sys.stderr)
        return 3
    if args.plan is None:  # a probe alone: its directory is the latest results (a run's probe writes into the run's)
        point_latest(Path(plan.out).parent, Path(plan.out).name)
    record, report = asyncio.run(run_probe(plan, roles))
    console = Console() if sys.stdout.isatty() else Console(width=200)
    print_verdicts(console, record, footer=footer(plan, report))
    return record.exit_code
