"""``ingestbench run``: start what a scenario needs, supervise it, collect, judge, report.

Children (each its own process, log under ``logs/``): the embedded reference pipeline (unless a target
URL is given), the probe (``ingestbench probe`` tiering by the load's rate timeline) and Locust headless
with the loadgen. The run ends when the load schedule ends; the probe then drains pending canaries and
the pipeline stops. A child that dies ends the run as invalid with its last log lines; Ctrl-C stops
everything in order and still writes what was collected.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from checks.judge import expected_tiers
from checks.observation import ANALYTICAL, TRANSACTIONAL
from checks.slo import Slo, load_slo
from ingestbench.children import Child
from ingestbench.facts import free_port, machine_facts, reachable, versions
from ingestbench.judging import judge_files, slo_for, step_records, verdict_fields, write_judged
from ingestbench.progress import Progress
from ingestbench.reports import write_reports
from ingestbench.rundir import (
    RUN_JSON,
    SCENARIO_COPY,
    SCHEMA_VERSION,
    SLO_COPY,
    RunFiles,
    probe_counts,
    write_json_atomic,
)
from ingestbench.scenario import with_load_seed

log = logging.getLogger("ingestbench.run")
POLL_S = 0.25


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs, validated at the edge (``cmd_run``). ``load_duration_s`` is already scaled;
    the pipeline's and the probe's durations are as the scenario wrote them (the run scales them)."""

    scenario_name: str
    scenario_path: Path
    description: str
    rates_eps: list[float]
    load_duration_s: float
    time_scale: float
    slo_path: Path
    target: str
    url: str | None
    write_key: str | None
    processes: int
    out_root: Path
    seed: int | None
    progress: bool
    flush_rows: int
    flush_max_wait_s: float
    interval_s: float
    poll_interval_s: float
    drain_s: float | None
    transactional: bool
    canary_batch_size: int

    @property
    def embedded(self) -> bool:
        return self.url is None


class Run:
    def __init__(self, settings: RunSettings):
        self.s = settings
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_id = f"{stamp}-{settings.scenario_name}-{secrets.token_hex(2)}"
        self.dir = settings.out_root / self.run_id
        self.children: list[Child] = []
        self.invalid: list[str] = []
        self.interrupted = False
        self.cut_short = False  # a child died or the load ended early: the schedule did not run to its end
        self.url = settings.url
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._started = time.time()
        self.metrics_url = ""
        self.pipeline_settings: dict[str, Any] | None = None
        self.slo: Slo = load_slo(str(settings.slo_path), time_scale=settings.time_scale)
        self.expected = expected_tiers(self.slo, settings.rates_eps, transactional=settings.transactional)

    # --- public -------------------------------------------------------------------------------
    def execute(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=False)
        text = self.s.scenario_path.read_text(encoding="utf-8")
        if self.s.seed is not None:
            text = with_load_seed(text, self.s.seed)
        (self.dir / SCENARIO_COPY).write_text(text, encoding="utf-8")
        shutil.copyfile(self.s.slo_path, self.dir / SLO_COPY)
        self._write_run_json("running")
        print(f"ingestbench: run {self.run_id}: results in {self.dir}", file=sys.stderr)
        warning = self.probe_load_warning()
        if warning:
            print(f"ingestbench: warning: {warning}", file=sys.stderr)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        term = signal.signal(signal.SIGTERM, self._on_sigint)
        try:
            self._run_children()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, term)
            for child in reversed(self.children):
                child.stop(grace_s=5.0)
            if self._tmp is not None:
                self._tmp.cleanup()
        return self._finish()

    # --- children -----------------------------------------------------------------------------
    def _on_sigint(self, _sig: int, _frame: Any) -> None:
        if not self.interrupted:
            print("\ningestbench: interrupted: stopping load, probe and target; writing results", file=sys.stderr)
        self.interrupted = True

    def _scaled(self, seconds: float) -> float:
        return seconds * self.s.time_scale

    def _run_children(self) -> None:
        py = sys.executable
        if self.s.embedded and not self._start_pipeline(py):
            return
        if not self.s.embedded and not reachable(self.url or ""):
            self.invalid.append(f"target {self.s.target} at {self.url} is unreachable")
            return
        assert self.url is not None
        env = {"INGESTBENCH_WRITE_KEY": self.s.write_key} if self.s.write_key else {}
        metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        probe_cmd = [py, "-m", "ingestbench", "probe", "--target", self.s.target, "--url", self.url,
                     "--rate-timeline", str(self.dir / "rates.jsonl"), "--slo", str(self.dir / SLO_COPY),
                     "--time-scale", repr(self.s.time_scale), "--out", str(self.dir),
                     "--metrics-port", str(metrics_port),
                     "--interval", repr(self._scaled(self.s.interval_s)),
                     "--poll-interval", repr(self._scaled(self.s.poll_interval_s)),
                     "--batch-size", str(self.s.canary_batch_size)]
        for tier in self.expected:
            probe_cmd += ["--expect-tier", tier]
        if self.s.drain_s is not None:
            probe_cmd += ["--drain", repr(self._scaled(self.s.drain_s))]
        if not self.s.transactional:
            probe_cmd.append("--no-transactional")
        if self.s.seed is not None:
            probe_cmd += ["--seed", str(self.s.seed + 1)]
        probe = Child("probe", probe_cmd, self.dir / "logs" / "probe.log", env=env, ok_exit_codes=(0, 1, 3))
        import loadgen

        locustfile = Path(str(loadgen.__file__)).resolve().parent / "locustfile.py"
        locust_cmd = [py, "-m", "locust", "-f", str(locustfile), "--headless", "--host", self.url,
                      "--scenario", str(self.dir / SCENARIO_COPY), "--rates-out", str(self.dir / "rates.jsonl"),
                      "--time-scale", repr(self.s.time_scale), "--target", self.s.target, "--only-summary"]
        if self.s.processes > 1:
            # Locust's master listens for its workers on *:5557 unless told otherwise: on every interface, and
            # where a second run's workers would join this run's master. Loopback and a port of its own.
            master_port = str(free_port())
            locust_cmd += ["--processes", str(self.s.processes), "--master-bind-host", "127.0.0.1",
                           "--master-bind-port", master_port, "--master-port", master_port]
        load = Child("locust", locust_cmd, self.dir / "logs" / "locust.log", env=env, ok_exit_codes=(0, 1, 3))
        for child in (probe, load):
            child.start()
            self.children.append(child)
        self._write_run_json("running")  # now with the children's PIDs
        self._supervise(load, probe)

    def _start_pipeline(self, py: str) -> bool:
        self._tmp = tempfile.TemporaryDirectory(prefix="ingestbench-pipeline-")
        ready = Path(self._tmp.name) / "ready"
        rows = max(1, round(self.s.flush_rows * self.s.time_scale))
        cmd = [py, "-m", "ingestbench", "pipeline", "--host", "127.0.0.1", "--port", "0", "--data",
               str(Path(self._tmp.name) / "data"), "--ready-file", str(ready), "--flush-rows", str(rows),
               "--flush-max-wait", repr(self._scaled(self.s.flush_max_wait_s))]
        env = {"INGESTBENCH_WRITE_KEY": self.s.write_key} if self.s.write_key else {}
        child = Child("pipeline", cmd, self.dir / "logs" / "pipeline.log", env=env)
        child.start()
        self.children.append(child)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.interrupted:
            if child.poll() is not None:
                self.invalid.append(f"the pipeline exited with {child.poll()} before it was ready: {child.tail(5)}")
                return False
            if ready.exists() and ready.read_text().strip():
                host, port = ready.read_text().strip().rsplit(":", 1)
                self.url = f"http://{host}:{port}"
                self.pipeline_settings = {"flush_rows": rows, "flush_max_wait_s": self._scaled(self.s.flush_max_wait_s)}
                return True
            time.sleep(0.05)
        self.invalid.append("the pipeline did not become ready within 30 s" if not self.interrupted
                            else "interrupted before the pipeline was ready")
        return False

    @property
    def probe_load_eps(self) -> float:
        """Events/s the probe's canary requests add to the load (a canary rides in a batch like the load's)."""
        return self.s.canary_batch_size / self._scaled(self.s.interval_s)

    def probe_load_warning(self) -> str | None:
        """A note when the canaries' own events are a sizeable share of the smallest step's rate."""
        lowest = min(self.s.rates_eps, default=0.0)
        if not lowest or self.probe_load_eps <= 0.1 * lowest:
            return None
        return (f"the probe adds ~{self.probe_load_eps:.0f} events/s (a canary in a batch of "
                f"{self.s.canary_batch_size} every {self._scaled(self.s.interval_s):g} s), "
                f"{self.probe_load_eps / lowest:.0%} of the lowest step ({lowest:g} events/s); set [probe] "
                "single_event = true or a longer interval_s if that matters for this target")

    def _drain_limit_s(self) -> float:
        """The longest the probe's drain can take: until the last canary is past its loss horizon (a few
        polls and a request timeout after), or the scenario's ``drain_s`` cap."""
        horizon = max(self.slo.probe_horizon_s(ANALYTICAL), self.slo.probe_horizon_s(TRANSACTIONAL))
        limit = horizon + 2 * self._scaled(self.s.poll_interval_s) + 5.0
        return limit if self.s.drain_s is None else min(limit, self._scaled(self.s.drain_s))

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
        steps_total = len(self.s.rates_eps)
        with Progress(self.dir, steps_total=steps_total, slo=self.slo, enabled=self.s.progress) as progress:
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
                    if time.monotonic() - load.started_s < self.s.load_duration_s:
                        # an exit code Locust also gives a finished test (1: some requests failed), but early
                        self.invalid.append(f"{load.name} exited with {load.poll()} before the "
                                            f"{self.s.load_duration_s:g} s schedule could end "
                                            f"({self._since_start()}); last lines:\n{load.tail(10)}")
                        self.cut_short = True
                    break
                time.sleep(POLL_S)
            load.stop(sig=signal.SIGTERM, grace_s=15.0)
            # the probe drains pending canaries on the first SIGINT; a second one skips the drain
            probe.send(signal.SIGINT)
            if self.interrupted:
                time.sleep(0.2)
                probe.send(signal.SIGINT)
            deadline = time.monotonic() + self._drain_limit_s() + 30
            while probe.running and time.monotonic() < deadline:
                progress.update(pending=self._pending(), drain_left_s=deadline - 30 - time.monotonic())
                if self.interrupted:
                    probe.send(signal.SIGINT)
                time.sleep(POLL_S)
            probe.stop(sig=signal.SIGINT, grace_s=5.0)
            progress.update()
        if self.interrupted:
            self.invalid.append("the run was interrupted before the schedule ended")

    def _since_start(self) -> str:
        return f"{time.time() - self._started:.1f} s after the run started"

    # --- results ------------------------------------------------------------------------------
    def _base_doc(self, status: str) -> dict[str, Any]:
        settings = asdict(self.s)
        settings.pop("write_key", None)
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()}
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": status,
            "started_unix_s": self._started,
            "scenario": {"name": self.s.scenario_name, "path": str(self.s.scenario_path),
                         "description": self.s.description, "time_scale": self.s.time_scale,
                         "rates_eps": self.s.rates_eps, "load_duration_s": self.s.load_duration_s},
            "target": {"name": self.s.target, "url": self.url, "embedded": self.s.embedded,
                       "pipeline": self.pipeline_settings},
            "settings": settings,
            "slo": {"path": str(self.s.slo_path), "tiers": [_tier_doc(self.slo, t) for t in self.slo.tiers]},
            "expected_tiers": self.expected,
            "probe": {"canary_batch_size": self.s.canary_batch_size, "load_eps": self.probe_load_eps},
            "versions": versions(),
            "machine": machine_facts(),
            "children": [{"name": c.name, "pid": c.pid, "exit_code": c.poll(),
                          "log": str(c.log_path.relative_to(self.dir))} for c in self.children],
            "run_problems": list(self.invalid),
        }

    def _write_run_json(self, status: str) -> None:
        write_json_atomic(self.dir / RUN_JSON, self._base_doc(status))

    def _finish(self) -> int:
        """Judge from the files alone, exactly as ``ingestbench gate`` would, and write the reports."""
        doc = self._base_doc("interrupted" if self.interrupted or self.cut_short else "finished")
        write_json_atomic(self.dir / RUN_JSON, doc)
        files = RunFiles.load(self.dir)
        verdict = judge_files(files, slo_for(files, None, self.s.time_scale))
        doc.update(finished_unix_s=time.time(), duration_s=round(time.time() - self._started, 2),
                   steps=step_records(files), probe={**doc["probe"], **probe_counts(files.probe)},
                   **verdict_fields(verdict))
        write_json_atomic(self.dir / RUN_JSON, doc)
        files.run = doc
        write_judged(files, verdict)
        write_reports(files)
        return int(verdict.exit_code)


def _tier_doc(slo: Slo, tier: Any) -> dict[str, Any]:
    """A tier as the run judged it: as written in the file, plus its scaled target and loss horizon."""
    return {**asdict(tier), "scaled_target_s": slo.target_s(tier), "loss_horizon_s": slo.loss_horizon_s(tier)}
