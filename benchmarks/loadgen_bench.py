"""Load generator benchmark: ingestbench's paced user vs a bare Locust FastHttpUser, against a bare 204 server.

    .venv/bin/python benchmarks/loadgen_bench.py [--seconds 12] [--json out.json]

Runs, one after another in one invocation (server and generator each pinned to its own core when possible):

1. max speed, single events: bare ``FastHttpUser`` posting a fixed body with no pacing, then ingestbench's
   ``IngestUser`` asked for far more than it can do; both with the same number of users;
2. max speed, batches of 100 events per request (ingestbench and a bare user posting a fixed body);
3. paced cost: 2,000 single events/s with exact send times (``send_tick_s = 0``) and on the default 10 ms
   tick, generator CPU per request;
4. rate accuracy: 100 … 10,000 events/s in single-event and batch-10 mode; target, achieved, lag p50/p99 and
   the generator's peak share of a core.

Throughput is reported per generator core: requests (or events) counted by Locust in a steady window,
divided by the CPU seconds the generator process used in that window (from /proc), so the figure holds on
a machine shared with other work. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingestbench.orchestrate.children import stop_process
from ingestbench.orchestrate.net import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if os.cpu_count() and os.cpu_count() >= 2 else []  # type: ignore[operator]


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*pin(0), sys.executable, str(ROOT / "benchmarks" / "bare204.py"),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("bare 204 server did not start")




def scenario(path: Path, steps: list[tuple[float, float]], *, batch_size: int, max_users: int | None = None,
             tick_s: float | None = None) -> Path:
    """A one-off scenario. Max-speed runs (``max_users``) never drop late requests (``max_behind_s``), so they
    measure how fast the generator can send rather than the cost of skipping a hopeless backlog."""
    users = f"max_users_per_process = {max_users}\nmax_behind_s = 3600\n" if max_users else ""
    tick = "" if tick_s is None else f"send_tick_s = {tick_s}\n"
    body = ", ".join(f"{{rate_eps = {r}, duration_s = {d}}}" for r, d in steps)
    path.write_text(f"[load]\nbatch_size = {batch_size}\nseed = 1\n{users}{tick}steps = [{body}]\n")
    return path


def run_generator(workdir: Path, name: str, host: str, args: list[str], *, window: tuple[float, float],
                  timeout_s: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run locust; count requests and generator CPU seconds between ``window`` seconds after the first stats."""
    prefix = workdir / name
    cmd = [*pin(1), str(BIN / "locust"), "--host", host, "--headless", "--only-summary", "--loglevel", "WARNING",
           "--csv", str(prefix), "--csv-full-history", *args]
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})})
    samples: list[tuple[float, float]] = []
    deadline = time.time() + timeout_s
    try:
        while proc.poll() is None and time.time() < deadline:
            try:
                samples.append((time.time(), cpu_seconds(proc.pid)))
            except OSError:
                break
            time.sleep(0.25)
    finally:
        stop_process(proc)  # type: ignore[arg-type]
        log.close()
    history = [r for r in csv.DictReader((workdir / f"{name}_stats_history.csv").open())
               if r["Name"] == "Aggregated" and int(r["Total Request Count"]) > 0]
    t_first = float(history[0]["Timestamp"])
    rows = [r for r in history if window[0] <= float(r["Timestamp"]) - t_first <= window[1]]
    a, b = rows[0], rows[-1]
    ta, tb = float(a["Timestamp"]), float(b["Timestamp"])
    requests = int(b["Total Request Count"]) - int(a["Total Request Count"])
    failures = int(b["Total Failure Count"]) - int(a["Total Failure Count"])

    def cpu_at(t: float) -> float:
        return min(samples, key=lambda s: abs(s[0] - t))[1]

    cpu = cpu_at(tb) - cpu_at(ta)
    return {"name": name, "requests": requests, "failures": failures, "wall_s": tb - ta, "cpu_s": cpu,
            "rps": requests / (tb - ta), "rps_per_core": requests / cpu if cpu > 0 else float("nan")}


def accuracy(workdir: Path, host: str, rates: list[int], *, batch_size: int, step_s: float) -> list[dict[str, Any]]:
    rates_out = workdir / f"accuracy-{batch_size}.jsonl"
    sc = scenario(workdir / f"accuracy-{batch_size}.toml", [(r, step_s) for r in rates], batch_size=batch_size)
    cmd = [*pin(1), str(BIN / "locust"), "-f", str(ROOT / "ingestbench" / "cli" / "locustfile.py"), "--host", host,
           "--headless", "--only-summary", "--loglevel", "WARNING", "--scenario", str(sc), "--rates-out",
           str(rates_out)]
    with (workdir / f"accuracy-{batch_size}.log").open("wb") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, timeout=step_s * len(rates) + 90)
    rows = [json.loads(line) for line in rates_out.read_text().splitlines()]
    return [r for r in rows if r["type"] == "step"]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests per core."""
    return sorted(runs, key=lambda r: r["rps_per_core"])[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12, help="length of each max-speed run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of the max-speed runs")
    parser.add_argument("--users", type=int, default=64, help="users for both max-speed single-event runs")
    parser.add_argument("--step-s", type=float, default=6, help="length of each accuracy step")
    parser.add_argument("--json", default="", help="also write all results here")
    parser.add_argument("--skip-accuracy", action="store_true", help="only the max-speed runs")
    parser.add_argument("--workdir", default="", help="keep logs and CSVs here (default: a temp dir)")
    args = parser.parse_args()
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    server = start_server(port)
    results: dict[str, Any] = {}
    window = (2.0, args.seconds - 1.0)
    try:
        with tempfile.TemporaryDirectory(prefix="loadgen-bench-") as tmp:
            work = Path(args.workdir or tmp)
            work.mkdir(parents=True, exist_ok=True)
            lf = str(ROOT / "ingestbench" / "cli" / "locustfile.py")
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "ingestbench": [], "bare_batch100": [],
                                                     "ingestbench_batch100": []}
            for rnd in range(args.rounds):  # interleaved, so drifting background load hits every kind alike
                runs["bare"].append(run_generator(
                    work, f"bare-{rnd}", host, ["-f", str(ROOT / "benchmarks" / "loadgen_bare_locustfile.py"),
                                               "-u", str(args.users), "-r", "1000", "-t", f"{round(args.seconds)}s"],
                    window=window, timeout_s=args.seconds + 30))
                sc = scenario(work / "max1.toml", [(100_000, args.seconds)], batch_size=1, max_users=args.users)
                runs["ingestbench"].append(run_generator(work, f"ingestbench-{rnd}", host,
                                                         ["-f", lf, "--scenario", str(sc)], window=window,
                                                         timeout_s=args.seconds + 30))
                bare_batch = run_generator(
                    work, f"bare-batch100-{rnd}", host,
                    ["-f", str(ROOT / "benchmarks" / "loadgen_bare_locustfile.py"), "-u", str(args.users), "-r",
                     "1000", "-t", f"{round(args.seconds)}s"],
                    window=window, timeout_s=args.seconds + 30, env={"LOADGEN_BENCH_BATCH": "100"})
                bare_batch["eps"] = bare_batch["rps"] * 100
                bare_batch["eps_per_core"] = bare_batch["rps_per_core"] * 100
                runs["bare_batch100"].append(bare_batch)
                sc = scenario(work / "max100.toml", [(2_000_000, args.seconds)], batch_size=100,
                              max_users=args.users)
                batch = run_generator(work, f"ingestbench-batch100-{rnd}", host, ["-f", lf, "--scenario", str(sc)],
                                      window=window, timeout_s=args.seconds + 30)
                batch["eps"] = batch["rps"] * 100
                batch["eps_per_core"] = batch["rps_per_core"] * 100
                runs["ingestbench_batch100"].append(batch)
            best = {k: median_run(v) for k, v in runs.items()}
            results["max_speed"] = {**best, "rounds": runs,
                                    "ratio": best["ingestbench"]["rps_per_core"] / best["bare"]["rps_per_core"]}
            paced: dict[str, list[dict[str, Any]]] = {"exact": [], "tick_10ms": []}
            for rnd in range(args.rounds):  # interleaved like the max-speed runs
                for key, tick in (("exact", 0.0), ("tick_10ms", 0.01)):
                    sc = scenario(work / f"paced-{key}.toml", [(2000, args.seconds)], batch_size=1, tick_s=tick)
                    paced[key].append(run_generator(work, f"paced-{key}-{rnd}", host, ["-f", lf, "--scenario", str(sc)],
                                                    window=window, timeout_s=args.seconds + 30))
            results["paced"] = {"rounds": paced, **{k: median_run(v) for k, v in paced.items()}}
            rates = [100, 500, 1000, 2000, 5000, 10_000]
            results["accuracy"] = {} if args.skip_accuracy else {
                str(b): accuracy(work, host, rates, batch_size=b, step_s=args.step_s) for b in (1, 10)}
    finally:
        stop_process(server)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def print_report(results: dict[str, Any]) -> None:
    m = results["max_speed"]
    print("| generator (max speed, bare 204 server) | requests/s | CPU s / wall s | requests/s per core |")
    print("|---|---|---|---|")
    for key in ("bare", "ingestbench"):
        r = m[key]
        print(f"| {key} single event | {r['rps']:,.0f} | {r['cpu_s'] / r['wall_s']:.2f} | {r['rps_per_core']:,.0f} |")
    for key in ("bare_batch100", "ingestbench_batch100"):
        b = m[key]
        print(f"| {key.replace('_', ' ')} | {b['rps']:,.0f} ({b['eps']:,.0f} events/s) | "
              f"{b['cpu_s'] / b['wall_s']:.2f} | {b['rps_per_core']:,.0f} ({b['eps_per_core']:,.0f} events/s) |")
    print(f"\ningestbench / bare, requests per generator core (medians of {len(m['rounds']['bare'])} rounds): "
          f"{m['ratio']:.1%}")
    for key, rounds in m["rounds"].items():
        print(f"  {key}: " + ", ".join(f"{r['rps_per_core']:,.0f}" for r in rounds) + " requests/s per core")
    p = results["paced"]
    print("\n| 2,000 single events/s, paced | requests/s | generator CPU s / wall s | CPU µs per request |")
    print("|---|---|---|---|")
    for key in ("exact", "tick_10ms"):
        r = p[key]
        print(f"| {key} | {r['rps']:,.0f} | {r['cpu_s'] / r['wall_s']:.2f} | {1e6 / r['rps_per_core']:,.0f} |")
    for key in ("exact", "tick_10ms"):
        print(f"  {key}: " + ", ".join(f"{1e6 / r['rps_per_core']:,.0f}" for r in p["rounds"][key])
              + " µs per request")
    print()
    print("| batch | target events/s | achieved events/s | ratio | lag p50 ms | lag p99 ms | generator CPU | valid |")
    print("|---|---|---|---|---|---|---|---|")
    for batch, steps in results["accuracy"].items():
        for s in steps:
            p50 = "-" if s["lag_p50_s"] is None else f"{s['lag_p50_s'] * 1000:.2f}"
            p99 = "-" if s["lag_p99_s"] is None else f"{s['lag_p99_s'] * 1000:.2f}"
            cpu = "-" if s.get("generator_cpu_peak") is None else f"{s['generator_cpu_peak']:.0%}"
            print(f"| {batch} | {s['target_eps']:,.0f} | {s['achieved_eps']:,.1f} | "
                  f"{s['achieved_eps'] / s['target_eps']:.1%} | {p50} | {p99} | {cpu} | {s['valid']} |")


if __name__ == "__main__":
    sys.exit(main())
