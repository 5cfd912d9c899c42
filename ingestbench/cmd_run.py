"""``ingestbench run`` and ``ingestbench scenarios``.

    ingestbench run --scenario quick                       # embedded pipeline, time-scaled sweep, < 90 s
    ingestbench run --scenario threshold-sweep --target pipeline --url http://127.0.0.1:8080
    ingestbench run --scenario my.toml --check             # validate scenario, SLO and options; start nothing
    ingestbench scenarios                                  # list the built-in scenarios

Precedence: CLI flag > environment ``INGESTBENCH_*`` > scenario file > default.
Exit codes: 0 all tiers pass · 1 an SLO failed · 2 usage/config error · 3 run invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ingestbench.config import ConfigError, check_number, positive, resolve


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a whole scenario: target, load, probe, verdicts, reports",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default=None, help="scenario name or TOML path (default quick)")
    p.add_argument("--target", default=None, help="target kind (default: the embedded pipeline)")
    p.add_argument("--url", default=None, help="target base URL (without it the embedded pipeline is started)")
    p.add_argument("--write-key", default=None, help="ingest key (prefer env INGESTBENCH_WRITE_KEY)")
    p.add_argument("--slo", default=None, help="SLO file (default: the scenario's, else the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, help="scale durations (default: the scenario's)")
    p.add_argument("--processes", type=int, default=None, help="Locust processes (default 1)")
    p.add_argument("--out", default=None, help="results root (default results/)")
    p.add_argument("--seed", type=int, default=None, help="seed for events and canaries (default: the scenario's)")
    p.add_argument("--no-progress", action="store_true", help="plain progress lines even on a terminal")
    p.add_argument("--check", action="store_true", help="validate the scenario, its SLO and every option, print "
                   "what would run, and start nothing (exit 0, or 2 naming what is wrong)")
    p.set_defaults(func=run)
    s = sub.add_parser("scenarios", help="list the built-in scenarios")
    s.set_defaults(func=list_scenarios)


def list_scenarios(_args: argparse.Namespace) -> int:
    from ingestbench.scenario import load_scenario, scenarios_dirs

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


def settings_from(args: argparse.Namespace) -> Any:
    from checks.registry import names as target_names
    from checks.slo import DEFAULT_SLO_PATH, load_slo
    from ingestbench.run import RunSettings
    from ingestbench.scenario import load_scenario

    scenario = load_scenario(resolve("scenario", args.scenario, "quick", str))
    time_scale = resolve("time-scale", args.time_scale, scenario.time_scale, positive(float))
    check_number("--time-scale", time_scale)
    url = resolve("url", args.url, None, str)
    target = resolve("target", args.target, "pipeline", str)
    if target not in target_names():
        raise ConfigError(f"--target: unknown target {target!r} (known: {', '.join(target_names())})")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https://, got {url!r}")
    if url is None and target != "pipeline":
        raise ConfigError(f"--url is required for target {target!r} (only the pipeline is embedded)")
    slo_path = resolve("slo", args.slo, None, str) or scenario.slo_path or str(DEFAULT_SLO_PATH)
    if not Path(slo_path).is_file():
        raise ConfigError(f"--slo: file {slo_path} does not exist")
    load_slo(slo_path, time_scale=time_scale)  # validate now: exit 2 with the key named
    processes = resolve("processes", args.processes, 1, positive(int))
    if processes < 1:
        raise ConfigError(f"--processes must be >= 1, got {processes}")
    pipe, probe = scenario.pipeline, scenario.probe
    return RunSettings(
        scenario_name=scenario.name, scenario_path=scenario.path, description=scenario.description,
        rates_eps=[s.rate_eps for s in scenario.load.steps],
        load_duration_s=sum(s.duration_s for s in scenario.load.steps) * time_scale,
        time_scale=time_scale, slo_path=Path(slo_path), target=target, url=url,
        write_key=resolve("write-key", args.write_key, None, str) or None, processes=processes,
        out_root=Path(resolve("out", args.out, "results", str)),
        seed=resolve("seed", args.seed, None, int), progress=not args.no_progress,
        flush_rows=pipe.flush_rows, flush_max_wait_s=pipe.flush_max_wait_s,
        interval_s=probe.interval_s, poll_interval_s=probe.poll_interval_s, drain_s=probe.drain_s,
        transactional=probe.transactional, canary_batch_size=1 if probe.single_event else scenario.load.batch_size,
    )


def run(args: argparse.Namespace) -> int:
    from ingestbench.run import Run

    settings = settings_from(args)
    if args.check:
        _print_plan(settings)
        return 0
    runner = Run(settings)
    code = runner.execute()
    _print_summary(runner.dir)
    return code


def _print_plan(settings: Any) -> None:
    """What ``run`` would do with these settings (``--check``)."""
    from checks.judge import expected_tiers
    from checks.slo import load_slo

    s = settings
    slo = load_slo(str(s.slo_path), time_scale=s.time_scale)
    target = f"{s.target} at {s.url}" if s.url else "the embedded pipeline"
    print(f"scenario {s.scenario_name} ({s.scenario_path}): {len(s.rates_eps)} step(s) at "
          f"{', '.join(f'{r:g}' for r in s.rates_eps)} events/s, {s.load_duration_s:g} s of load at time scale "
          f"{s.time_scale:g}, {s.processes} generator process(es)")
    print(f"target {target}; SLO {s.slo_path}: tiers "
          f"{', '.join(t.name for t in slo.tiers)}; judged: "
          f"{', '.join(expected_tiers(slo, s.rates_eps, transactional=s.transactional)) or 'none'}")
    print("ok: nothing started (--check)")


def _print_summary(run_dir: Path) -> None:
    from ingestbench.rundir import RunFiles

    files = RunFiles.load(run_dir)
    report = (run_dir / "report.md")
    if report.exists():
        # the tables only: the full report is in the file
        text = report.read_text()
        print(text.split("## Canaries")[0].rstrip(), file=sys.stdout)
    print(f"\nresults: {run_dir} (report.md, report.html, junit.xml, run.json, samples.jsonl, rates.jsonl); "
          f"exit code {files.run.get('exit_code')}", file=sys.stdout)
