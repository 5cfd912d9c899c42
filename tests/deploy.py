"""Deployments rehearsed on one machine: docker-compose.yml as ``docker-compose config`` renders it with the
example environment, the Kubernetes manifests as written, and a :class:`Stack` that runs their containers'
commands as local processes.

A container becomes a process with the same arguments and environment, translated only where a container
differs from this machine (``tests/compose.py``'s :class:`~tests.compose.Native`: a service name is 127.0.0.1,
a container port a free local port, a mounted path the directory it mounts). Each process gets its own empty
working directory outside the checkout and a minimal environment: ``PATH`` (the venv's ``bin`` first), ``HOME``
(that directory) and the container's own variables, nothing inherited.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.records import defaults
from ingestbench.records.observation import ANALYTICAL, TRANSACTIONAL
from ingestbench.records.scenario import scenarios_dirs
from tests.compose import COMPOSE, ROOT, VENV_BIN

ENV_EXAMPLE = ROOT / ".env.example"
KUBERNETES = ROOT / "deploy" / "kubernetes"
DIGEST = re.compile(r"^[a-z0-9][\w./-]*:[\w.-]+@sha256:[0-9a-f]{64}$")
LOAD_STOP_GRACE_S = 15.0  # the coordinator gives the load this long to stop (orchestrate/supervisor.py)


def example_env() -> dict[str, str]:
    """``.env.example`` as Compose reads it: ``KEY=VALUE`` lines, comments and blank lines skipped."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def compose_config(tool: str, *extra: str, profile: str | None = None) -> subprocess.CompletedProcess[str]:
    """``docker-compose --env-file .env.example config`` in an environment of PATH alone, so the example file
    decides every variable."""
    argv = [tool, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE)]
    argv += ["--profile", profile] if profile else []
    return subprocess.run([*argv, "config", *extra], env={"PATH": os.environ["PATH"]}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def rendered(tool: str, profile: str | None = None) -> dict[str, Any]:
    proc = compose_config(tool, profile=profile)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = yaml.safe_load(proc.stdout)
    return doc


def manifests() -> list[dict[str, Any]]:
    """Every object of the files kustomization.yaml lists, in its order."""
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"]
            for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc]


def seconds(value: str | int) -> float:
    """A Compose duration: ``360s``, ``6m``, ``1m30s``."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?", str(value))
    assert parts and any(parts.groups()), f"not a duration: {value}"
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


def drain_limit_s(scenario: str) -> float:
    """The longest drain of a run of ``scenario`` (as orchestrate/supervisor.py bounds it): its last canary's
    loss horizon, two polls and a request timeout, capped by the scenario's drain_s."""
    plan = resolve_run(RunFlags(scenario=scenario), {}).plan
    horizon = max(plan.slo.probe_horizon_s(ANALYTICAL), plan.slo.probe_horizon_s(TRANSACTIONAL))
    limit = horizon + 2 * plan.probe.poll_interval_s + plan.probe.timeout_s
    return limit if plan.probe.drain_s is None else min(limit, plan.probe.drain_s)


def longest_drain_s() -> float:
    """The longest drain of any built-in scenario: what a stop grace period must outlast."""
    builtin = sorted({p.stem for d in scenarios_dirs() for p in d.glob("*.toml")})
    assert {"quick", "threshold-sweep", "soak", "spike"} <= set(builtin)
    longest = max(drain_limit_s(s) for s in builtin)
    assert longest >= 300  # the default SLO at time scale 1: 30 s x lost_after 10 (the comments' arithmetic)
    assert defaults.REQUEST_TIMEOUT_S == 5.0
    return longest


class Stack:
    """Processes started for one test, each in its own empty directory, each stopped by its own PID."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.dirs: list[Path] = []

    def workdir(self, name: str) -> Path:
        """An empty directory outside the checkout (the test's tmp_path may be anywhere, so not inside it)."""
        path = Path(tempfile.mkdtemp(prefix=f"ingestbench-rehearsal-{name}-"))
        assert ROOT not in path.parents
        self.dirs.append(path)
        return path

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        cwd = self.workdir(name)
        full = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(cwd), **env}
        self.logs[name] = self.tmp / f"{name}.log"
        with self.logs[name].open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=full, cwd=cwd, start_new_session=True)  # a group, as a container
        self.procs[name] = proc
        return proc

    def tails(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}" for name, path in self.logs.items())

    def wait(self, what: str, check: Callable[[], object], timeout_s: float, *, alive: tuple[str, ...] = ()) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            for name in alive:
                code = self.procs[name].poll()
                assert code is None, f"{name} exited with {code} while waiting for {what}\n{self.tails()}"
            time.sleep(0.25)
        raise AssertionError(f"{what}: not within {timeout_s:g} s\n{self.tails()}")

    def exit_code(self, name: str, timeout_s: float) -> int:
        try:
            return self.procs[name].wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} still running after {timeout_s:g} s\n{self.tails()}") from None

    def kill(self, name: str) -> None:
        """SIGKILL to the process and everything it started, as when its container is killed."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        """As Compose stops containers: SIGTERM twice (the second skips a probe's drain), then SIGKILL to what
        is left of each one's process group; by PID, newest first."""
        for name, proc in reversed(list(self.procs.items())):
            for sig in (signal.SIGTERM, signal.SIGTERM):
                if proc.poll() is None:
                    proc.send_signal(sig)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
            self.kill(name)
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def stack(tmp: Path) -> Iterator[Stack]:
    s = Stack(tmp)
    try:
        yield s
    finally:
        s.stop_all()


def healthcheck_passes(test: list[str], ports: dict[int, int]) -> bool:
    """A Compose healthcheck (``["CMD", ...]``) run here: ``127.0.0.1:PORT`` inside the container is the
    service's mapped port, ``python`` the venv's interpreter."""
    assert test[0] == "CMD", f"healthcheck {test}: exec form [\"CMD\", ...] expected"
    argv = [re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports.get(int(m[1]), int(m[1]))}", a)
            for a in test[1:]]
    if argv[0] == "python":
        argv[0] = str(VENV_BIN / "python")
    return subprocess.run(argv, capture_output=True, timeout=10, env={"PATH": os.environ["PATH"]}).returncode == 0
