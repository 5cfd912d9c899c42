"""``deploy/kubernetes/``: valid for Kubernetes 1.30 (strict, offline), the coordinator's command the compose
``run`` service's, the workers pointed at its Service, the scenario and SLO in a ConfigMap equal to the built-in
ones, secrets only referenced, and workers sized. Running the manifests' commands is
``tests/test_deploy_parity.py``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingestbench.records.scenario import load_scenario
from ingestbench.records.slo import DEFAULT_SLO_PATH
from tests.compose import ROOT
from tests.dashboards.prom import need
from tests.deploy import KUBERNETES, LOAD_STOP_GRACE_S, longest_drain_s, manifests, rendered

KUBERNETES_VERSION = "1.30.0"


def _validate(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name("kubernetes-validate")
    return subprocess.run([str(tool), "--kubernetes-version", KUBERNETES_VERSION, "--strict", "--quiet",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def _files() -> list[Path]:
    import yaml

    return [KUBERNETES / n for n in yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]]


def _one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container(kind: str, name: str) -> dict[str, Any]:
    spec = _one(kind, name)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return container  # type: ignore[no-any-return]


def test_every_manifest_is_valid_for_kubernetes_strictly(tmp_path: Path) -> None:
    files = _files()
    assert sorted(files) == sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    proc = _validate(files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # strict means strict: a misspelt field is refused, naming it
    broken = tmp_path / "workers.yaml"
    shutil.copy(KUBERNETES / "workers.yaml", broken)
    broken.write_text(broken.read_text().replace("  replicas: 2", "  replica: 2", 1))
    refused = _validate([broken])
    assert refused.returncode != 0 and "replica" in refused.stdout + refused.stderr


def test_the_coordinator_runs_the_compose_run_command() -> None:
    compose = rendered(need("docker-compose"))["services"]["run"]["command"]
    job = _container("Job", "ingestbench-run")
    argv = job["command"] + job["args"]
    flags = {a for a in argv if a.startswith("--")}
    assert argv[:2] == compose[:2] == ["ingestbench", "run"]
    # the same flags, but the SLO passed by path beside the scenario, and remote write from optional settings
    assert flags - {"--slo"} == {a for a in compose if a.startswith("--")} - {"--remote-write"}
    env = {e["name"]: e for e in job["env"]}
    assert env["INGESTBENCH_REMOTE_WRITE"]["valueFrom"]["configMapKeyRef"]["optional"] is True
    for flag in ("--master-bind", "--out"):
        assert argv[argv.index(flag) + 1] == compose[compose.index(flag) + 1], flag
    workers = _one("Deployment", "ingestbench-worker")
    assert argv[argv.index("--workers") + 1] == str(workers["spec"]["replicas"])
    service = _one("Service", "ingestbench-master")
    (port,) = service["spec"]["ports"]
    assert {p["name"]: p["containerPort"] for p in job["ports"]}[port["targetPort"]] == 5557
    assert argv[argv.index("--master-bind") + 1] == f"0.0.0.0:{port['port']}"
    pod_labels = _one("Job", "ingestbench-run")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    worker = _container("Deployment", "ingestbench-worker")
    master = f"ingestbench-master:{port['port']}"
    assert worker["command"] + worker["args"] == ["ingestbench", "worker", "--master", master]
    pipeline = _one("Service", "ingestbench-pipeline")["spec"]["ports"][0]["port"]
    assert argv[argv.index("--url") + 1] == f"http://ingestbench-pipeline:{pipeline}"
    assert _one("Job", "ingestbench-run")["spec"]["backoffLimit"] == 0


def test_the_configmap_holds_the_builtin_scenario_and_slo(tmp_path: Path) -> None:
    data = _one("ConfigMap", "ingestbench-scenario")["data"]
    for key, text in data.items():
        (tmp_path / key).write_text(text)
    assert data["slo.toml"] == DEFAULT_SLO_PATH.read_text()
    mounted, builtin = load_scenario(tmp_path / "quick.toml"), load_scenario("quick")
    assert mounted.slo_path == str(tmp_path / "slo.toml")
    for field in ("name", "time_scale", "load", "pipeline", "probe", "target_table"):
        assert getattr(mounted, field) == getattr(builtin, field), field
    for kind, name in (("Job", "ingestbench-run"), ("Deployment", "ingestbench-pipeline")):
        container = _container(kind, name)
        argv = container["command"] + container["args"]
        mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["scenario"]
        assert argv[argv.index("--scenario") + 1] == f"{mount}/quick.toml", name
        if kind == "Job":
            assert argv[argv.index("--slo") + 1] == f"{mount}/slo.toml"


def test_secrets_are_referenced_never_shipped() -> None:
    assert not [d for d in manifests() if d["kind"] == "Secret"]
    for kind, name in (("Job", "ingestbench-run"), ("Deployment", "ingestbench-worker"),
                       ("Deployment", "ingestbench-pipeline")):
        env = {e["name"]: e for e in _container(kind, name)["env"]}
        ref = env["INGESTBENCH_WRITE_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "ingestbench-secrets", "key": "write-key", "optional": True}, name
        assert all("value" not in e for n, e in env.items() if "KEY" in n or "PASSWORD" in n)


def test_workers_are_sized_and_the_run_outlasts_its_drain() -> None:
    worker = _container("Deployment", "ingestbench-worker")["resources"]
    assert worker["requests"]["cpu"] == worker["limits"]["cpu"] == "1"  # one process: one core
    assert worker["requests"]["memory"] and worker["limits"]["memory"]
    text = (KUBERNETES / "workers.yaml").read_text()
    assert "80,000" in text and "10,000" in text  # the per-core rates of docs/performance.md, with the arithmetic
    performance = (ROOT / "docs" / "performance.md").read_text()
    assert "1 core per 10,000 events/s" in performance and "1 core per 80,000 events/s" in performance
    grace = _one("Job", "ingestbench-run")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > longest_drain_s() + LOAD_STOP_GRACE_S
    for doc in manifests():
        spec = doc.get("spec", {}).get("template", {}).get("spec")
        for c in (spec or {}).get("containers", []):
            assert c["image"] == "ingestbench:0.1.0" and "limits" in c["resources"], doc["metadata"]["name"]


@pytest.mark.parametrize("name", ["ingestbench-run", "ingestbench-worker", "ingestbench-pipeline"])
def test_no_container_runs_as_root(name: str) -> None:
    kind = "Job" if name == "ingestbench-run" else "Deployment"
    security = _one(kind, name)["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
