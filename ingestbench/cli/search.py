"""``ingestbench search``: the rates at which each tier's promise holds (what it does, for a user:
:data:`DESCRIPTION`)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from ingestbench.cli.help import command
from ingestbench.cli.run import add_plan_flags, flags_of, generators_text
from ingestbench.orchestrate.resolve import resolve_run
from ingestbench.orchestrate.run import RunOptions
from ingestbench.orchestrate.search import duration_at, run_search, search_tiers
from ingestbench.records.config import ConfigError, check_number, resolve
from ingestbench.results.search import SearchConfig
from ingestbench.results.search_report import one_line
from ingestbench.results.search_result import r

DESCRIPTION = """Find the rates at which each tier's promise holds: the lowest rate from which its SLO holds (below it
another promise applies, e.g. the high tier's 3 s before batches fill fast enough) and the highest at which it still
holds with the load delivered (the target's capacity). Each step is a whole run of the scenario at one rate (a fresh
embedded target each time), long enough for a conclusive percentile (72 steady canaries for a p95, after the tier's
warm-up), with its own verdict and directory. The search climbs from --min-eps by --factor until a tier fails above
a rate where it held, the load cannot be delivered, or --max-eps; then it bisects each bracket to --precision, or
until --budget-s is spent. A rate whose load the generator could not send is reported as the generator's limit,
never as the target's capacity. Results go to <out>/<run-id>/: search.json, report.md, report.html (the judged
percentile against the rate, with both bounds), and one directory per step."""

EXITS = ("exit codes: 0 a range was found for every searched tier · 1 a tier's SLO never held at any rate tried · "
         "2 bad usage or configuration (nothing started) · 3 the search could not conclude (the reasons are printed)")


def register(sub: Any) -> None:
    p = command(sub, "search", summary="find the rates from which and up to which each tier's SLO holds",
                description=DESCRIPTION, exits=EXITS, examples=(
                    "ingestbench search --scenario quick --tier high --min-eps 1000 --max-eps 64000",
                    "ingestbench search --scenario quick --min-eps 100 --max-eps 20000 --budget-s 1800",
                    "ingestbench search --scenario my.toml --url http://127.0.0.1:8080 --check"))
    add_plan_flags(p)
    p.add_argument("--tier", action="append", default=None, metavar="NAME", help="search this tier (repeatable; "
                   "default every tier of the SLO with a band within the rates searched)")
    p.add_argument("--min-eps", type=float, default=None, metavar="EVENTS_PER_S",
                   help="the lowest rate tried, where the climb starts (default 100)")
    p.add_argument("--max-eps", type=float, default=None, metavar="EVENTS_PER_S",
                   help="the highest rate tried (default 100000)")
    p.add_argument("--factor", type=float, default=None, metavar="FACTOR",
                   help="the climb multiplies the rate by this (default 2)")
    p.add_argument("--precision", type=float, default=None, metavar="FRACTION", help="bisect until the passing "
                   "and failing rates around each bound are within this share of each other (default 0.05)")
    p.add_argument("--budget-s", type=float, default=None, metavar="SECONDS", help="stop before a step that "
                   "would end past this many seconds of searching; the bounds found so far are reported, wider "
                   "(default: no limit)")
    p.add_argument("--check", action="store_true", help="validate the scenario, SLO, target and search "
                   "settings, print the tiers searched and how long a step lasts, and start nothing")
    p.set_defaults(func=search)


def config_of(args: argparse.Namespace) -> SearchConfig:
    low = resolve("min-eps", args.min_eps, 100.0, float)
    high = resolve("max-eps", args.max_eps, 100_000.0, float)
    factor = resolve("factor", args.factor, 2.0, float)
    precision = resolve("precision", args.precision, 0.05, float)
    budget = resolve("budget-s", args.budget_s, None, float)
    check_number("--min-eps", low, maximum=1e9)
    check_number("--max-eps", high, maximum=1e9)
    if not high > low:
        raise ConfigError(f"--max-eps ({high:g}) must be above --min-eps ({low:g})")
    check_number("--factor", factor, maximum=100)
    if not factor > 1.05:
        raise ConfigError(f"--factor must be > 1.05, got {factor:g}")
    check_number("--precision", precision, maximum=1)
    if precision < 0.005:
        raise ConfigError(f"--precision must be >= 0.005 (half a percent), got {precision:g}")
    if budget is not None:
        check_number("--budget-s", budget, maximum=30 * 86_400)
    return SearchConfig(low, high, precision=precision, factor=factor, budget_s=budget)


def search(args: argparse.Namespace) -> int:
    config = config_of(args)
    resolved = resolve_run(flags_of(args), os.environ)
    plan = resolved.plan
    if plan.unmeasured:  # every step of this plan is certain to be invalid: say so now, as a setting to fix
        raise ConfigError(f"the SLO cannot be measured: {plan.unmeasured[0]}")
    tiers = search_tiers(plan, args.tier, config)
    if args.check:
        target = f"{plan.target.kind} at {plan.target.url}" if plan.target.url else "the embedded pipeline"
        print(f"search with scenario {plan.scenario_name} ({plan.scenario_path}) at time scale {plan.time_scale:g}: "
              f"rates {r(config.min_eps)} to {r(config.max_eps)} events/s, climbing by x{config.factor:g}, then "
              f"bisecting to {config.precision:.0%}" + (f" within {config.budget_s:g} s" if config.budget_s else "")
              + f"; one step at a time, each a whole run with {generators_text(plan)}")
        print(f"target {target}; SLO {plan.slo_path}; {plan.target.tls.describe()}")
        for note in plan.notes:
            print(f"note: {note}")
        for t in tiers:
            band = f"{r(t.low_eps)}" + ("+" if math.isinf(t.high_eps) else f" to {r(t.high_eps)}")
            print(f"search tier {t.name}: p{t.percentile:g} <= {t.target_s:g} s, band {band} events/s")
        for rate in (config.min_eps, config.max_eps):
            print(f"a step at {r(rate)} events/s lasts {duration_at(plan, rate):g} s of load (plus start-up and "
                  "drain)")
        print("ok: nothing started (--check)")
        return 0
    options = RunOptions(out_root=Path(resolve("out", args.out, "results", str)), progress=not args.no_progress,
                         metrics_sd=Path(args.metrics_sd) if args.metrics_sd else None)
    done = run_search(plan, options, scenario_text=resolved.scenario_text, config=config, tiers=tiers)
    print(one_line(done.result))
    print(f"\nresults: {done.path} (search.json, report.md, report.html, and each step's directory); exit code "
          f"{done.exit_code}")
    return done.exit_code
