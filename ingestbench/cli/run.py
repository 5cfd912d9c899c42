"""``ingestbench run`` and ``ingestbench scenarios`` (what they do, for a user: :data:`DESCRIPTION`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ingestbench.cli.connect import connect_and_print
from ingestbench.cli.help import EXIT_CODES_PLAIN, command, kinds, seconds
from ingestbench.cli.probe import add_reader_flags
from ingestbench.cli.tls import add_tls_flags
from ingestbench.orchestrate.remote_write import remote_write_settings
from ingestbench.orchestrate.replicates import run_replicates
from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.orchestrate.run import Run, RunOptions
from ingestbench.orchestrate.targeting import TargetFlags
from ingestbench.records.config import ConfigError, check_number, resolve
from ingestbench.records.load import LoadConfig
from ingestbench.records.plan import Plan
from ingestbench.records.replay import replay_summary
from ingestbench.records.scenario import EXAMPLES, is_slo_file, load_scenario, scenarios_dirs
from ingestbench.results import replicates

DESCRIPTION = """Run a whole scenario against a target and judge it: start the target (the embedded reference
pipeline unless --url is given), drive the scenario's load steps with Locust, write canaries and look them up with
the probe, then judge every traffic tier's time to availability against the SLO and write the reports. Settings
come from the flag, else the environment (INGESTBENCH_<FLAG>, e.g. INGESTBENCH_TIME_SCALE; not --check and
--no-progress), else the scenario file, else the default. Results go to <out>/<run-id>/ (report.md, report.html,
junit.xml, run.json, samples.jsonl, rates.jsonl), and <out>/latest points at the last run."""


def register(sub: Any) -> None:
    p = command(sub, "run", summary="run a whole scenario: target, load, probe, verdicts, reports",
                description=DESCRIPTION, examples=(
                    "ingestbench run --scenario quick",
                    "ingestbench run --scenario threshold-sweep --target clickhouse --url http://127.0.0.1:8123",
                    "ingestbench run --scenario my.toml --check",
                    "ingestbench run --scenario quick --run-id ci-1234 --tag branch=main"))
    add_plan_flags(p)
    p.add_argument("--replay", default=None, metavar="FILE", help="replay a traffic shape instead of the "
                   "scenario's load steps (its other [load] keys kept): CSV with the header second,events_per_s or "
                   "JSON lines of {\"second\": .., \"events_per_s\": ..}; each rate holds until the next row's second "
                   "(default: the scenario's replay, if any)")
    p.add_argument("--replay-compress", type=float, default=None, metavar="FACTOR", help="divide the replayed "
                   "shape's seconds by this (144 plays a day in 10 minutes); rates are never changed (default: the "
                   "scenario's replay_compress, else 1)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="generate the load with N workers "
                   "started elsewhere (`ingestbench worker --master HOST:PORT`, on this or other machines) instead "
                   "of local processes: the run waits for all N, then runs as usual (default 0)")
    p.add_argument("--master-bind", default=None, metavar="HOST:PORT", help="where a run with --workers listens "
                   "for them (default 0.0.0.0:5557: every interface)")
    seconds(p, "workers-timeout", "how long to wait for the --workers to connect before the run ends invalid, "
            "naming how many came (default 120)")
    p.add_argument("--replicates", type=int, default=None, metavar="N", help="run the scenario N times (a fresh "
                   "embedded target each time) and judge the set: per tier how many replicates passed and how far "
                   "they spread; a tier whose replicates spread too far is erratic, not passed or failed on luck "
                   "(default 1; results in DIR/<run-id>/ with one directory per replicate)")
    p.add_argument("--erratic-spread", type=float, default=None, metavar="FRACTION", help="with --replicates: a "
                   "tier is erratic when its judged percentile spreads over more than this share of its target "
                   "across replicates (default 0.25)")
    p.add_argument("--remote-write", default=None, metavar="URL", help="push the run's metrics (the same series "
                   "and labels a Prometheus scraping it stores) to this Prometheus remote-write endpoint while it "
                   "runs, and once more after the drain, for machines nothing can scrape (e.g. "
                   "http://prometheus:9090/api/v1/write; the receiver needs --web.enable-remote-write-receiver); "
                   "credentials from INGESTBENCH_REMOTE_WRITE_USERNAME and _PASSWORD, or _BEARER_TOKEN, never in "
                   "the URL; a failed push is counted in run.json and never fails the run")
    seconds(p, "remote-write-interval", "time between pushes (default 5)")
    p.add_argument("--check", action="store_true", help="validate the scenario, its SLO, the targets, their "
                   "options and secrets, print what would run, and start nothing (exit 0, or 2 naming what is "
                   "wrong)")
    p.add_argument("--connect", action="store_true", help="--check, then without any load: write one canary "
                   "(and one profile) to the target with its keys and read it back, with timings; a rejected key "
                   "exits 2, an unreachable target or a canary not visible in time 3")
    p.set_defaults(func=run)
    s = command(sub, "scenarios", summary="list the built-in scenarios and the examples", exits=EXIT_CODES_PLAIN,
                description="List the scenarios that come with ingestbench, with their rates and length; any "
                "of them is a --scenario NAME for `ingestbench run`. Then the examples, one for each target kind "
                "with its SLO file beside it, by path: copy one and edit it, or give its path to --scenario.",
                examples=("ingestbench scenarios",))
    s.set_defaults(func=list_scenarios)


def add_plan_flags(p: argparse.ArgumentParser) -> None:
    """The flags that settle a plan, shared by ``run`` and ``search``: scenario, target, SLO, time scale, the
    generator processes, where results go and what the run is called."""
    p.add_argument("--scenario", default=None, metavar="NAME|PATH",
                   help="a built-in scenario (`ingestbench scenarios`) or a TOML file (default quick)")
    p.add_argument("--target", default=None, metavar="KIND",
                   help=f"target kind: {kinds()} (default: the scenario's, else pipeline)")
    p.add_argument("--url", default=None, help="target base URL (without it the embedded pipeline is started)")
    p.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>; the scenario's [target]); "
                   "secrets come from the environment variables the target names (`ingestbench targets`)")
    add_reader_flags(p, default="default: the scenario's [target] reader, else the target itself")
    add_tls_flags(p)
    p.add_argument("--slo", default=None, metavar="PATH",
                   help="SLO file (default: the scenario's, else the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, metavar="FACTOR",
                   help="multiply every duration (steps, SLO targets, flush waits) by this; rates are never "
                   "scaled (default: the scenario's, else 1)")
    p.add_argument("--processes", type=int, default=None, help="Locust processes generating the load on this "
                   "machine (default 1)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the results root: this run writes DIR/<run-id>/ (default results)")
    p.add_argument("--run-id", default=None, help="the run's id: its directory's name and a label on every "
                   "metric (default <time>-<scenario>-<random>)")
    p.add_argument("--tag", action="append", default=None, metavar="KEY=VALUE", help="a label of this run "
                   "(repeatable; env INGESTBENCH_TAGS=k=v,k2=v2): on every metric, in run.json and the report")
    p.add_argument("--observe-pid", action="append", type=int, default=None, metavar="PID",
                   help="also sample the CPU and memory of this process and its children on this machine, once a "
                   "second, into run.json and the report (repeatable; env INGESTBENCH_OBSERVE_PID=pid,pid); the "
                   "embedded pipeline is always sampled")
    p.add_argument("--observe-cgroup", action="append", default=None, metavar="PATH",
                   help="also sample a cgroup v2 directory's memory.current and CPU usage (absolute, or under "
                   "/sys/fs/cgroup; repeatable; env INGESTBENCH_OBSERVE_CGROUP)")
    p.add_argument("--seed", type=int, default=None, help="seed for events and canaries (default: the scenario's)")
    p.add_argument("--no-progress", action="store_true", help="plain progress lines even on a terminal")
    p.add_argument("--metrics-sd", default=None, metavar="PATH", help="keep a Prometheus file_sd list of the "
                   "run's /metrics endpoints (pipeline, generator, probe) in PATH while it runs")


def list_scenarios(_args: argparse.Namespace) -> int:
    """The built-in scenarios by name, then the examples (``examples/``: one per target kind, each beside its SLO
    file) by path, to copy and edit. A file of SLO tiers is not a scenario, and is not listed as a broken one."""
    seen: set[str] = set()
    for d in scenarios_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else []:
            if path.stem not in seen and not is_slo_file(path):
                seen.add(path.stem)
                _describe(path.stem, path, 18)
    examples = next((d / EXAMPLES for d in scenarios_dirs() if (d / EXAMPLES).is_dir()), None)
    listed = [p for p in sorted(examples.glob("*.toml")) if not is_slo_file(p)] if examples else []
    if listed:
        print(f"\nexamples (--scenario PATH; copy one and edit it), in {examples}:")
        width = max(len(f"{EXAMPLES}/{p.name}") for p in listed) + 1
        for path in listed:
            _describe(f"{EXAMPLES}/{path.name}", path, width)
    return 0


def _describe(label: str, path: Path, width: int) -> None:
    try:
        sc = load_scenario(path)
    except ConfigError as exc:
        print(f"{label:{width}} (invalid: {exc})")
        return
    total = sum(s.duration_s for s in sc.load.steps) * sc.time_scale
    print(f"{label:{width}} {sc.description}\n{'':{width}} {rates_text(sc.load)}; {total:.0f} s of load at time "
          f"scale {sc.time_scale:g}")


def rates_text(load: LoadConfig) -> str:
    """``rates 50, 900..3000, 3000..300 exponential events/s``, or for a replay one line of its steps' range."""
    if load.replay is not None:
        return replay_summary(load.replay, load.steps, load.replay_compress)
    rates = ", ".join(f"{s.rate_eps:g}" + (f"..{s.end_rate_eps:g}" if s.end_rate_eps is not None else "")
                      + (f" {s.ramp}" if s.end_rate_eps is not None and s.ramp != "linear" else "")
                      for s in load.steps)
    return f"rates {rates} events/s"


def flags_of(args: argparse.Namespace) -> RunFlags:
    return RunFlags(scenario=args.scenario, targets=TargetFlags.of(args), slo=args.slo, time_scale=args.time_scale,
                    processes=args.processes, workers=getattr(args, "workers", None),
                    master_bind=getattr(args, "master_bind", None),
                    workers_timeout_s=getattr(args, "workers_timeout_s", None), seed=args.seed, run_id=args.run_id,
                    tags=args.tag,
                    observe_pids=args.observe_pid, observe_cgroups=args.observe_cgroup,
                    replay=getattr(args, "replay", None), replay_compress=getattr(args, "replay_compress", None))


def print_plan(plan: Plan, more: tuple[str, ...] = ()) -> None:
    """What ``run`` would do with this plan (``--check``), and ``more`` lines; no secret is in a plan, so none is
    printed."""
    load, probe = plan.load, plan.probe
    target = f"{plan.target.kind} at {plan.target.url}" if plan.target.url else "the embedded pipeline"
    reader = f"; reading through {plan.target.reader.kind} at {plan.target.reader.url}" if plan.target.reader else ""
    steps = rates_text(load) if load.replay else f"{len(load.steps)} step(s) at {rates_text(load)[6:]}"
    print(f"scenario {plan.scenario_name} ({plan.scenario_path}): {steps}, "
          f"{plan.load_duration_s:g} s of load at time scale {plan.time_scale:g}, " + generators_text(plan))
    print(f"target {target}{reader}; SLO {plan.slo_path}; judged tiers: {', '.join(plan.expected_tiers) or 'none'}; "
          f"a canary every {probe.interval_s:g} s, polled every {probe.poll_interval_s:g} s; "
          f"{plan.target.tls.describe()}")
    for line in more:
        print(line)
    for line in plan.notes:
        print(f"note: {line}")
    if not plan.unmeasured:
        print("ok: nothing started (--check)")


def generators_text(plan: Plan) -> str:
    if plan.workers:
        return (f"{plan.workers} generator worker(s) connecting to {plan.master_bind} (`ingestbench worker --master "
                f"HOST:PORT`; waits {plan.workers_timeout_s:g} s for them)")
    return f"{plan.processes} generator process(es)"


def run(args: argparse.Namespace) -> int:
    resolved = resolve_run(flags_of(args), os.environ)
    plan = resolved.plan
    remote_write = remote_write_settings(args.remote_write, args.remote_write_interval_s, environ=os.environ)
    if args.check or args.connect:
        print_plan(plan, (f"remote write: {remote_write.describe()}",) if remote_write else ())
        if plan.unmeasured:  # a run of this plan is certain to be invalid: say so now, as a setting to fix
            raise ConfigError(f"the SLO cannot be measured: {plan.unmeasured[0]}")
        if not args.connect:
            return 0
        return connect_and_print(plan.target, plan.target.tls, plan.slo, poll_s=plan.probe.poll_interval_s,
                                 timeout_s=plan.probe.timeout_s)
    sd = resolve("metrics-sd", args.metrics_sd, None, str)
    options = RunOptions(out_root=Path(resolve("out", args.out, "results", str)), progress=not args.no_progress,
                         metrics_sd=Path(sd) if sd else None, remote_write=remote_write)
    count = resolve("replicates", args.replicates, 1, int)
    check_number("--replicates", count, minimum=1, allow_minimum=True, maximum=1000)
    if count > 1 and plan.workers:
        raise ConfigError("--replicates cannot be combined with --workers: a worker ends with the run it joined, so "
                          "the next replicate would wait for workers that are gone; run the replicates one by one")
    if count > 1:
        spread = resolve("erratic-spread", args.erratic_spread, replicates.ERRATIC_SPREAD, float)
        check_number("--erratic-spread", spread)
        rep = run_replicates(plan, options, scenario_text=resolved.scenario_text, count=count, erratic_spread=spread)
        print(replicates.markdown(rep.summary).rstrip())
        print(f"\nresults: {rep.path} (replicates.md, replicates.json, and each replicate's directory); exit code "
              f"{rep.exit_code}")
        return rep.exit_code
    done = Run(plan, options, scenario_text=resolved.scenario_text).execute()
    print(done.summary.rstrip())  # the tables: the full report is in report.md
    print(f"\nresults: {done.path} (report.md, report.html, junit.xml, run.json, samples.jsonl, rates.jsonl); "
          f"exit code {int(done.exit_code)}")
    return int(done.exit_code)
