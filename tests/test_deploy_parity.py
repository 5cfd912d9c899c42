"""The deployments rehearsed: every harness container of ``docker-compose.yml`` (as ``docker-compose config``
renders it with ``.env.example``) and of ``deploy/kubernetes/`` started here with its exact command, arguments
and environment (``tests/deploy.py`` says what is translated), each worker in its own empty directory with no
file of the checkout. The scenario ``quick`` with two workers ends in a verdict, exit 0, with its reports in the
mapped results directory; a worker killed with SIGKILL in the middle makes the run invalid (exit 3), naming the
worker."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.compose import Native, container_ports, mounts
from tests.dashboards.prom import free_port, need
from tests.deploy import Stack, healthcheck_passes, manifests, rendered, stack
from tests.procs import status_kib

RUN_TIMEOUT_S = 240.0  # quick: ~33 s of load at time scale 0.1, the workers' connection, a short drain, reports


@dataclass
class Outcome:
    code: int
    results: Path
    output: str
    killed: str | None = None  # the worker killed, as the run knows it (the id its log gives)
    worker_peak_kib: dict[str, int] = field(default_factory=dict)
    series: list[dict[str, str]] = field(default_factory=list)  # what Prometheus received of the run

    @property
    def run(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.results / "latest" / "run.json").read_text())
        return doc


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bytes(resp.read())
    except OSError:
        return None


def _load_running(results: Path) -> bool:
    """The load has been going for a few seconds: the run's rate timeline has lines."""
    return any(len(p.read_text().splitlines()) >= 3 for p in results.glob("*/rates.jsonl"))


def _finish(s: Stack, results: Path, workers: list[str], kill: bool) -> Outcome:
    """Wait for the coordinator's verdict, killing one worker mid-run when asked; sample the workers' memory."""
    killed = None
    peaks: dict[str, int] = {}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while s.procs["run"].poll() is None and time.monotonic() < deadline:
        for name in workers:
            peaks[name] = max(peaks.get(name, 0), status_kib(s.procs[name].pid, "VmHWM") or 0)
        if kill and killed is None and _load_running(results):
            s.kill(workers[-1])
            said = re.search(r"worker (\S+) takes its load", s.logs[workers[-1]].read_text(errors="replace"))
            killed = said[1] if said else f"{workers[-1]} (its log names no worker id)"
        time.sleep(0.5)
    code = s.exit_code("run", 5)
    return Outcome(code, results, s.logs["run"].read_text(errors="replace"), killed, peaks)


def compose_run(tmp: Path, *, kill: bool) -> tuple[Outcome, str]:
    """The compose stack here: Prometheus, the pipeline, the coordinator and its workers, each started once the
    services it depends on meet its conditions (their healthchecks run here); returns the run's outcome and the
    Prometheus URL that received it."""
    doc = rendered(need("docker-compose"))
    services = doc["services"]
    named = {v: tmp / v for v in doc["volumes"]}
    for path in named.values():
        path.mkdir()
    results = tmp / "results"
    results.mkdir()
    ports = {p: free_port() for p in container_ports(doc)}
    started: set[str] = set()

    def start(s: Stack, name: str, replica: str | None = None, entrypoint: str | None = None) -> None:
        service = services[name]
        for dep, cond in service.get("depends_on", {}).items():
            assert dep in started, f"{name} needs {dep} started first"
            if cond["condition"] == "service_healthy":
                s.wait(f"{dep} healthy", lambda d=dep: healthcheck_passes(services[d]["healthcheck"]["test"], ports),
                       60, alive=(dep,))
        volumes = {k: (results if k == "/results" else v) for k, v in mounts(service, named).items()}
        native = Native(set(services), ports, volumes)
        env = {k: native.arg(str(v)) for k, v in (service.get("environment") or {}).items()}
        s.start(replica or name, native.command(service, entrypoint), env)
        started.add(name)

    with stack(tmp) as s:
        start(s, "prometheus", entrypoint=need("prometheus"))
        start(s, "pipeline")
        start(s, "run")
        workers = [f"worker-{i + 1}" for i in range(int(services["worker"]["deploy"]["replicas"]))]
        for name in workers:
            start(s, "worker", replica=name)
        outcome = _finish(s, results, workers, kill)
        prometheus = f"http://127.0.0.1:{ports[9090]}"
        if outcome.code == 0:  # the series Prometheus holds for the run, asked before it stops (the run ends them
            # with staleness markers, so an instant query now finds nothing: ask for the series themselves)
            match = urllib.parse.urlencode({"match[]": f'{{run_id="{outcome.run["run_id"]}"}}'})
            answer = json.loads(_get(f"{prometheus}/api/v1/series?{match}") or b"{}")
            outcome.series = answer.get("data", [])
    return outcome, prometheus


def kubernetes_run(tmp: Path, *, kill: bool) -> Outcome:
    """The manifests here: the pipeline Deployment (until its readiness probe passes), the coordinator Job and
    the worker Deployment's replicas; ConfigMap volumes are their files, Services are 127.0.0.1."""
    objs = manifests()
    by = {(d["kind"], d["metadata"]["name"]): d for d in objs}
    hosts = {d["metadata"]["name"] for d in objs if d["kind"] == "Service"}
    ports = {p["port"]: free_port() for d in objs if d["kind"] == "Service" for p in d["spec"]["ports"]}
    results = tmp / "results"
    results.mkdir()

    def container(kind: str, name: str) -> tuple[dict[str, Any], Native, dict[str, str]]:
        pod = by[(kind, name)]["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        volumes: dict[str, Path] = {}
        for v in pod.get("volumes", []):
            path = volumes[v["name"]] = tmp / f"{name}-{v['name']}"
            path.mkdir(exist_ok=True)
            if "configMap" in v:
                for key, text in by[("ConfigMap", v["configMap"]["name"])]["data"].items():
                    (path / key).write_text(text)
            if "persistentVolumeClaim" in v:
                volumes[v["name"]] = results
        native = Native(hosts, ports, {m["mountPath"]: volumes[m["name"]] for m in c.get("volumeMounts", [])})
        env = {}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = native.arg(e["value"])
            else:  # a reference: no Secret and no settings ConfigMap exist here, so each must be optional
                ref = e["valueFrom"].get("secretKeyRef") or e["valueFrom"].get("configMapKeyRef")
                assert ref["optional"] is True and ("ConfigMap", ref["name"]) not in by, e["name"]
        return c, native, env

    with stack(tmp) as s:
        c, native, env = container("Deployment", "ingestbench-pipeline")
        s.start("pipeline", native.command({"command": c["command"] + c["args"]}), env)
        probe = c["readinessProbe"]["httpGet"]
        port = {p["name"]: p["containerPort"] for p in c["ports"]}[probe["port"]]
        s.wait("pipeline ready", lambda: _get(f"http://127.0.0.1:{ports[port]}{probe['path']}"), 60,
               alive=("pipeline",))
        c, native, env = container("Job", "ingestbench-run")
        s.start("run", native.command({"command": c["command"] + c["args"]}), env)
        workers = [f"worker-{i + 1}" for i in range(by[("Deployment", "ingestbench-worker")]["spec"]["replicas"])]
        c, native, env = container("Deployment", "ingestbench-worker")
        for name in workers:
            s.start(name, native.command({"command": c["command"] + c["args"]}), env)
        return _finish(s, results, workers, kill)


def _passed(outcome: Outcome) -> None:
    assert outcome.code == 0, outcome.output[-4000:]
    for name in ("run.json", "report.md", "report.html", "junit.xml", "samples.jsonl", "rates.jsonl"):
        assert (outcome.results / "latest" / name).is_file(), name
    assert outcome.run["scenario"]["name"] == "quick" and outcome.run["status"] == "finished"
    assert len(outcome.worker_peak_kib) == 2 and all(kib > 0 for kib in outcome.worker_peak_kib.values())


def _invalid(outcome: Outcome) -> None:
    """Exit 3, the killed worker named as lost in run.json's reasons and in the output, and no other."""
    assert outcome.killed is not None, "the load never started"
    assert outcome.code == 3, outcome.output[-4000:]
    reasons = outcome.run["invalid_reasons"]
    assert any(outcome.killed in r and "lost" in r for r in reasons), (outcome.killed, reasons)
    assert outcome.killed in outcome.output
    lost = [g["id"] for g in outcome.run["generators"] if g.get("lost_at_s") is not None]
    assert lost == [outcome.killed], lost


@pytest.mark.slow
@pytest.mark.server
def test_the_compose_stack_ends_in_a_verdict_with_two_workers(tmp_path: Path) -> None:
    outcome, _prometheus = compose_run(tmp_path, kill=False)
    _passed(outcome)
    jobs = {s["job"] for s in outcome.series}
    assert {"ingestbench-probe", "ingestbench-generator"} <= jobs, f"Prometheus received by remote write: {jobs}"
    names = {s["__name__"] for s in outcome.series}
    assert "ingestbench_canaries_total" in names and "ingestbench_loadgen_achieved_eps" in names, sorted(names)
    # `up` too, as a scrape would give it: the dashboards' and the alerts' view of the probe is the same
    assert {s["job"] for s in outcome.series if s["__name__"] == "up"} >= {"ingestbench-probe"}


@pytest.mark.slow
@pytest.mark.server
def test_the_compose_stack_is_invalid_when_a_worker_dies(tmp_path: Path) -> None:
    _invalid(compose_run(tmp_path, kill=True)[0])


@pytest.mark.slow
@pytest.mark.server
def test_the_kubernetes_manifests_end_in_a_verdict_with_two_workers(tmp_path: Path) -> None:
    outcome = kubernetes_run(tmp_path, kill=False)
    _passed(outcome)
    (worker,) = [d for d in manifests() if d["metadata"]["name"] == "ingestbench-worker"]
    limit = {"512Mi": 512 * 1024}[worker["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]]
    assert max(outcome.worker_peak_kib.values()) < limit, outcome.worker_peak_kib


@pytest.mark.slow
@pytest.mark.server
def test_the_kubernetes_manifests_are_invalid_when_a_worker_dies(tmp_path: Path) -> None:
    _invalid(kubernetes_run(tmp_path, kill=True))
