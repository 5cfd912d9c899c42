"""``ingestbench run`` and ``ingestbench scenarios``.

    ingestbench run --scenario quick                       # embedded pipeline, time-scaled sweep, < 90 s
    ingestbench run --scenario threshold-sweep --target pipeline --url http://127.0.0.1:8080
    ingestbench run --scenario my.toml --check             # validate scenario, SLO and options; start nothing
    ingestbench scenarios                                  # list the built-in scenarios

Precedence: CLI flag > environment ``INGESTBENCH_*`` > scenario file > default, resolved here once into a
:class:`~ingestbench.records.plan.Plan` that every child of the run reads from ``plan.json``.
Exit codes: 0 all tiers pass · 1 an SLO failed · 2 usage/config error · 3 run invalid.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingestbench.checks.judge import expected_tiers
from ingestbench.checks.slo import DEFAULT_SLO_PATH, load_slo
from ingestbench.cli.probe import add_reader_flags
from ingestbench.cli.targeting import check_fits, resolve_targets
from ingestbench.cli.tls import add_tls_flags
from ingestbench.orchestrate.run import Run, RunOptions
from ingestbench.records.config import ConfigError, check_number, positive, resolve
from ingestbench.records.load import LARGEST_TIME_SCALE
from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.plan import PipelinePlan, Plan, ProbePlan
from ingestbench.records.scenario import load_scenario, scenarios_dirs, with_load_seed


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a whole scenario: target, load, probe, verdicts, reports",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default=None, help="scenario name or TOML path (default quick)")
    p.add_argument("--target", default=None, help="target kind (default: the scenario's, else the pipeline)")
    p.add_argument("--url", default=None, help="target base URL (without it the embedded pipeline is started)")
    p.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>; the scenario's [target]); "
                   "secrets come from the environment variables the target names")
    add_reader_flags(p, default="default: the scenario's [target] reader, else the target itself")
    add_tls_flags(p)
    p.add_argument("--slo", default=None, help="SLO file (default: the scenario's, else the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, help="scale durations (default: the scenario's)")
    p.add_argument("--processes", type=int, default=None, help="Locust processes (default 1)")
    p.add_argument("--out", default=None, help="results root (default results/)")
    p.add_argument("--seed", type=int, default=None, help="seed for events and canaries (default: the scenario's)")
    p.add_argument("--no-progress", action="store_true", help="plain progress lines even on a terminal")
    p.add_argument("--metrics-sd", default=None, metavar="PATH", help="keep a Prometheus file_sd list of the "
                   "run's /metrics endpoints (pipeline, generator, probe) in PATH while it runs")
    p.add_argument("--check", action="store_true", help="validate the scenario, its SLO, the targets and every "
                   "option, print what would run, and start nothing (exit 0, or 2 naming what is wrong)")
    p.set_defaults(func=run)
    s = sub.add_parser("scenarios", help="list the built-in scenarios")
    s.set_defaults(func=list_scenarios)


def list_scenarios(_args: argparse.Namespace) -> int:
    seen = set()
    for d in scenarios_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else []:
            if path.stem in seen:
                continue
            seen.add(path.stem)
            try:
                sc = load_scenario(path)
            except ConfigError as exc:
                print(f"{path.stem:18} (invalid: {exc})")
                continue
            rates = ", ".join(f"{s.rate_eps:g}" for s in sc.load.steps)
            total = sum(s.duration_s for s in sc.load.steps) * sc.time_scale
            print(f"{path.stem:18} {sc.description}\n{'':18} rates {rates} events/s; {total:.0f} s of load at time "
                  f"scale {sc.time_scale:g}")
    return 0


def plan_from_args(args: argparse.Namespace) -> tuple[Plan, str]:
    """The resolved plan and the scenario text to keep with the results (its seed set to the one used)."""
    scenario = load_scenario(resolve("scenario", args.scenario, "quick", str))
    ts = resolve("time-scale", args.time_scale, scenario.time_scale, positive(float))
    check_number("--time-scale", ts, maximum=LARGEST_TIME_SCALE)
    # bad kinds, options or CA file: exit 2 now
    targeting = resolve_targets(args, scenario.target_table, os.environ, scenario.path.parent)
    target, roles = targeting.target, targeting.roles
    kind, url, options = target.kind, target.url, target.options
    slo_path = resolve("slo", args.slo, None, str) or scenario.slo_path or str(DEFAULT_SLO_PATH)
    if not Path(slo_path).is_file():
        raise ConfigError(f"--slo: file {slo_path} does not exist")
    slo = load_slo(slo_path, time_scale=ts)  # validate now: exit 2 with the key named
    processes = resolve("processes", args.processes, 1, positive(int))
    if processes < 1:
        raise ConfigError(f"--processes must be >= 1, got {processes}")
    seed = resolve("seed", args.seed, None, int)
    text = scenario.path.read_text(encoding="utf-8")
    load = scenario.load
    if seed is not None:
        text, load = with_load_seed(text, seed), replace(load, seed=seed)
    pipe, probe = scenario.pipeline, scenario.probe
    canary_batch = 1 if probe.single_event else load.batch_size
    check_fits(roles.writer, load, canary_batch_size=canary_batch)
    notes = list(targeting.notes)
    transactional = probe.transactional
    if transactional and roles.profiles is None:
        transactional = False
        notes.append(roles.no_profiles_reason())
    rates = [s.rate_eps for s in load.steps]
    expected = tuple(expected_tiers(slo, rates, transactional=transactional))
    analytical = [t.name for t in slo.tiers if t.path == ANALYTICAL and t.name in expected]
    unmeasured = (roles.no_reader_reason(),) if roles.reader is None and analytical else ()
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}-{secrets.token_hex(2)}"
    plan = Plan(
        run_id=run_id, scenario_name=scenario.name, scenario_path=str(scenario.path),
        description=scenario.description, time_scale=ts, load=load.scaled(ts),
        target=target, slo_path=slo_path, processes=processes, expected_tiers=expected, notes=tuple(notes),
        unmeasured=unmeasured,
        pipeline=PipelinePlan(flush_rows=max(1, round(pipe.flush_rows * ts)),
                              flush_max_wait_s=pipe.flush_max_wait_s * ts) if url is None else None,
        probe=ProbePlan(target=kind, url=url or "", slo_path=slo_path, time_scale=ts, target_options=options,
                        reader=target.reader, tls=target.tls,
                        interval_s=probe.interval_s * ts, poll_interval_s=probe.poll_interval_s * ts,
                        batch_size=canary_batch, transactional=transactional,
                        drain_s=None if probe.drain_s is None else probe.drain_s * ts,
                        expected_tiers=expected, seed=None if seed is None else seed + 1, run_id=run_id),
    )
    return plan, text


def print_plan(plan: Plan) -> None:
    """What ``run`` would do with this plan (``--check``); no secret is in a plan, so none is printed."""
    load, probe = plan.load, plan.probe
    rates = ", ".join(f"{r:g}" for r in plan.rates_eps)
    target = f"{plan.target.kind} at {plan.target.url}" if plan.target.url else "the embedded pipeline"
    reader = f"; reading through {plan.target.reader.kind} at {plan.target.reader.url}" if plan.target.reader else ""
    print(f"scenario {plan.scenario_name} ({plan.scenario_path}): {len(load.steps)} step(s) at {rates} events/s, "
          f"{plan.load_duration_s:g} s of load at time scale {plan.time_scale:g}, {plan.processes} generator "
          f"process(es)")
    print(f"target {target}{reader}; SLO {plan.slo_path}; judged tiers: {', '.join(plan.expected_tiers) or 'none'}; "
          f"a canary every {probe.interval_s:g} s, polled every {probe.poll_interval_s:g} s; "
          f"{plan.target.tls.describe()}")
    for line in (*plan.notes, *plan.unmeasured):
        print(f"note: {line}")
    print("ok: nothing started (--check)")


def run(args: argparse.Namespace) -> int:
    plan, text = plan_from_args(args)
    if args.check:
        print_plan(plan)
        return 0
    sd = resolve("metrics-sd", args.metrics_sd, None, str)
    options = RunOptions(out_root=Path(resolve("out", args.out, "results", str)), progress=not args.no_progress,
                         metrics_sd=Path(sd) if sd else None)
    runner = Run(plan, options, scenario_text=text)
    code = runner.execute()
    report = runner.dir / "report.md"
    if report.exists():  # the tables only: the full report is in the file
        print(report.read_text().split("## Canaries")[0].rstrip())
    print(f"\nresults: {runner.dir} (report.md, report.html, junit.xml, run.json, samples.jsonl, rates.jsonl); "
          f"exit code {code}")
    return code



