"""``ingestbench run``: start what a scenario needs, supervise it, collect, judge, report.

Children (each its own process, log under ``logs/``): the embedded reference pipeline (unless a target
URL is given), the probe (``ingestbench probe`` tiering by the load's rate timeline) and Locust headless
with the loadgen. The run ends when the load schedule ends; the probe then drains pending canaries and
the pipeline stops. A child that dies ends the run as invalid with its last log lines; Ctrl-C stops
everything in order and still writes what was collected.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ingestbench import loadgen
from ingestbench.checks.slo import Slo, load_slo
from ingestbench.orchestrate.children import Child
from ingestbench.orchestrate.discovery import MetricsDiscovery
from ingestbench.orchestrate.machine import machine_facts, versions
from ingestbench.orchestrate.net import free_port, reachable, tls_problem
from ingestbench.orchestrate.progress import Progress
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.observation import ANALYTICAL, TRANSACTIONAL
from ingestbench.records.plan import Plan
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
from ingestbench.results.judging import judge_files, slo_for, with_verdict, write_judged
from ingestbench.results.reports import write_reports
from ingestbench.results.rundir import PLAN_JSON, RATES, RUN_JSON, SCENARIO_COPY, SLO_COPY, RunFiles

LOCUSTFILE = Path(loadgen.__file__).resolve().parent / "locustfile.py"  # Locust runs it in its own processes

log = logging.getLogger("ingestbench.orchestrate.run")
POLL_S = 0.25


@dataclass(frozen=True)
class RunOptions:
    """How this process runs the plan (not part of the plan: no child needs them)."""

    out_root: Path
    progress: bool = True
    metrics_sd: Path | None = None  # a Prometheus file_sd file listing the run's /metrics endpoints


class Run:
    """Executes a resolved :class:`~ingestbench.records.plan.Plan`: children, supervision, judging, reports."""

    def __init__(self, plan: Plan, options: RunOptions, *, scenario_text: str):
        self.plan = plan
        self.options = options
        self.run_id = plan.run_id
        self.dir = options.out_root / self.run_id
        self._scenario_text = scenario_text
        self.children: list[Child] = []
        self.invalid: list[str] = list(plan.unmeasured)  # known before anything starts: said, not hidden
        self.interrupted = False
        self.cut_short = False  # a child died or the load ended early: the schedule did not run to its end
        self.url = plan.target.url
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._started = time.time()
        self.metrics_url = ""
        self.slo: Slo = load_slo(plan.slo_path, time_scale=plan.time_scale)
        self.discovery = MetricsDiscovery(options.metrics_sd, run_id=plan.run_id)

    @property
    def embedded(self) -> bool:
        """The target is the pipeline this run starts (the plan's URL is filled in once it listens)."""
        return self.plan.pipeline is not None

    # --- public -------------------------------------------------------------------------------
    def execute(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=False)
        (self.dir / SCENARIO_COPY).write_text(self._scenario_text, encoding="utf-8")
        shutil.copyfile(self.plan.slo_path, self.dir / SLO_COPY)
        self._settle_plan()
        self.plan.write(self.dir / PLAN_JSON)  # once, before any child starts: every child reads only this
        self._write_run_json(RUNNING)
        print(f"ingestbench: run {self.run_id}: results in {self.dir}", file=sys.stderr)
        warning = self.probe_load_warning()
        if warning:
            print(f"ingestbench: warning: {warning}", file=sys.stderr)
        for note in (*self.plan.notes, *self.plan.unmeasured):
            print(f"ingestbench: note: {note}", file=sys.stderr)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        term = signal.signal(signal.SIGTERM, self._on_sigint)
        try:
            self._run_children()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, term)
            for child in reversed(self.children):
                child.stop(grace_s=5.0)
            self.discovery.clear()
            if self._tmp is not None:
                self._tmp.cleanup()
        return self._finish()

    # --- children -----------------------------------------------------------------------------
    def _on_sigint(self, _sig: int, _frame: Any) -> None:
        if not self.interrupted:
            print("\ningestbench: interrupted: stopping load, probe and target; writing results", file=sys.stderr)
        self.interrupted = True

    def _settle_plan(self) -> None:
        """Everything a child will need that the resolution could not know: ports, the embedded pipeline's
        address and store, the files of this results directory."""
        plan = self.plan
        if plan.pipeline is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ingestbench-pipeline-")
            port = free_port()
            pipeline = replace(plan.pipeline, host="127.0.0.1", port=port, data_dir=str(Path(self._tmp.name) / "data"),
                               ready_file=str(Path(self._tmp.name) / "ready"))
            self.url = f"http://127.0.0.1:{port}"
            plan = replace(plan, pipeline=pipeline)
        metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        probe = replace(plan.probe, url=self.url or "", out=str(self.dir), rate_timeline=str(self.dir / RATES),
                        slo_path=str(self.dir / SLO_COPY), metrics_port=metrics_port)
        self.plan = replace(plan, probe=probe, target=replace(plan.target, url=self.url),
                            rates_out=str(self.dir / RATES),
                            generator_metrics_port=free_port() if self.discovery.path else None)

    def _run_children(self) -> None:
        py = sys.executable
        plan_file = str(self.dir / PLAN_JSON)
        if self.embedded and not self._start_pipeline(py, plan_file):
            return
        if not self.embedded and not reachable(self.url or ""):
            self.invalid.append(f"target {self.plan.target.kind} at {self.url} is unreachable")
            return
        reader = self.plan.target.reader
        if reader is not None and not reachable(reader.url or ""):
            self.invalid.append(f"reader {reader.kind} at {reader.url} is unreachable")
            return
        problem = tls_problem(self.url or "", self.plan.target.tls, reader.url if reader else None)
        if problem:  # checked before any child sends a request: no write key goes to a server not trusted
            print(f"ingestbench: {problem}; stopping before any request is sent", file=sys.stderr)
            self.invalid.append(f"{problem}: nothing was sent (trust its CA with --ca-file, or --insecure)")
            return
        probe = Child("probe", [py, "-m", "ingestbench", "probe", "--plan", plan_file],
                      self.dir / "logs" / "probe.log", ok_exit_codes=(0, 1, 3))
        # Locust's own words only: headless, its summary, and how it forks its processes
        locust_cmd = [py, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--plan", plan_file]
        if self.plan.processes > 1:
            # Locust's master listens for its workers on *:5557 unless told otherwise: on every interface, and
            # where a second run's workers would join this run's master. Loopback and a port of its own.
            master_port = str(free_port())
            locust_cmd += ["--processes", str(self.plan.processes), "--master-bind-host", "127.0.0.1",
                           "--master-bind-port", master_port, "--master-port", master_port]
        load = Child("locust", locust_cmd, self.dir / "logs" / "locust.log", ok_exit_codes=(0, 1, 3))
        for child in (probe, load):
            child.start()
            self.children.append(child)
        self.discovery.add("probe", f"127.0.0.1:{self.plan.probe.metrics_port}")
        if self.plan.generator_metrics_port:
            self.discovery.add("generator", f"127.0.0.1:{self.plan.generator_metrics_port}")
        self._write_run_json(RUNNING)  # now with the children's PIDs
        self._supervise(load, probe)

    def _start_pipeline(self, py: str, plan_file: str) -> bool:
        assert self.plan.pipeline is not None and self.plan.pipeline.ready_file is not None
        ready = Path(self.plan.pipeline.ready_file)
        child = Child("pipeline", [py, "-m", "ingestbench", "pipeline", "--plan", plan_file],
                      self.dir / "logs" / "pipeline.log")
        child.start()
        self.children.append(child)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.interrupted:
            if child.poll() is not None:
                self.invalid.append(f"the pipeline exited with {child.poll()} before it was ready: {child.tail(5)}")
                return False
            if ready.exists() and ready.read_text().strip():
                self.discovery.add("pipeline", ready.read_text().strip())
                return True
            time.sleep(0.05)
        self.invalid.append("the pipeline did not become ready within 30 s" if not self.interrupted
                            else "interrupted before the pipeline was ready")
        return False

    @property
    def probe_load_eps(self) -> float:
        """Events/s the probe's canary requests add to the load (a canary rides in a batch like the load's)."""
        return self.plan.probe.batch_size / self.plan.probe.interval_s

    def probe_load_warning(self) -> str | None:
        """A note when the canaries' own events are a sizeable share of the smallest step's rate."""
        lowest = min(self.plan.rates_eps, default=0.0)
        if not lowest or self.probe_load_eps <= 0.1 * lowest:
            return None
        return (f"the probe adds ~{self.probe_load_eps:.0f} events/s (a canary in a batch of "
                f"{self.plan.probe.batch_size} every {self.plan.probe.interval_s:g} s), "
                f"{self.probe_load_eps / lowest:.0%} of the lowest step ({lowest:g} events/s); set [probe] "
                "single_event = true or a longer interval_s if that matters for this target")

    def _drain_limit_s(self) -> float:
        """The longest the probe's drain can take: until the last canary is past its loss horizon (a few
        polls and a request timeout after), or the scenario's ``drain_s`` cap."""
        horizon = max(self.slo.probe_horizon_s(ANALYTICAL), self.slo.probe_horizon_s(TRANSACTIONAL))
        limit = horizon + 2 * self.plan.probe.poll_interval_s + 5.0
        return limit if self.plan.probe.drain_s is None else min(limit, self.plan.probe.drain_s)

    def _pending(self) -> float | None:
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=0.5) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        total = 0.0
        for line in text.splitlines():
            if line.startswith("ingestbench_canaries_pending{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def _supervise(self, load: Child, probe: Child) -> None:
        steps_total = len(self.plan.rates_eps)
        with Progress(self.dir, steps_total=steps_total, slo=self.slo, enabled=self.options.progress) as progress:
            while True:
                progress.update(pending=self._pending())
                dead = [c for c in self.children if c.died()]
                if dead:
                    for c in dead:
                        self.invalid.append(f"{c.name} exited with {c.poll()} during the run "
                                            f"({self._since_start()}); last lines:\n{c.tail(10)}")
                    self.cut_short = True
                    break
                if self.interrupted:
                    break
                if load.poll() is not None:
                    if time.monotonic() - load.started_s < self.plan.load_duration_s:
                        # an exit code Locust also gives a finished test (1: some requests failed), but early
                        self.invalid.append(f"{load.name} exited with {load.poll()} before the "
                                            f"{self.plan.load_duration_s:g} s schedule could end "
                                            f"({self._since_start()}); last lines:\n{load.tail(10)}")
                        self.cut_short = True
                    break
                time.sleep(POLL_S)
            load.stop(sig=signal.SIGTERM, grace_s=15.0)
            self.discovery.remove("generator")
            # the probe drains pending canaries on the first SIGINT; a second one skips the drain
            probe.send(signal.SIGINT)
            skipped = False
            deadline = time.monotonic() + self._drain_limit_s() + 30
            while probe.running and time.monotonic() < deadline:
                if self.interrupted and not skipped:  # Ctrl-C (now or during the drain): skip the drain, once
                    time.sleep(0.2)
                    probe.send(signal.SIGINT)
                    skipped = True
                progress.update(pending=self._pending(), drain_left_s=deadline - 30 - time.monotonic())
                time.sleep(POLL_S)
            probe.stop(sig=signal.SIGINT, grace_s=5.0)
            self.discovery.remove("probe")
            progress.update()
        if self.interrupted:
            self.invalid.append("the run was interrupted before the schedule ended")

    def _since_start(self) -> str:
        return f"{time.time() - self._started:.1f} s after the run started"

    # --- results ------------------------------------------------------------------------------
    def _record(self, status: str) -> RunRecord:
        plan = self.plan
        pipeline = asdict(plan.pipeline) if plan.pipeline is not None and self.embedded else None
        return RunRecord(
            run_id=self.run_id, status=status, started_unix_s=self._started,
            scenario=ScenarioInfo(name=plan.scenario_name, path=plan.scenario_path, description=plan.description,
                                  time_scale=plan.time_scale, rates_eps=tuple(plan.rates_eps),
                                  load_duration_s=plan.load_duration_s),
            target=TargetInfo(name=plan.target.kind, url=self.url, embedded=self.embedded, pipeline=pipeline),
            settings={"processes": plan.processes, "target_options": plan.target.options,
                      "reader": asdict(plan.target.reader) if plan.target.reader else None,
                      "tls": asdict(plan.target.tls),
                      "transactional": plan.probe.transactional, "interval_s": plan.probe.interval_s,
                      "poll_interval_s": plan.probe.poll_interval_s, "drain_s": plan.probe.drain_s,
                      "seed": plan.load.seed, "out_root": str(self.options.out_root)},
            slo={"path": plan.slo_path, "tiers": [_tier_doc(self.slo, t) for t in self.slo.tiers]},
            expected_tiers=plan.expected_tiers, notes=plan.notes,
            probe=ProbeSummary(canary_batch_size=plan.probe.batch_size, load_eps=self.probe_load_eps),
            versions=versions(), machine=machine_facts(),
            children=tuple(ChildInfo(c.name, c.pid, c.poll(), str(c.log_path.relative_to(self.dir)))
                           for c in self.children),
            run_problems=tuple(self.invalid),
        )

    def _write_run_json(self, status: str) -> None:
        write_json_atomic(self.dir / RUN_JSON, self._record(status).to_dict())

    def _finish(self) -> int:
        """Judge from the files alone, exactly as ``ingestbench gate`` would, and write the reports."""
        record = self._record(INTERRUPTED if self.interrupted or self.cut_short else FINISHED)
        write_json_atomic(self.dir / RUN_JSON, record.to_dict())
        files = RunFiles.load(self.dir, with_ids=True)
        verdict = judge_files(files, slo_for(files, None))
        summary = files.probe.summary if files.probe else ProbeSummary()
        record = with_verdict(record, verdict, files).with_(
            finished_unix_s=time.time(), duration_s=round(time.time() - self._started, 2),
            probe=replace(summary, canary_batch_size=record.probe.canary_batch_size, load_eps=record.probe.load_eps))
        write_json_atomic(self.dir / RUN_JSON, record.to_dict())
        files.run = record
        write_judged(files, verdict)
        write_reports(files)
        return int(verdict.exit_code)


def _tier_doc(slo: Slo, tier: Any) -> dict[str, Any]:
    """A tier as the run judged it: as written in the file, plus its scaled target and loss horizon."""
    return {**asdict(tier), "scaled_target_s": slo.target_s(tier), "loss_horizon_s": slo.loss_horizon_s(tier)}
