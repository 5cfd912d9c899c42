"""The generators ``benchmarks/peers.py`` compares, as commands: ingestbench, k6, Locust ``constant_throughput``,
and ``wrk`` as the sink's ceiling. Every one gets the same body per case, the same paths and header, and a
fixed arrival rate for ``Case.seconds``; each one paces the way it is meant to be used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Case:
    """One fixed arrival rate: ``rate_eps`` events/s in requests of ``batch`` events, for ``seconds``."""

    rate_eps: int
    batch: int
    seconds: float

    @property
    def rate_rps(self) -> float:
        return self.rate_eps / self.batch

    @property
    def path(self) -> str:
        return "/event/ingest" if self.batch == 1 else "/event/ingest/batch"

    @property
    def label(self) -> str:
        return f"{self.rate_eps:,} events/s" + ("" if self.batch == 1 else f" (batch {self.batch})")


@dataclass(frozen=True)
class Command:
    """What to run, where its results land, and which of its own numbers to read afterwards."""

    argv: list[str]
    env: dict[str, str]
    report_path: Path | None = None
    cwd: Path = ROOT


def write_bodies(workdir: Path, batches: list[int]) -> dict[int, Path]:
    """Request bodies the peers send: the ingestbench event whose size is nearest the mean of the events
    ingestbench sends (its default ``[load]`` settings), as one event or a batch of ``b`` such events."""
    from ingestbench.loadgen.encoded import EncodedEvents
    from ingestbench.loadgen.events import EventFactory
    from ingestbench.targets.pipeline import PipelineTarget

    target = PipelineTarget("http://127.0.0.1")
    enc = EncodedEvents(EventFactory(seed=1 * 1_000_003), target)
    events = enc.batch(enc.spliced, now_ms=1_795_000_000_000)
    mean = sum(map(len, events)) / len(events)
    event = min(events, key=lambda e: abs(len(e) - mean))
    out = {}
    for b in sorted({1, *batches}):
        req = target.ingest_encoded([event] * b)
        out[b] = workdir / f"body-{b}.json"
        assert req.body is not None
        out[b].write_bytes(req.body)
    return out


def locustfile_in(root: Path) -> Path:
    """The Locust entry point of a tree: where it is now, or where an earlier commit had it."""
    now = root / "ingestbench" / "cli" / "locustfile.py"
    return now if now.exists() else root / "loadgen" / "locustfile.py"


def ingestbench(case: Case, host: str, workdir: Path, name: str, loadgen_root: Path | None = None) -> Command:
    """``locust -f ingestbench/cli/locustfile.py`` on a one-step scenario; ``loadgen_root`` runs another tree's
    ``loadgen`` package (an earlier commit, for before/after in the same run)."""
    scenario = workdir / f"{name}.toml"
    scenario.write_text(f"[load]\nbatch_size = {case.batch}\nseed = 1\n"
                        f"steps = [{{rate_eps = {case.rate_eps}, duration_s = {case.seconds}}}]\n")
    rates = workdir / f"{name}.rates.jsonl"
    root = loadgen_root or ROOT
    env = {"PYTHONPATH": str(loadgen_root)} if loadgen_root else {}
    return Command([str(BIN / "locust"), "-f", str(locustfile_in(root)), "--host", host,
                    "--headless", "--only-summary", "--loglevel", "WARNING", "--scenario", str(scenario),
                    "--rates-out", str(rates)], env, rates, cwd=root)


def ingestbench_verdict(path: Path) -> dict[str, Any]:
    steps = [r for r in map(json.loads, path.read_text().splitlines()) if r["type"] == "step"] if path.exists() else []
    if not steps:
        return {"valid": None, "reason": "no step line"}
    return {"valid": steps[0]["valid"], "reason": steps[0]["reason"], "lag_p99_s": steps[0]["lag_p99_s"]}


K6_SCRIPT = """import http from 'k6/http';
const body = open(__ENV.PEER_BODY_FILE, 'b');
const params = { headers: { 'Content-Type': 'application/json' } };
export const options = {
  discardResponseBodies: true,
  scenarios: { load: { executor: 'constant-arrival-rate', rate: Number(__ENV.PEER_RATE_RPS), timeUnit: '1s',
    duration: __ENV.PEER_DURATION, preAllocatedVUs: Number(__ENV.PEER_VUS), maxVUs: Number(__ENV.PEER_MAX_VUS) } },
};
export default function () { http.post(__ENV.PEER_URL, body, params); }
"""


def k6(case: Case, host: str, workdir: Path, name: str, body: Path) -> Command:
    """k6's ``constant-arrival-rate`` executor; iterations it could not start in time are ``dropped_iterations``."""
    script = workdir / "peer_k6.js"
    script.write_text(K6_SCRIPT)
    summary = workdir / f"{name}.k6.json"
    env = {"PEER_BODY_FILE": str(body), "PEER_RATE_RPS": f"{case.rate_rps:g}", "PEER_URL": host + case.path,
           "PEER_DURATION": f"{case.seconds:g}s", "PEER_VUS": str(max(20, round(case.rate_rps / 50))),
           "PEER_MAX_VUS": str(max(100, round(case.rate_rps / 5))), "K6_NO_USAGE_REPORT": "true"}
    return Command([str(BIN / "k6"), "run", "--quiet", "--no-usage-report", "--summary-export", str(summary),
                    str(script)], env, summary)


def k6_dropped(path: Path) -> int | None:
    if not path.exists():
        return None
    metric = json.loads(path.read_text()).get("metrics", {}).get("dropped_iterations", {})
    return int(metric.get("count", 0))


def locust_ct(case: Case, host: str, name: str, body: Path) -> Command:
    """Locust ``FastHttpUser`` with ``constant_throughput``: each user at most 20 requests/s."""
    users = max(20, round(case.rate_rps / 20))
    env = {"PEER_BODY_FILE": str(body), "PEER_PATH": case.path, "PEER_RATE_RPS": f"{case.rate_rps:g}",
           "PEER_USERS": str(users)}
    return Command([str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "peer_locust_ct.py"), "--host", host,
                    "--headless", "--only-summary", "--loglevel", "WARNING", "-u", str(users), "-r", str(users),
                    "-t", f"{round(case.seconds)}s"], env)


def wrk(host: str, workdir: Path, body: Path, path: str, seconds: float) -> Command:
    """``wrk``, one thread, 64 connections, at full speed: what the sink can take from one generator core."""
    script = workdir / f"wrk-{body.stem}.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'local f = io.open("{body}", "rb")\nwrk.body = f:read("*a")\nf:close()\n')
    exe = shutil.which("wrk") or "wrk"
    return Command([exe, "-t1", "-c64", f"-d{round(seconds)}s", "-s", str(script), host + path], {})


def git_tree(ref: str, dest: Path) -> Path:
    """The ``loadgen`` package as of ``ref``, unpacked under ``dest`` (for a before/after in one run)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "loadgen"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest
