"""The children of a run: started in order, watched while the load runs, stopped in order.

The embedded pipeline first (unless the plan's target has a URL), once it is ready the probe and Locust
headless with the loadgen; each is given only ``--plan`` (and Locust its own words). The load ends when its
schedule ends; the probe then drains its pending canaries (a second Ctrl-C skips the drain). A child that dies,
or a load that ends early, is a problem of the run, recorded with the child's last log lines.
"""

from __future__ import annotations

import signal
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ingestbench.orchestrate.children import Child
from ingestbench.orchestrate.discovery import MetricsDiscovery
from ingestbench.orchestrate.net import free_port, reachable, tls_problem
from ingestbench.orchestrate.progress import Progress
from ingestbench.orchestrate.resources import ResourceSampler
from ingestbench.records.config import host_port
from ingestbench.records.jsonl import read_json
from ingestbench.records.observation import ANALYTICAL, TRANSACTIONAL
from ingestbench.records.plan import Plan

# Locust runs it in its own processes (a path, not an import: the entry point is in the layer above)
LOCUSTFILE = Path(__file__).resolve().parents[1] / "cli" / "locustfile.py"
POLL_S = 0.25
READY_WITHIN_S = 30.0


class Supervisor:
    """Runs the children of one settled plan (its ``plan.json`` already written in ``run_dir``)."""

    def __init__(self, plan: Plan, run_dir: Path, discovery: MetricsDiscovery, *, progress: bool,
                 on_started: Callable[[], None] = lambda: None):
        self.plan = plan
        self.dir = run_dir
        self.plan_file = str(run_dir / "plan.json")
        self.discovery = discovery
        self.progress = progress
        self.on_started = on_started  # called once every child is running (their PIDs are known)
        self.children: list[Child] = []
        self.problems: list[str] = []
        self.interrupted = False
        self.cut_short = False  # a child died or the load ended early: the schedule did not run to its end
        self._started = time.time()
        port = plan.probe.metrics_port
        self.metrics_url = f"http://127.0.0.1:{port}/metrics" if port else ""
        # the target's own CPU and memory, once a second in a thread, from the start of the load to the end
        # of the drain: the embedded pipeline (once started) and every process or cgroup the plan names
        self.sampler = ResourceSampler(interval_s=1.0)
        for pid in plan.observe_pids:
            self.sampler.watch_pid(f"pid {pid}", pid)
        for cgroup in plan.observe_cgroups:
            self.sampler.watch_cgroup(cgroup)

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM: stop the load; a second one (or one during the drain) skips the probe's drain."""
        if not self.interrupted:
            print("\ningestbench: interrupted: stopping load, probe and target; writing results", file=sys.stderr)
        self.interrupted = True

    def run(self) -> None:
        py = sys.executable
        if self.plan.pipeline is not None and not self._start_pipeline(py):
            return
        url = self.plan.target.url or ""
        if self.plan.pipeline is None and not reachable(url):
            self.problems.append(f"target {self.plan.target.kind} at {url} is unreachable")
            return
        reader = self.plan.target.reader
        if reader is not None and not reachable(reader.url or ""):
            self.problems.append(f"reader {reader.kind} at {reader.url} is unreachable")
            return
        problem = tls_problem(url, self.plan.target.tls, reader.url if reader else None)
        if problem:  # checked before any child sends a request: no write key goes to a server not trusted
            print(f"ingestbench: {problem}; stopping before any request is sent", file=sys.stderr)
            self.problems.append(f"{problem}: nothing was sent (trust its CA with --ca-file, or --insecure)")
            return
        probe = Child("probe", [py, "-m", "ingestbench", "probe", "--plan", self.plan_file],
                      self.dir / "logs" / "probe.log", ok_exit_codes=(0, 1, 3))
        # Locust's own words only: headless, its summary, and how it forks its processes
        locust_cmd = [py, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
                      "--plan", self.plan_file]
        if self.plan.workers:
            # workers started elsewhere connect here; Locust's own wait is only a backstop for this run's
            bind_host, bind_port = host_port(self.plan.master_bind, "--master-bind")
            # Locust gives up at the timeout itself: it then tells the workers that came to quit (stopped by a
            # signal while it waits, it could not, and they would wait a minute for its heartbeat)
            locust_cmd += ["--master", "--expect-workers", str(self.plan.workers), "--expect-workers-max-wait",
                           f"{self.plan.workers_timeout_s:g}", "--master-bind-host", bind_host,
                           "--master-bind-port", str(bind_port)]
        elif self.plan.processes > 1:
            # Locust's master listens for its workers on *:5557 unless told otherwise: on every interface, and
            # where a second run's workers would join this run's master. Loopback and a port of its own.
            master_port = str(free_port())
            locust_cmd += ["--processes", str(self.plan.processes), "--master-bind-host", "127.0.0.1",
                           "--master-bind-port", master_port, "--master-port", master_port]
        load = Child("locust", locust_cmd, self.dir / "logs" / "locust.log", ok_exit_codes=(0, 1, 3))
        if self.plan.workers:  # the probe starts once every worker is there, as the load does
            load.start()
            self.children.append(load)
            if not self._await_workers(load):
                return
            probe.start()
            self.children.insert(0, probe)
        else:
            for child in (probe, load):
                child.start()
                self.children.append(child)
        self.discovery.add("probe", f"127.0.0.1:{self.plan.probe.metrics_port}")
        if self.plan.generator_metrics_port:
            self.discovery.add("generator", f"127.0.0.1:{self.plan.generator_metrics_port}")
        self.sampler.start()
        self.on_started()
        self._supervise(load, probe)

    def stop_all(self) -> None:
        """Every child still running, last started first."""
        for child in reversed(self.children):
            child.stop(grace_s=5.0)

    def _start_pipeline(self, py: str) -> bool:
        assert self.plan.pipeline is not None and self.plan.pipeline.ready_file is not None
        ready = Path(self.plan.pipeline.ready_file)
        child = Child("pipeline", [py, "-m", "ingestbench", "pipeline", "--plan", self.plan_file],
                      self.dir / "logs" / "pipeline.log")
        child.start()
        self.children.append(child)
        assert child.pid is not None
        self.sampler.watch_pid("pipeline", child.pid)
        deadline = time.monotonic() + READY_WITHIN_S
        while time.monotonic() < deadline and not self.interrupted:
            if child.poll() is not None:
                self.problems.append(f"the pipeline exited with {child.poll()} before it was ready: {child.tail(5)}")
                return False
            if ready.exists() and ready.read_text().strip():
                self.discovery.add("pipeline", ready.read_text().strip())
                return True
            time.sleep(0.05)
        self.problems.append(f"the pipeline did not become ready within {READY_WITHIN_S:g} s"
                             if not self.interrupted else "interrupted before the pipeline was ready")
        return False

    def _await_workers(self, load: Child) -> bool:
        """Wait for the plan's workers to connect to the master; False (with the problem recorded and the
        master stopped) when they do not come in time, the master exits, or the run is interrupted."""
        plan = self.plan
        assert plan.generators_file is not None
        print(f"ingestbench: waiting up to {plan.workers_timeout_s:g} s for {plan.workers} generator worker(s) on "
              f"{plan.master_bind} (start each with `ingestbench worker --master HOST:PORT`)", file=sys.stderr)
        started = time.monotonic()
        connected: list[str] = []
        while True:
            # read until the timeout: a master that gives up tells the workers to quit, and they leave its list
            in_time = time.monotonic() - started < plan.workers_timeout_s
            now = read_json(Path(plan.generators_file)).get("connected") or [] if in_time else connected
            if now != connected:
                print(f"ingestbench: {len(now)} of {plan.workers} worker(s) connected", file=sys.stderr)
                connected = now
            if len(connected) >= plan.workers:
                return True
            problem = None
            waited_s = time.monotonic() - started
            if load.poll() is not None and waited_s < plan.workers_timeout_s:
                problem = (f"the generator's master exited with {load.poll()} while waiting for its workers; last "
                           f"lines:\n{load.tail(10)}")
            elif self.interrupted:
                problem = f"interrupted while waiting for workers ({len(connected)} of {plan.workers} connected)"
            elif load.poll() is not None or waited_s > plan.workers_timeout_s + 10:
                problem = (f"only {len(connected)} of the {plan.workers} generator workers connected within "
                           f"{plan.workers_timeout_s:g} s ({', '.join(connected) or 'none'}); nothing was sent. "
                           f"Start each with `ingestbench worker --master HOST:PORT` (this run listened on "
                           f"{plan.master_bind})")
            if problem is not None:
                self.problems.append(problem)
                self.cut_short = True
                load.stop(sig=signal.SIGTERM, grace_s=5.0)
                return False
            time.sleep(0.1)

    def _drain_limit_s(self) -> float:
        """The longest the probe's drain can take: until the last canary is past its loss horizon (a few
        polls and a request timeout after), or the scenario's ``drain_s`` cap."""
        slo, probe = self.plan.slo, self.plan.probe
        horizon = max(slo.probe_horizon_s(ANALYTICAL), slo.probe_horizon_s(TRANSACTIONAL))
        limit = horizon + 2 * probe.poll_interval_s + probe.timeout_s
        return limit if probe.drain_s is None else min(limit, probe.drain_s)

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
        with Progress(self.dir, steps_total=steps_total, slo=self.plan.slo, enabled=self.progress) as progress:
            while True:
                progress.update(pending=self._pending())
                dead = [c for c in self.children if c.died()]
                if dead:
                    for c in dead:
                        self.problems.append(f"{c.name} exited with {c.poll()} during the run "
                                             f"({self._since_start()}); last lines:\n{c.tail(10)}")
                    self.cut_short = True
                    break
                if self.interrupted:
                    break
                if load.poll() is not None:
                    if time.monotonic() - load.started_s < self.plan.load_duration_s:
                        # an exit code Locust also gives a finished test (1: some requests failed), but early
                        self.problems.append(f"{load.name} exited with {load.poll()} before the "
                                             f"{self.plan.load_duration_s:g} s schedule could end "
                                             f"({self._since_start()}); last lines:\n{load.tail(10)}")
                        self.cut_short = True
                    break
                time.sleep(POLL_S)
            load.stop(sig=signal.SIGTERM, grace_s=15.0)
            self.discovery.remove("generator")
            self._drain(probe, progress)
        if self.interrupted:
            self.problems.append("the run was interrupted before the schedule ended")

    def _drain(self, probe: Child, progress: Progress) -> None:
        """The probe drains pending canaries on the first SIGINT; a second one skips the drain."""
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

    def _since_start(self) -> str:
        return f"{time.time() - self._started:.1f} s after the run started"
