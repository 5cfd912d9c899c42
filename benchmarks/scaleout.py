"""Scale-out: one generator process, ``--processes 2``, and a master with two workers, at the same rates.

    .venv/bin/python benchmarks/scaleout.py [--rates 4000,8000] [--seconds 12] [--rounds 2] [--json scaleout.json]

Against the counting 204 sink (``benchmarks/bare204.py``), all on this machine's two cores without pinning
(generators and sink share them, as a 2-process run must). Per run: the step's achieved events/s and verdict
from the merged rate timeline, the events the sink counted during the load divided by its duration (an
independent check of the timeline's totals), schedule-lag p50/p99 from the merged HDR histograms, and the
busiest generator's peak share of a core. Request ``j`` belongs to process ``j % count``, so the shares
interleave and add up to the schedule exactly; each generator keeps its lag per second in an HDR histogram
that the master adds up, so the merged percentiles are those of all requests. Every process started here is
stopped by its PID; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from ingestbench.orchestrate.children import stop_process
from ingestbench.orchestrate.net import free_port

ROOT = Path(__file__).resolve().parent.parent
LOCUST = Path(sys.executable).parent / "locust"
LOCUSTFILE = ROOT / "ingestbench" / "cli" / "locustfile.py"
MODES = ("1 process", "--processes 2", "master + 2 workers")


def sink_count(host: str) -> int:
    with urllib.request.urlopen(host + "/__count", timeout=5) as resp:
        return int(json.loads(resp.read())["requests"])


def run(mode: str, rate: int, seconds: float, host: str, work: Path, name: str) -> dict[str, Any]:
    scenario = work / f"{name}.toml"
    scenario.write_text(f"[load]\nbatch_size = 1\nseed = 3\nsteps = [{{rate_eps = {rate}, duration_s = {seconds}}}]\n")
    rates = work / f"{name}.rates.jsonl"
    common = ["-f", str(LOCUSTFILE), "--loglevel", "WARNING", "--only-summary"]
    load = ["--host", host, "--headless", "--scenario", str(scenario), "--rates-out", str(rates)]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [(work / f"{name}-{i}.log").open("wb") for i in range(3)]
    before = sink_count(host)
    try:
        if mode == "master + 2 workers":
            port = free_port()
            procs.append(subprocess.Popen([str(LOCUST), *common, *load, "--master", "--expect-workers", "2",
                                           "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)],
                                          stdout=logs[0], stderr=subprocess.STDOUT, cwd=ROOT))
            for i in (1, 2):
                procs.append(subprocess.Popen([str(LOCUST), *common, "--worker", "--master-host", "127.0.0.1",
                                               "--master-port", str(port)], stdout=logs[i], stderr=subprocess.STDOUT,
                                              cwd=ROOT))
        else:
            extra = ["--processes", "2"] if mode == "--processes 2" else []
            procs.append(subprocess.Popen([str(LOCUST), *common, *load, *extra], stdout=logs[0],
                                          stderr=subprocess.STDOUT, cwd=ROOT))
        procs[0].wait(timeout=seconds + 90)
    finally:
        for p in procs:
            stop_process(p)  # type: ignore[arg-type]
        for f in logs:
            f.close()
    delivered = sink_count(host) - before
    rows = [json.loads(x) for x in rates.read_text().splitlines()] if rates.exists() else []
    step = next((r for r in rows if r["type"] == "step"), None)
    if step is None:
        return {"mode": mode, "rate_eps": rate, "error": "no step line"}
    return {"mode": mode, "rate_eps": rate, "achieved_eps": step["achieved_eps"], "sink_eps": delivered / seconds,
            "sent_events": step["sent_events"], "lag_p50_s": step["lag_p50_s"], "lag_p99_s": step["lag_p99_s"],
            "generator_cpu_peak": step["generator_cpu_peak"], "valid": step["valid"], "reason": step["reason"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="4000,8000")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bare204.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                sink_count(host)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
            for rnd in range(args.rounds):
                for rate in (int(r) for r in args.rates.split(",")):
                    for i, mode in enumerate(MODES):
                        results.append({"round": rnd, **run(mode, rate, args.seconds, host, Path(tmp),
                                                            f"r{rnd}-{rate}-{i}")})
                        print(json.dumps(results[-1]), flush=True)
    finally:
        stop_process(sink)  # type: ignore[arg-type]
    print(f"\n{os.cpu_count()} cores, generators and sink unpinned\n")
    print("| rate | generators | round | achieved (timeline) | sink counted | lag p50 / p99 ms | "
          "busiest generator | valid |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['rate_eps']:,} | {r['mode']} | {r['round'] + 1} | {r['error']} | | | | |")
            continue
        print(f"| {r['rate_eps']:,} | {r['mode']} | {r['round'] + 1} | {r['achieved_eps']:,.1f} "
              f"({r['achieved_eps'] / r['rate_eps']:.2%}) | {r['sink_eps']:,.1f} | "
              f"{1000 * (r['lag_p50_s'] or 0):.1f} / {1000 * (r['lag_p99_s'] or 0):.1f} | "
              f"{r['generator_cpu_peak'] or 0:.0%} | {r['valid']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
