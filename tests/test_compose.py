"""``docker-compose.yml``, ``.env.example``, the ``Dockerfile`` and ``requirements.lock``, checked statically:
valid for Compose (rendered with the example environment) and the compose-spec schema, images pinned by digest,
healthchecks behind every ``depends_on`` condition, a stop grace longer than the probe's drain, the lock
covering every runtime dependency. Running the services is ``tests/test_deploy_parity.py``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose import COMPOSE, ROOT
from tests.dashboards.prom import need
from tests.deploy import (
    DIGEST,
    ENV_EXAMPLE,
    LOAD_STOP_GRACE_S,
    compose_config,
    example_env,
    longest_drain_s,
    rendered,
    seconds,
)

PROM_CONFIG = ROOT / "dashboards" / "prometheus" / "prometheus.yml"
HARNESS = ("pipeline", "run", "worker")
CLICKHOUSE = ("clickhouse-setup", "clickhouse-run", "clickhouse-worker")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return rendered(need("docker-compose"), profile="clickhouse")


def test_the_documented_command_needs_nothing_but_the_example_env(tmp_path: Path) -> None:
    """`cp .env.example .env && docker compose up ...`: with .env beside the file and nothing else set, Compose
    accepts it; without a Grafana password it still refuses, naming the variable."""
    tool = need("docker-compose")
    assert compose_config(tool, "-q").returncode == 0
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    env = {"PATH": os.environ["PATH"]}
    ok = subprocess.run([tool, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / ".env").write_text(re.sub(r"^GRAFANA_ADMIN_PASSWORD=.*$", "", ENV_EXAMPLE.read_text(), flags=re.M))
    refused = subprocess.run([tool, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in refused.stderr


def test_the_compose_spec_schema_accepts_the_file() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_images_are_pinned_by_digest_ports_on_loopback_mounts_exist(doc: dict[str, Any]) -> None:
    for name, service in doc["services"].items():
        image = service["image"]
        if name in HARNESS + CLICKHOUSE:
            assert image == "ingestbench:0.1.0" and service["build"]["context"] == str(ROOT), name
        else:
            assert DIGEST.match(image), f"{name}: image {image} is not pinned by digest (name:tag@sha256:...)"
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port['published']}"
            assert published.startswith("127.0.0.1:"), f"{name}: {port} is published beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("/"):
                assert source == str(ROOT / "results") or Path(source).exists(), f"{name}: mounts {source}"
            else:
                assert source in doc["volumes"], f"{name}: named volume {source} is not declared"
    assert "./results:/results" in yaml.safe_load(COMPOSE.read_text())["services"]["run"]["volumes"]


def test_the_dockerfile_is_pinned_and_installs_the_lock_with_hashes() -> None:
    text = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert DIGEST.match(base), base
    runs = re.findall(r"^RUN (.+)$", text, re.M)
    assert any("pip install --require-hashes" in r and "-r requirements.lock" in r for r in runs), runs
    assert any("pip install --no-deps" in r and r.rstrip().split("&&")[0].split()[-1] == "." for r in runs), runs
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)[0]).lower()  # type: ignore[index]


def test_the_lock_covers_every_runtime_dependency_with_hashes() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9][\w.-]*)==(\S+)", lock, re.M))
    locked = {_name(n) for n in pins}
    # the image runs `run --remote-write`: its optional client is part of the image's runtime
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"].get("remote-write", [])}
    assert wanted <= locked, f"not in requirements.lock: {sorted(wanted - locked)}"
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock):  # one block per pinned package
        if re.match(r"[A-Za-z0-9]", block):
            assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    assert "setuptools" in pins  # the Dockerfile builds the package with --no-build-isolation from the lock


def test_every_condition_has_a_healthcheck_and_the_order_is_the_runs(doc: dict[str, Any]) -> None:
    services = doc["services"]
    wants = {"run": {"pipeline": "service_healthy", "prometheus": "service_healthy"},
             "worker": {"run": "service_started"},
             "grafana": {"prometheus": "service_healthy"},
             "clickhouse-setup": {"clickhouse": "service_healthy"},
             "clickhouse-run": {"clickhouse-setup": "service_completed_successfully",
                                "prometheus": "service_healthy"},
             "clickhouse-worker": {"clickhouse-run": "service_started"}}
    for name, deps in wants.items():
        got = {dep: cond["condition"] for dep, cond in services[name].get("depends_on", {}).items()}
        assert got == deps, f"{name} depends_on {got}, expected {deps}"
    for name, service in services.items():
        for dep, cond in service.get("depends_on", {}).items():
            if cond["condition"] == "service_healthy":
                assert services[dep].get("healthcheck", {}).get("test"), f"{name} waits for {dep}'s health: none"
    pipeline = services["pipeline"]["healthcheck"]["test"]
    assert pipeline[:2] == ["CMD", "python"] and "127.0.0.1:8080/healthz" in pipeline[-1]
    assert services["prometheus"]["healthcheck"]["test"][-1] == "http://127.0.0.1:9090/-/ready"


def test_the_stop_grace_outlasts_the_longest_drain(doc: dict[str, Any]) -> None:
    longest = longest_drain_s()
    for name in ("run", "clickhouse-run"):
        grace = seconds(doc["services"][name]["stop_grace_period"])
        assert grace > longest + LOAD_STOP_GRACE_S, f"{name}: stop_grace_period {grace} s <= drain {longest} s"


def test_workers_match_the_coordinator_and_prometheus_receives_the_run(doc: dict[str, Any]) -> None:
    services, env = doc["services"], example_env()
    for run, worker in (("run", "worker"), ("clickhouse-run", "clickhouse-worker")):
        command = services[run]["command"]
        workers = command[command.index("--workers") + 1]
        assert workers == env["INGESTBENCH_WORKERS"] == str(services[worker]["deploy"]["replicas"])
        master = command[command.index("--master-bind") + 1].rpartition(":")[2]
        assert services[worker]["command"] == ["ingestbench", "worker", "--master", f"{run}:{master}"]
        remote = command[command.index("--remote-write") + 1]
        assert remote == "http://prometheus:9090/api/v1/write"
    prometheus = services["prometheus"]["command"]
    assert "--web.enable-remote-write-receiver" in prometheus
    assert "--web.listen-address=0.0.0.0:9090" in prometheus
    static = [t for job in yaml.safe_load(PROM_CONFIG.read_text())["scrape_configs"]
              for sc in job.get("static_configs", []) for t in sc["targets"]]
    pipeline = services["pipeline"]["command"]
    assert static == [f"pipeline:{pipeline[pipeline.index('--port') + 1]}"]  # the run itself pushes
    datasource = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_the_pipeline_and_the_run_share_the_scenario(doc: dict[str, Any]) -> None:
    services = doc["services"]
    scenario = example_env()["INGESTBENCH_SCENARIO"]
    for name in ("pipeline", "run"):
        command = services[name]["command"]
        assert command[command.index("--scenario") + 1] == scenario, name
    example = services["clickhouse-run"]["command"]
    path = example[example.index("--scenario") + 1]
    assert path.startswith("/app/") and (ROOT / path.removeprefix("/app/")).is_file()
    setup = services["clickhouse-setup"]["command"]
    text = (ROOT / path.removeprefix("/app/")).read_text()
    buffer = setup[setup.index("--target-opt") + 1].partition("=")[2]
    assert f'buffer = "{buffer}"' in text  # the setup creates the Buffer table the example inserts into


def _shell_lines(*docs: Path) -> list[str]:
    from tests.test_docs_commands import shell_blocks

    return [line for doc in docs for _start, lines in shell_blocks(doc.read_text()) for line in lines
            if "docker compose" in line or line.startswith("kubectl")]


def _check_compose(words: list[str], line: str, services: dict[str, Any]) -> None:
    up = words[words.index("up") + 1:]
    named = [w for i, w in enumerate(up) if not w.startswith("-") and (i == 0 or up[i - 1] != "--exit-code-from")]
    exit_from = up[up.index("--exit-code-from") + 1] if "--exit-code-from" in up else None
    for service in [*named, *([exit_from] if exit_from else [])]:
        assert service in services, f"{line}: no service {service}"
    if "--profile" in words:
        assert exit_from in named, f"{line}: name the profile's services to start only them"
    for w in words:
        if w.startswith("worker="):
            assert f"INGESTBENCH_WORKERS={w.partition('=')[2]}" in words, f"{line}: --scale without the count"


def test_the_documented_compose_and_kubectl_commands_name_what_exists(doc: dict[str, Any]) -> None:
    """Every `docker compose` and `kubectl` line of the README and docs/deploy.md: the files, services, profiles,
    objects, secret and settings keys it names exist, and --scale comes with the matching INGESTBENCH_WORKERS."""
    import shlex

    from tests.deploy import manifests

    lines = _shell_lines(ROOT / "README.md", ROOT / "docs" / "deploy.md")
    assert any("cp .env.example .env && docker compose up --build --exit-code-from run" in line for line in lines)
    objects = {(d["kind"].lower(), d["metadata"]["name"]) for d in manifests()}
    reads = {(r["name"], r["key"]) for d in manifests()
             for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
             for e in c.get("env", []) for r in e.get("valueFrom", {}).values()}
    plain = rendered(need("docker-compose"))["services"]
    for line in lines:
        words = shlex.split(line, comments=True)
        if "cp" in words:
            assert (ROOT / words[words.index("cp") + 1]).is_file(), line
        if "docker" in words:
            _check_compose(words, line, doc["services"] if "--profile" in words else plain)
        if words[:1] == ["kubectl"]:
            if "-k" in words:
                assert (ROOT / words[words.index("-k") + 1] / "kustomization.yaml").is_file(), line
            for w in words:
                if w.startswith("job/"):
                    assert ("job", w[4:]) in objects, line
                if w.startswith("--from-literal="):
                    name = words[words.index("generic" if "secret" in words else "configmap") + 1]
                    key = w.partition("=")[2].partition("=")[0]
                    assert (name, key) in reads, f"{line}: nothing reads {name} key {key}"


def test_the_variables_given_to_the_coordinator_are_the_ones_it_reads(doc: dict[str, Any], tmp_path: Path) -> None:
    """Each INGESTBENCH_* setting the compose file and the Job give the coordinator changes what it would run
    (`run --check` prints it): a misspelt name would be ignored without a word."""
    from tests.deploy import manifests

    (job,) = [d for d in manifests() if d["kind"] == "Job"]
    given = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]} | set(
        doc["services"]["run"]["environment"])
    settings = {n for n in given if n.startswith("INGESTBENCH_") and "KEY" not in n and "REMOTE" not in n}
    assert settings == {"INGESTBENCH_WORKERS_TIMEOUT_S"}, settings
    tool = Path(sys.executable).with_name("ingestbench")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "INGESTBENCH_WORKERS_TIMEOUT_S": "7"}
    proc = subprocess.run([str(tool), "run", "--check", "--workers", "2", "--scenario", "quick"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "waits 7 s" in proc.stdout, proc.stdout + proc.stderr
