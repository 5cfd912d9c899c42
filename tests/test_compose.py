"""``docker-compose.yml`` and the ``Dockerfile``: valid for Compose and the compose-spec schema, pinned, bound to
127.0.0.1, consistent with the Prometheus config, and every service's command run natively with the same
arguments (no Docker engine here)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.compose import COMPOSE, ROOT, Native, container_ports, load, mounts
from tests.dashboards.prom import free_port, need

ENV = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "test-only-password"}
PROM_CONFIG = ROOT / "dashboards" / "prometheus" / "prometheus.yml"
HARNESS = ("pipeline", "locust-master", "locust-worker", "probe")


def test_docker_compose_accepts_the_file_and_demands_the_grafana_password() -> None:
    tool = need("docker-compose")
    ok = subprocess.run([tool, "-f", str(COMPOSE), "config", "-q"], env=ENV, capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    env = {k: v for k, v in ENV.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    refused = subprocess.run([tool, "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in refused.stderr


def test_the_compose_spec_schema_accepts_the_file() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_images_pinned_ports_on_loopback_mounts_exist() -> None:
    doc = load(ENV)
    for name, service in doc["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned to a version"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: mounts {source}, which does not exist"
            else:
                assert source in doc["volumes"], f"{name}: named volume {source} is not declared"
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", grafana["GF_SECURITY_ADMIN_PASSWORD"])
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def _listen_port(command: list[str], flag: str) -> int:
    for i, a in enumerate(command):
        if a == flag:
            return int(command[i + 1])
        if a.startswith(flag + "="):
            return int(a.rpartition(":")[2])
    raise AssertionError(f"{flag} not in {command}")


def test_scrape_targets_and_the_datasource_match_services_and_ports() -> None:
    services = load(ENV)["services"]
    serves = {"pipeline": _listen_port(services["pipeline"]["command"], "--port"),
              "locust-master": _listen_port(services["locust-master"]["command"], "--metrics-port"),
              "probe": _listen_port(services["probe"]["command"], "--metrics-port"),
              "prometheus": _listen_port(services["prometheus"]["command"], "--web.listen-address")}
    static = [t for job in yaml.safe_load(PROM_CONFIG.read_text())["scrape_configs"]
              for sc in job.get("static_configs", []) for t in sc["targets"]]
    assert sorted(static) == sorted(f"{s}:{p}" for s, p in serves.items() if s != "prometheus")
    datasource = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == f"http://prometheus:{serves['prometheus']}"
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    config = next(a for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    assert Path(config.partition("=")[2]).parent.as_posix() in mounted


def test_the_dockerfile_is_pinned_and_copies_what_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base), base
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    services = load(ENV)["services"]
    harness_image = {services[s]["image"] for s in HARNESS}
    assert len(harness_image) == 1 and all(services[s].get("build") == "." for s in HARNESS)
    assert services["locust-master"]["command"][2].startswith("/app/")  # the image's WORKDIR holds the source
    assert "WORKDIR /app" in text


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """By PID: SIGTERM twice (the probe's second one skips its drain), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGTERM):
        if proc.poll() is None:
            proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.server
def test_every_service_command_runs_natively_with_the_same_arguments(tmp_path: Path) -> None:
    """Pipeline, Locust master and worker, probe and Prometheus, started with the compose commands: the load
    flows through the worker, canaries come back, every metrics endpoint carries the stack's run_id."""
    prometheus = need("prometheus")
    doc = load(ENV)
    services = doc["services"]
    named = {name: tmp_path / name for name in doc["volumes"]}
    for path in named.values():
        path.mkdir()
    ports = {p: free_port() for p in container_ports(doc)}
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, entrypoint: str | None = None) -> None:
        native = Native(set(services), ports, {"/app": ROOT, **mounts(services[name], named)})
        env = {**os.environ, **{k: str(v) for k, v in (services[name].get("environment") or {}).items()}}
        with (tmp_path / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen(native.command(services[name], entrypoint), stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT))

    def wait(what: str, check: object, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if callable(check) and check():
                return
            for p in procs:
                assert p.poll() is None, f"{p.args} exited with {p.returncode}"
            time.sleep(0.3)
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in tmp_path.glob("*.log"))
        raise AssertionError(f"{what} within {timeout_s} s\n{logs}")

    local = "http://127.0.0.1:{}".format
    try:
        start("pipeline")
        wait("pipeline healthy", lambda: _get(local(ports[8080]) + "/healthz"))
        start("locust-master")
        start("locust-worker")
        start("probe")
        start("prometheus", prometheus)
        wait("prometheus ready", lambda: _get(local(ports[9090]) + "/-/ready"))
        generator = local(ports[9646]) + "/metrics"
        wait("events acknowledged through the worker",
             lambda: re.search(r'ingestbench_loadgen_achieved_eps\{run_id="compose",target="pipeline"\} [1-9]',
                               _get(generator) or ""))
        probe = local(ports[9465]) + "/metrics"
        # a profile read straight back, and analytical canaries waiting for the pipeline's 30 s flush timer
        wait("a transactional canary found and analytical ones pending",
             lambda: re.search(r'ingestbench_canaries_total\{outcome="available",path="transactional",'
                               r'run_id="compose",target="pipeline",tier="[a-z]+"\} [1-9]', _get(probe) or "")
             and re.search(r'ingestbench_canaries_pending\{path="analytical",run_id="compose",'
                           r'target="pipeline"\} [1-9]', _get(probe) or ""))
        assert 'run_id="compose"' in (_get(local(ports[8080]) + "/metrics") or "")
        assert (named["results"] / "rates.jsonl").stat().st_size > 0  # the shared volume: master writes, probe reads
    finally:
        for p in reversed(procs):
            _stop(p)
