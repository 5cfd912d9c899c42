"""One resolution of a run: flags, environment and scenario file in; a validated, time-scaled plan out.

Precedence is flag > environment ``INGESTBENCH_*`` > scenario file > default (the defaults are in
:mod:`ingestbench.records.defaults`, the ``[load]`` table's in its record type). Everything a child of the
run needs is decided here or, for what only the running run can know (ports, the results directory), when it
settles the plan before the first child starts; no child derives a setting again. A bad value exits 2 naming
it, before anything starts.

    resolved = resolve_run(RunFlags(scenario="quick"), os.environ)
    resolved.plan.slo.target_s(resolved.plan.slo.tier("high"))  # 0.3: quick runs at time scale 0.1
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ingestbench.checks.judge import expected_tiers
from ingestbench.orchestrate.resources import cgroup_dir, check_pid
from ingestbench.orchestrate.targeting import TargetFlags, check_fits, check_secrets, resolve_targets
from ingestbench.records import defaults
from ingestbench.records.config import ConfigError, check_number, check_run_id, host_port, parse_tags, positive, resolve
from ingestbench.records.load import LARGEST_COMPRESSION, LARGEST_TIME_SCALE, LoadConfig
from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.plan import PipelinePlan, Plan, ProbePlan
from ingestbench.records.replay import read_shape
from ingestbench.records.scenario import PipelineTable, Scenario, load_scenario, with_load_seed
from ingestbench.records.slo import DEFAULT_SLO_PATH
from ingestbench.records.slo_file import load_slo


@dataclass(frozen=True)
class RunFlags:
    """What the command line said of a run (None: not given)."""

    scenario: str | None = None
    targets: TargetFlags = field(default_factory=TargetFlags)
    slo: str | None = None
    time_scale: float | None = None
    processes: int | None = None
    workers: int | None = None  # generator workers started elsewhere, to wait for (0: fork local processes)
    master_bind: str | None = None  # HOST:PORT where they connect
    workers_timeout_s: float | None = None
    seed: int | None = None
    run_id: str | None = None
    tags: list[str] | None = None  # KEY=VALUE
    observe_pids: list[int] | None = None  # processes whose CPU and memory are sampled (with descendants)
    observe_cgroups: list[str] | None = None  # cgroup v2 directories sampled likewise
    replay: str | None = None  # a traffic shape file whose rows replace the scenario's load steps
    replay_compress: float | None = None  # its seconds divided by this


@dataclass(frozen=True)
class Resolved:
    plan: Plan
    scenario_text: str  # the scenario file to keep with the results, its seed set to the one used


def resolve_run(flags: RunFlags, environ: Mapping[str, str]) -> Resolved:
    """The plan of a run, with every setting decided and every duration scaled."""
    scenario = load_scenario(resolve("scenario", flags.scenario, defaults.SCENARIO, str, environ=environ))
    ts = time_scale_of(scenario, flags.time_scale, environ)
    # bad kinds, options or CA file: exit 2
    targeting = resolve_targets(flags.targets, scenario.target_table, environ, scenario.path.parent)
    target, roles = targeting.target, targeting.roles
    slo_path = (resolve("slo", flags.slo, None, str, environ=environ) or scenario.slo_path
                or str(DEFAULT_SLO_PATH))
    if not Path(slo_path).is_file():
        raise ConfigError(f"--slo: file {slo_path} does not exist")
    slo = load_slo(slo_path, time_scale=ts)  # exit 2 with the key named
    processes = resolve("processes", flags.processes, defaults.PROCESSES, positive(int), environ=environ)
    if processes < 1:
        raise ConfigError(f"--processes must be >= 1, got {processes}")
    workers = resolve("workers", flags.workers, 0, int, environ=environ)
    check_number("--workers", workers, minimum=0, allow_minimum=True, maximum=10_000)
    if workers and flags.processes is not None:
        raise ConfigError("--workers and --processes cannot be combined: with --workers the generator processes "
                          "are the `ingestbench worker`s that connect (start several on a machine for its cores)")
    master_bind = resolve("master-bind", flags.master_bind, defaults.MASTER_BIND, str, environ=environ)
    host_port(master_bind, "--master-bind")
    workers_timeout_s = resolve("workers-timeout-s", flags.workers_timeout_s, defaults.WORKERS_TIMEOUT_S,
                                positive(float), environ=environ)
    check_number("--workers-timeout-s", workers_timeout_s, maximum=86_400)
    seed = resolve("seed", flags.seed, None, int, environ=environ)
    text = scenario.path.read_text(encoding="utf-8")
    load = replayed_load(scenario, flags, environ, ts)
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
    rates = [r for s in load.steps for r in (s.rate_eps, s.end_rate_eps) if r is not None]  # a ramp's both ends
    expected = tuple(expected_tiers(slo, rates, transactional=transactional))
    analytical = [t.name for t in slo.tiers if t.path == ANALYTICAL and t.name in expected]
    if ts != 1 and target.url is not None:
        targets = ", ".join(f"{t.name} {slo.target_s(t):g} s" for t in slo.tiers if t.name in expected)
        notes.append(f"time scale {ts:g} against {target.kind} at {target.url}: the SLO's targets are scaled "
                     f"({targets}) but that system keeps its own timing (flush windows, batching), so a TTA it "
                     "meets at time scale 1 can fail here; use --time-scale 1 to judge its real promise")
    check_secrets(roles, environ, reads=bool(analytical), profiles=transactional)
    unmeasured = (roles.no_reader_reason(),) if roles.reader is None and analytical else ()
    run_id = check_run_id(resolve("run-id", flags.run_id, None, str, environ=environ)
                          or f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}-{secrets.token_hex(2)}")
    tags = parse_tags(flags.tags, environ=environ)
    pids, cgroups = observed(flags, environ)
    plan = Plan(
        run_id=run_id, scenario_name=scenario.name, scenario_path=str(scenario.path),
        description=scenario.description, time_scale=ts, load=load.scaled(ts),
        target=target, slo_path=slo_path, processes=1 if workers else processes, workers=workers,
        master_bind=master_bind, workers_timeout_s=workers_timeout_s, expected_tiers=expected, notes=tuple(notes),
        unmeasured=unmeasured, tags=tags,
        pipeline=pipeline_plan(pipe, ts) if target.url is None else None,
        probe=ProbePlan(target=target.kind, url=target.url or "", slo_path=slo_path, slo=slo, time_scale=ts,
                        target_options=target.options, reader=target.reader, tls=target.tls,
                        interval_s=probe.interval_s * ts, poll_interval_s=probe.poll_interval_s * ts,
                        batch_size=canary_batch, transactional=transactional,
                        drain_s=None if probe.drain_s is None else probe.drain_s * ts,
                        expected_tiers=expected, seed=None if seed is None else seed + 1, run_id=run_id,
                        tags=tags, scenario=scenario.name),
        observe_pids=pids, observe_cgroups=cgroups,
    )
    return Resolved(plan, text)


def time_scale_of(scenario: Scenario, flag: float | None, environ: Mapping[str, str]) -> float:
    """The run's time scale: ``--time-scale``, else ``INGESTBENCH_TIME_SCALE``, else the scenario's."""
    ts = resolve("time-scale", flag, scenario.time_scale, positive(float), environ=environ)
    check_number("--time-scale", ts, maximum=LARGEST_TIME_SCALE)
    return ts


def replayed_load(scenario: Scenario, flags: RunFlags, environ: Mapping[str, str], time_scale: float) -> LoadConfig:
    """The scenario's load, its steps read from ``--replay`` (else ``INGESTBENCH_REPLAY``, else the scenario's
    ``replay``) compressed by ``--replay-compress`` (else ``INGESTBENCH_REPLAY_COMPRESS``, else the scenario's
    ``replay_compress``, else 1), each step at least a second at the run's time scale; its other keys kept."""
    given = resolve("replay", flags.replay, None, str, environ=environ)
    compress = resolve("replay-compress", flags.replay_compress, None, positive(float), environ=environ)
    load = scenario.load
    if given is None and load.replay is None:
        if compress is not None:
            raise ConfigError("--replay-compress needs --replay FILE (or a scenario whose [load] has replay)")
        return load
    compress = load.replay_compress if compress is None else compress
    check_number("--replay-compress", compress, maximum=LARGEST_COMPRESSION)
    if given is not None:
        name, file = given, Path(given)
    else:
        assert load.replay is not None
        name, file = load.replay, Path(load.replay)
        file = file if file.is_absolute() else scenario.path.parent / file
    steps = read_shape(file, compress=compress, time_scale=time_scale, name=str(file))
    return replace(load, steps=steps, replay=name, replay_compress=compress)


def pipeline_plan(table: PipelineTable, time_scale: float) -> PipelinePlan:
    """The reference pipeline's settings from a scenario's ``[pipeline]`` table at a time scale: the flush rows
    and the flush wait both follow it, so the rate at which a flush by size overtakes the timer stays put."""
    return PipelinePlan(flush_rows=max(1, round(table.flush_rows * time_scale)),
                        flush_max_wait_s=table.flush_max_wait_s * time_scale)


def scenario_pipeline(scenario: str | None, time_scale: float | None,
                      environ: Mapping[str, str]) -> PipelinePlan | None:
    """The pipeline a run of ``scenario`` (flag, else ``INGESTBENCH_SCENARIO``) would embed, scaled as that run
    would scale it; None when no scenario is named. A pipeline started on its own with this plan's settings is
    the one ``ingestbench run --url`` of the same scenario expects."""
    name = resolve("scenario", scenario, None, str, environ=environ)
    if not name:
        if time_scale is not None:
            raise ConfigError("--time-scale scales a scenario's [pipeline] settings: give --scenario too")
        return None
    found = load_scenario(name)
    return pipeline_plan(found.pipeline, time_scale_of(found, time_scale, environ))


def observed(flags: RunFlags, environ: Mapping[str, str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The processes and cgroups to sample (flags, else ``INGESTBENCH_OBSERVE_PID`` / ``_CGROUP``, comma
    separated), each checked to exist on this machine."""
    raw_pids = flags.observe_pids
    if raw_pids is None:
        words = [w.strip() for w in environ.get("INGESTBENCH_OBSERVE_PID", "").split(",") if w.strip()]
        try:
            raw_pids = [int(w) for w in words]
        except ValueError:
            raise ConfigError(f"INGESTBENCH_OBSERVE_PID: process ids with commas between, got {words}") from None
    cgroups = flags.observe_cgroups
    if cgroups is None:
        cgroups = [w.strip() for w in environ.get("INGESTBENCH_OBSERVE_CGROUP", "").split(",") if w.strip()]
    for pid in raw_pids:
        check_pid(pid)
    return tuple(dict.fromkeys(raw_pids)), tuple(str(cgroup_dir(c)) for c in dict.fromkeys(cgroups))
