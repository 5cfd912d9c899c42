"""``ingestbench run``: settle the plan, write the results directory, run the children, finish.

The results directory is written before any child starts (the scenario and SLO copies, ``plan.json``, and
``run.json`` with status "running"), rewritten once the children run (their PIDs) and at the end; the
:class:`~ingestbench.orchestrate.supervisor.Supervisor` runs the children; the finisher shared with
``ingestbench report`` judges the directory from its files alone. Ctrl-C stops everything in order and still
writes what was collected.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ingestbench.orchestrate.discovery import MetricsDiscovery
from ingestbench.orchestrate.machine import machine_facts, versions
from ingestbench.orchestrate.net import free_port
from ingestbench.orchestrate.pusher import PROBE_FINAL_METRICS, Pusher
from ingestbench.orchestrate.remote_write import RemoteWrite
from ingestbench.orchestrate.supervisor import Supervisor
from ingestbench.records.config import ConfigError
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.plan import Plan
from ingestbench.records.resources import Resources
from ingestbench.records.run_record import (
    FINISHED,
    INTERRUPTED,
    RUNNING,
    ChildInfo,
    ProbeSummary,
    RunRecord,
    ScenarioInfo,
    TargetInfo,
)
from ingestbench.records.slo import Slo, Tier
from ingestbench.results.finish import Finished, finish
from ingestbench.results.rundir import PLAN_JSON, RATES, RUN_JSON, SCENARIO_COPY, SLO_COPY, RunFiles, point_latest


@dataclass(frozen=True)
class RunOptions:
    """How this process runs the plan (not part of the plan: no child needs them)."""

    out_root: Path
    progress: bool = True
    metrics_sd: Path | None = None  # a Prometheus file_sd file listing the run's /metrics endpoints
    remote_write: RemoteWrite | None = None  # push the run's metrics there while it lasts


class Run:
    """Executes a resolved :class:`~ingestbench.records.plan.Plan` and finishes its results directory."""

    def __init__(self, plan: Plan, options: RunOptions, *, scenario_text: str):
        self.plan = plan
        self.options = options
        self.run_id = plan.run_id
        self.dir = options.out_root / self.run_id
        self._scenario_text = scenario_text
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._started = time.time()
        self.discovery = MetricsDiscovery(options.metrics_sd, run_id=plan.run_id)
        self.supervisor: Supervisor | None = None
        self.resources: Resources | None = None
        self.pusher: Pusher | None = None

    def execute(self) -> Finished:
        try:
            self.dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise ConfigError(f"run-id: {self.dir} exists already: give another --run-id") from None
        point_latest(self.options.out_root, self.run_id)
        (self.dir / SCENARIO_COPY).write_text(self._scenario_text, encoding="utf-8")
        shutil.copyfile(self.plan.slo_path, self.dir / SLO_COPY)
        self._settle_plan()
        self.plan.write(self.dir / PLAN_JSON)  # once, before any child starts: every child reads only this
        rw = self.options.remote_write
        final = {"probe": Path(self.plan.probe.final_metrics)} if self.plan.probe.final_metrics else {}
        pusher = self.pusher = Pusher(rw, self.plan.target.tls, self.discovery.endpoints, run_id=self.run_id,
                                      files=final) if rw else None
        sup = self.supervisor = Supervisor(self.plan, self.dir, self.discovery, progress=self.options.progress,
                                           on_started=lambda: self._write_run_json(RUNNING))
        self._write_run_json(RUNNING)
        print(f"ingestbench: run {self.run_id}: results in {self.dir}", file=sys.stderr)
        if rw is not None:
            print(f"ingestbench: remote write: {rw.describe()}", file=sys.stderr)
        warning = probe_load_warning(self.plan)
        if warning:
            print(f"ingestbench: warning: {warning}", file=sys.stderr)
        for note in (*self.plan.notes, *self.plan.unmeasured):
            print(f"ingestbench: note: {note}", file=sys.stderr)
        previous = signal.signal(signal.SIGINT, lambda *_: sup.interrupt())
        term = signal.signal(signal.SIGTERM, lambda *_: sup.interrupt())
        if pusher is not None:
            pusher.start()
        try:
            sup.run()
        finally:
            self.resources = sup.sampler.stop()  # before the target is stopped: its shutdown is not measured
            if pusher is not None:  # after the probe's drain, while the pipeline still answers
                pusher.finish()
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, term)
            sup.stop_all()
            self.discovery.clear()
            if self._tmp is not None:
                self._tmp.cleanup()
        return self._finish()

    def _settle_plan(self) -> None:
        """Everything a child will need that the resolution could not know: ports, the embedded pipeline's
        address and store, the files of this results directory."""
        plan = self.plan
        url = plan.target.url
        if plan.pipeline is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ingestbench-pipeline-")
            port = free_port()
            pipeline = replace(plan.pipeline, host="127.0.0.1", port=port, data_dir=str(Path(self._tmp.name) / "data"),
                               ready_file=str(Path(self._tmp.name) / "ready"))
            url = f"http://127.0.0.1:{port}"
            plan = replace(plan, pipeline=pipeline)
        probe = replace(plan.probe, url=url or "", out=str(self.dir), rate_timeline=str(self.dir / RATES),
                        slo_path=str(self.dir / SLO_COPY), metrics_port=free_port(),
                        final_metrics=str(self.dir / "logs" / PROBE_FINAL_METRICS) if self.options.remote_write
                        else None)
        self.plan = replace(plan, probe=probe, target=replace(plan.target, url=url),
                            rates_out=str(self.dir / RATES),
                            generators_file=str(self.dir / "logs" / "generators.json") if plan.workers else None,
                            generator_metrics_port=free_port() if self.discovery.path or self.options.remote_write
                            else None)

    def _record(self, status: str) -> RunRecord:
        plan, sup = self.plan, self.supervisor
        children = sup.children if sup is not None else []
        return RunRecord(
            run_id=self.run_id, status=status, started_unix_s=self._started,
            scenario=ScenarioInfo(name=plan.scenario_name, path=plan.scenario_path, description=plan.description,
                                  time_scale=plan.time_scale, rates_eps=tuple(plan.rates_eps),
                                  load_duration_s=plan.load_duration_s),
            target=TargetInfo(name=plan.target.kind, url=plan.target.url, embedded=plan.pipeline is not None,
                              pipeline=asdict(plan.pipeline) if plan.pipeline is not None else None),
            settings={"processes": plan.processes, "workers": plan.workers,
                      "master_bind": plan.master_bind if plan.workers else None, "target_options": plan.target.options,
                      "reader": asdict(plan.target.reader) if plan.target.reader else None,
                      "tls": asdict(plan.target.tls),
                      "transactional": plan.probe.transactional, "interval_s": plan.probe.interval_s,
                      "poll_interval_s": plan.probe.poll_interval_s, "drain_s": plan.probe.drain_s,
                      "seed": plan.load.seed, "out_root": str(self.options.out_root),
                      **({"remote_write": self.pusher.summary()} if self.pusher else {})},
            slo={"path": plan.slo_path, "tiers": [_tier_doc(plan.slo, t) for t in plan.slo.tiers],
                 "resources": asdict(plan.slo.resources)},
            resources=self.resources,
            expected_tiers=plan.expected_tiers, tags=plan.tags,
            notes=(*plan.notes, *([n for n in [self.pusher.note()] if n] if self.pusher else [])),
            probe=ProbeSummary(canary_batch_size=plan.probe.batch_size, load_eps=probe_load_eps(plan)),
            versions=versions(), machine=machine_facts(),
            children=tuple(ChildInfo(c.name, c.pid, c.poll(), str(c.log_path.relative_to(self.dir)))
                           for c in children),
            run_problems=(*plan.unmeasured, *(sup.problems if sup is not None else ())),
        )

    def _write_run_json(self, status: str) -> None:
        write_json_atomic(self.dir / RUN_JSON, self._record(status).to_dict())

    def _finish(self) -> Finished:
        """Record how the run ended, then judge from the files alone, exactly as ``ingestbench gate`` would."""
        sup = self.supervisor
        ended = INTERRUPTED if sup is not None and (sup.interrupted or sup.cut_short) else FINISHED
        self._write_run_json(ended)

        def amend(run: RunRecord, files: RunFiles) -> RunRecord:
            summary = files.probe.summary if files.probe else ProbeSummary()
            now = time.time()
            return run.with_(finished_unix_s=now, duration_s=round(now - self._started, 2),
                             probe=replace(summary, canary_batch_size=run.probe.canary_batch_size,
                                           load_eps=run.probe.load_eps))

        return finish(self.dir, amend=amend)


def open_set(options: RunOptions, set_id: str) -> tuple[Path, RunOptions]:
    """The directory of a set of runs (replicates, a search's steps) and the options its runs are made with (each
    run's directory inside it); ``<out>/latest`` points at it. A set id already used is a configuration error."""
    path = options.out_root / set_id
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise ConfigError(f"run-id: {path} exists already: give another --run-id") from None
    point_latest(options.out_root, set_id)
    return path, replace(options, out_root=path)


def probe_load_eps(plan: Plan) -> float:
    """Events/s the probe's canary requests add to the load (a canary rides in a batch like the load's)."""
    return plan.probe.batch_size / plan.probe.interval_s


def probe_load_warning(plan: Plan) -> str | None:
    """A note when the canaries' own events would move a step's traffic into another tier's band: the target then
    sees a rate the run does not tier its canaries by. (Below that, the canaries add load the verdicts allow for.)"""
    added = probe_load_eps(plan)
    for rate in plan.rates_eps:
        tier, seen = plan.slo.tier_for(ANALYTICAL, rate), plan.slo.tier_for(ANALYTICAL, rate + added)
        if tier != seen:
            advice = "a longer [probe] interval_s" if plan.probe.batch_size == 1 else \
                "[probe] single_event = true or a longer interval_s"
            return (f"the probe adds ~{added:.0f} events/s (a canary in a batch of {plan.probe.batch_size} every "
                    f"{plan.probe.interval_s:g} s): the {rate:g} events/s step reaches the target at "
                    f"~{rate + added:.0f} events/s, in the band of tier {seen.name if seen else 'none'} rather than "
                    f"{tier.name if tier else 'none'}; {advice} would keep it in its own")
    return None


def _tier_doc(slo: Slo, tier: Tier) -> dict[str, Any]:
    """A tier as the run judged it: as written in the file, plus its scaled target and loss horizon."""
    return {**asdict(tier), "scaled_target_s": slo.target_s(tier), "loss_horizon_s": slo.loss_horizon_s(tier)}
