"""Scale-out: one generator process, ``--processes 2`` and a master with two workers; or 1, 2, 4 workers.

    .venv/bin/python benchmarks/scaleout.py [--rates 4000,8000] [--seconds 12] [--rounds 2] [--json scaleout.json]
    .venv/bin/python benchmarks/scaleout.py --workers 1,2,4 --rates 4000,20000x10 --seconds 12 --rounds 3

Against the counting 204 sink (``benchmarks/bare204.py``), all on this machine's cores without pinning
(generators and sink share them, as a 2-process run must). ``--rates`` takes ``RATE`` (single events) or
``RATExBATCH`` (events/s in batches of BATCH). Per run: the step's achieved events/s and verdict from the merged
rate timeline, the events the sink counted during the load divided by its duration (an independent check of the
timeline's totals), schedule-lag p50/p99 from the merged HDR histograms, and the busiest generator's peak share
of a core. Request ``j`` belongs to process ``j % count``, so the shares interleave and add up to the schedule
exactly; each generator keeps its lag per second in an HDR histogram that the master adds up, so the merged
percentiles are those of all requests.

With ``--workers 1,2,4`` each run is a Locust master (the package's locustfile, ``--master --expect-workers N``,
headless, a one-step scenario, ``--rates-out``) and N ``ingestbench worker --master 127.0.0.1:PORT`` processes,
the real CLI, each in its own empty directory. Besides the above, per worker: its CPU from the timeline's
generator line (mean and peak share of a core) and its process CPU seconds (``/proc/<pid>/stat``) over the
steady window (2 s after the load started, by the timeline, to 1 s before it ended); events per worker
core-second = events the sink counted in that window / the workers' summed CPU seconds in it. The counts are
interleaved within each round (their order rotating), and the summary takes medians over rounds. Every process
started here is stopped by its PID; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import scaleout_tools as tools  # a sibling script: python puts benchmarks/ first on sys.path

from ingestbench.orchestrate.children import stop_process
from ingestbench.orchestrate.net import free_port

ROOT = tools.ROOT
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "ingestbench" / "cli" / "locustfile.py"
MODES = ("1 process", "--processes 2", "master + 2 workers")
COMMON = ["-f", str(LOCUSTFILE), "--loglevel", "WARNING", "--only-summary"]


def load_flags(host: str, scenario: Path, rates: Path) -> list[str]:
    return ["--host", host, "--headless", "--scenario", str(scenario), "--rates-out", str(rates)]


def step_fields(step: dict[str, Any]) -> dict[str, Any]:
    keys = ("achieved_eps", "sent_events", "lag_p50_s", "lag_p99_s", "generator_cpu_peak", "host_cpu_peak",
            "stalled_s", "valid", "reason")
    return {k: step.get(k) for k in keys}


def run(mode: str, rate: int, seconds: float, host: str, work: Path, name: str) -> dict[str, Any]:
    """One of MODES at ``rate`` single events/s (raw Locust workers, as the first table was measured)."""
    scenario = tools.scenario(work, name, rate, 1, seconds)
    rates = work / f"{name}.rates.jsonl"
    load = load_flags(host, scenario, rates)
    procs: list[subprocess.Popen[bytes]] = []
    logs = [(work / f"{name}-{i}.log").open("wb") for i in range(3)]
    before = tools.settle(host)
    try:
        if mode == "master + 2 workers":
            port = free_port()
            procs.append(subprocess.Popen([str(BIN / "locust"), *COMMON, *load, "--master", "--expect-workers", "2",
                                           "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)],
                                          stdout=logs[0], stderr=subprocess.STDOUT, cwd=ROOT))
            for i in (1, 2):
                procs.append(subprocess.Popen([str(BIN / "locust"), *COMMON, "--worker", "--master-host",
                                               "127.0.0.1", "--master-port", str(port)], stdout=logs[i],
                                              stderr=subprocess.STDOUT, cwd=ROOT))
        else:
            extra = ["--processes", "2"] if mode == "--processes 2" else []
            procs.append(subprocess.Popen([str(BIN / "locust"), *COMMON, *load, *extra], stdout=logs[0],
                                          stderr=subprocess.STDOUT, cwd=ROOT))
        procs[0].wait(timeout=seconds + 90)
    finally:
        for p in procs:
            stop_process(p)  # type: ignore[arg-type]
        for f in logs:
            f.close()
    delivered = tools.settle(host) - before
    step, _gens, _secs = tools.timeline(rates)
    if step is None:
        return {"mode": mode, "rate_eps": rate, "error": "no step line"}
    return {"mode": mode, "rate_eps": rate, "sink_eps": delivered / seconds, **step_fields(step)}


def run_workers(count: int, rate: int, batch: int, seconds: float, host: str, sink_pid: int, work: Path,
                name: str) -> dict[str, Any]:
    """A master and ``count`` ``ingestbench worker`` processes at ``rate`` events/s in batches of ``batch``."""
    rates = work / f"{name}.rates.jsonl"
    port = free_port()
    master_cmd = [str(BIN / "locust"), *COMMON, *load_flags(host, tools.scenario(work, name, rate, batch, seconds),
                                                             rates),
                  "--master", "--expect-workers", str(count), "--master-bind-host", "127.0.0.1",
                  "--master-bind-port", str(port)]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [(work / f"{name}-{i}.log").open("wb") for i in range(count + 1)]
    base = {"workers": count, "rate_eps": rate, "batch": batch}
    before = tools.settle(host)
    try:
        procs.append(subprocess.Popen(master_cmd, stdout=logs[0], stderr=subprocess.STDOUT, cwd=work))
        for i in range(count):
            empty = Path(tempfile.mkdtemp(prefix=f"{name}-w{i}-", dir=work))
            procs.append(subprocess.Popen([str(BIN / "ingestbench"), "worker", "--master", f"127.0.0.1:{port}"],
                                          stdout=logs[i + 1], stderr=subprocess.STDOUT, cwd=empty))
        with tools.Sampler(host, [p.pid for p in procs] + [sink_pid]) as sampler:
            code = procs[0].wait(timeout=seconds + 120)
    finally:
        for p in procs:
            stop_process(p)  # type: ignore[arg-type]
        for f in logs:
            f.close()
    delivered = tools.settle(host) - before
    step, gens, secs = tools.timeline(rates)
    start = tools.load_start(secs)
    window = sampler.steady(seconds, start)
    if step is None or window is None:
        why = f"no step line (master exit {code})" if step is None else f"no window ({sampler.describe(start)})"
        return {**base, "error": why}
    a, b = window
    wall = b.t - a.t
    worker_cpu = [b.cpu[p.pid] - a.cpu[p.pid] for p in procs[1:]]
    events = (b.count - a.count) * batch
    lags = [s["lag_p99_s"] for s in secs if s.get("lag_p99_s") is not None]
    return {**base, "exit": code, "sink_eps": delivered * batch / seconds, **step_fields(step),
            "second_lag_p99_max_s": max(lags, default=None),
            "seconds_over_50ms": sum(1 for x in lags if x > 0.05),
            "timeline_cpu_mean": [g["cpu_mean"] for g in gens], "timeline_cpu_peak": [g["cpu_peak"] for g in gens],
            "generator_eps": [g["achieved_eps"] for g in gens], "lost": [g["id"] for g in gens if g["lost_at_s"]],
            "worker_peak_rss_mib": [sampler.peak_rss.get(p.pid) for p in procs[1:]],
            "window_s": round(wall, 2), "window_eps": events / wall,
            "worker_cpu_share": [c / wall for c in worker_cpu], "workers_cpu_cores": sum(worker_cpu) / wall,
            "events_per_core_s": events / sum(worker_cpu) if sum(worker_cpu) else None,
            "master_cpu_share": (b.cpu[procs[0].pid] - a.cpu[procs[0].pid]) / wall,
            "sink_cpu_share": (b.cpu[sink_pid] - a.cpu[sink_pid]) / wall,
            "machine_busy": (b.busy - a.busy) / (b.total - a.total),
            "others_cores": (b.busy - a.busy) / (b.total - a.total) * (os.cpu_count() or 1)
            - (sum(b.cpu[p] - a.cpu[p] for p in b.cpu) / wall)}


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def print_modes(results: list[dict[str, Any]]) -> None:
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
              f"{pct(r['generator_cpu_peak'])} | {r['valid']} |")


def print_workers(results: list[dict[str, Any]]) -> None:
    print("| rate | round | workers | achieved (timeline) | sink counted | lag p50 / p99 ms (s > 50 ms) | "
          "workers' CPU, cores | per worker: /proc; timeline mean / peak | events per worker core-s | "
          "machine busy | valid |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        head = f"| {r['rate_eps']:,} (batch {r['batch']}) | {r['round'] + 1} | {r['workers']}"
        if "error" in r:
            print(f"{head} | {r['error']} | | | | | | | |")
            continue
        per = ", ".join(f"{c:.0%}" for c in r["worker_cpu_share"])
        tl = ", ".join(f"{pct(m)} / {pct(p)}" for m, p in zip(r["timeline_cpu_mean"], r["timeline_cpu_peak"],
                                                               strict=True))
        print(f"{head} | {r['achieved_eps']:,.1f} ({r['achieved_eps'] / r['rate_eps']:.2%}) | {r['sink_eps']:,.1f} "
              f"| {1000 * (r['lag_p50_s'] or 0):.1f} / {1000 * (r['lag_p99_s'] or 0):.1f} ({r['seconds_over_50ms']})"
              f" | {r['workers_cpu_cores']:.2f} | {per}; {tl} | {r['events_per_core_s'] or 0:,.0f} | "
              f"{r['machine_busy']:.0%} | {r['valid']} |")
    print("\nMedians over rounds:\n")
    print("| rate | workers | achieved | sink counted | lag p50 / p99 ms | workers' CPU, cores | per worker | "
          "events per worker core-s | worker peak RSS | sink CPU | machine busy (others, cores) | valid runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["rate_eps"], r["batch"], r["workers"]) for r in results})
    for rate, batch, count in keys:
        rs = [r for r in results if (r["rate_eps"], r["batch"], r["workers"]) == (rate, batch, count)
              and "error" not in r]
        if not rs:
            continue
        m = {k: tools.median([r[k] for r in rs]) or 0.0 for k in (
            "achieved_eps", "sink_eps", "lag_p50_s", "lag_p99_s", "workers_cpu_cores", "events_per_core_s",
            "sink_cpu_share", "machine_busy", "others_cores")}
        per = tools.median([c for r in rs for c in r["worker_cpu_share"]]) or 0.0
        rss = max((x for r in rs for x in r["worker_peak_rss_mib"] if x), default=0.0)
        print(f"| {rate:,} (batch {batch}) | {count} | {m['achieved_eps'] / rate:.2%} | {m['sink_eps']:,.0f} | "
              f"{1000 * m['lag_p50_s']:.1f} / {1000 * m['lag_p99_s']:.1f} | {m['workers_cpu_cores']:.2f} | "
              f"{per:.0%} | {m['events_per_core_s']:,.0f} | {rss:.0f} MiB | {m['sink_cpu_share']:.0%} | "
              f"{m['machine_busy']:.0%} ({m['others_cores']:.2f}) | "
              f"{sum(1 for r in rs if r['valid'])}/{len(rs)} |")


def parse_rates(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        rate, _, batch = item.strip().partition("x")
        try:
            out.append((int(rate), int(batch or 1)))
        except ValueError:
            raise SystemExit(f"--rates: {item!r} is not RATE or RATExBATCH (e.g. 4000 or 20000x10)") from None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="4000,8000", help="RATE or RATExBATCH, comma-separated")
    parser.add_argument("--workers", default="", help="worker counts, e.g. 1,2,4 (default: compare the modes)")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    cases = parse_rates(args.rates)
    counts = [int(c) for c in args.workers.split(",")] if args.workers else []
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    sink = tools.start_sink(port)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
            for rnd in range(args.rounds):
                for rate, batch in cases:
                    if counts:
                        order = counts[rnd % len(counts):] + counts[:rnd % len(counts)]
                        for count in order:
                            results.append({"round": rnd, **run_workers(count, rate, batch, args.seconds, host,
                                                                        sink.pid, Path(tmp),
                                                                        f"r{rnd}-{rate}x{batch}-w{count}")})
                            print(json.dumps(results[-1]), flush=True)
                        continue
                    for i, mode in enumerate(MODES):
                        results.append({"round": rnd, **run(mode, rate, args.seconds, host, Path(tmp),
                                                            f"r{rnd}-{rate}-{i}")})
                        print(json.dumps(results[-1]), flush=True)
    finally:
        stop_process(sink)  # type: ignore[arg-type]
    print(f"\n{os.cpu_count()} cores, generators and sink unpinned\n")
    (print_workers if counts else print_modes)(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
