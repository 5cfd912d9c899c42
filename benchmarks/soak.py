"""Soak: one long ``ingestbench run`` at a constant rate, watching every harness process's memory and files.

    .venv/bin/python benchmarks/soak.py --minutes 30 --rate-eps 1500 --json soak.json

Runs the embedded reference pipeline, the probe and Locust at ``--rate-eps`` (batches of ``--batch-size``)
for ``--minutes`` at time scale 1, and every ``--sample-s`` seconds records, for each process in the run's
tree, its resident memory (``VmRSS`` from ``/proc/<pid>/status``), and the size and line count of
``samples.jsonl`` and ``rates.jsonl``; every minute it parses both files whole (every complete line must be
JSON). At the end it reports per process the RSS at the end of the warm-up (``--warmup-minutes``), its
peak after it and the growth, and for each file a least-squares line through (time, lines) after the
warm-up until the load ends: its slope and R² (linear growth means R² near 1 and a slope equal to the rate
it should grow at).

Passes (exit 0) when every process grew less than ``--max-growth`` (10 %) after the warm-up, both files
grew linearly (R² >= 0.99) and stayed readable, and the run exited 0 or 1 (a verdict, not a broken run).
Traffic goes to 127.0.0.1 only; the run stops by itself when its schedule ends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestbench.orchestrate.children import stop_process  # noqa: E402
from tests.procs import cmdline, descendants, status_kib  # noqa: E402

FILES = ("samples.jsonl", "rates.jsonl")


def role(pid: int) -> str | None:
    """What a process of the run is, from its command line."""
    cmd = cmdline(pid)
    if "locust" in cmd:
        return "locust"
    for name in ("pipeline", "probe", "run"):
        if f"ingestbench {name}" in cmd:
            return name
    return None


def readable(path: Path) -> tuple[bool, int]:
    """Every complete line parses as JSON (the last one may still be being written); and how many lines."""
    try:
        data = path.read_bytes()
    except OSError:
        return False, 0
    lines = data.split(b"\n")
    complete = lines[:-1]  # what follows the last newline is a line still being written
    for line in complete:
        try:
            json.loads(line)
        except ValueError:
            return False, len(complete)
    return True, len(complete)


def fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least-squares slope (per second) and R² of ``(t, y)`` points."""
    n = len(points)
    if n < 3:
        return {"slope_per_s": float("nan"), "r2": float("nan")}
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((t - mt) ** 2 for t, _ in points)
    sxy = sum((t - mt) * (y - my) for t, y in points)
    syy = sum((y - my) ** 2 for _, y in points)
    slope = sxy / sxx if sxx else float("nan")
    r2 = (sxy * sxy) / (sxx * syy) if sxx and syy else float("nan")
    return {"slope_per_s": slope, "r2": r2}


def scenario_text(minutes: float, rate_eps: float, batch_size: int) -> str:
    return (f'description = "soak: {minutes:g} min at {rate_eps:g} events/s"\n'
            f"[load]\nbatch_size = {batch_size}\nseed = 7\n"
            f"steps = [{{ rate_eps = {rate_eps}, duration_s = {minutes * 60} }}]\n"
            "[pipeline]\nflush_rows = 3000\nflush_max_wait_s = 30\n")


def soak(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ingestbench-soak-"))
    scenario = work / "soak.toml"
    scenario.write_text(scenario_text(args.minutes, args.rate_eps, args.batch_size))
    out = Path(args.out) if args.out else work / "results"
    cmd = [sys.executable, "-m", "ingestbench", "run", "--scenario", str(scenario), "--out", str(out),
           "--no-progress", "--processes", str(args.processes)]
    log = (work / "run.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    rss: dict[str, list[tuple[float, int]]] = {}
    files: dict[str, list[tuple[float, int, int]]] = {name: [] for name in FILES}
    unreadable: list[str] = []
    run_dir: Path | None = None
    last_parse = 0.0
    limit_s = args.minutes * 60 + 600  # the schedule, the drain and a generous margin
    try:
        while proc.poll() is None and time.monotonic() - started < limit_s:
            t = time.monotonic() - started
            for pid in {proc.pid} | descendants(proc.pid):
                name, kib = role(pid), status_kib(pid, "VmRSS")
                if name is not None and kib is not None:
                    rss.setdefault(f"{name}:{pid}", []).append((t, kib))
            if run_dir is None:
                dirs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] if out.is_dir() else []
                run_dir = dirs[0] if dirs else None
            if run_dir is not None:
                parse = t - last_parse >= 60
                for name in FILES:
                    path = run_dir / name
                    size = path.stat().st_size if path.exists() else 0
                    if parse:
                        ok, lines = readable(path)
                        if not ok:
                            unreadable.append(f"{name} at {t:.0f} s")
                    else:
                        lines = path.read_bytes().count(b"\n") if path.exists() else 0
                    files[name].append((t, size, lines))
                if parse:
                    last_parse = t
            time.sleep(args.sample_s)
    finally:
        if proc.poll() is None:
            stop_process(proc, sig=2, grace_s=120)
        log.close()
    warm_s = args.warmup_minutes * 60
    load_end_s = args.minutes * 60  # the files grow at the load's pace until it ends (the drain adds little)
    processes = {}
    for key, series in sorted(rss.items()):
        after = [(t, k) for t, k in series if t >= warm_s]
        if not after:
            continue
        at_warm, peak, last = after[0][1], max(k for _, k in after), after[-1][1]
        processes[key] = {"rss_at_warmup_kib": at_warm, "rss_peak_after_kib": peak, "rss_end_kib": last,
                          "growth_peak": (peak - at_warm) / at_warm, "growth_end": (last - at_warm) / at_warm,
                          "first_kib": series[0][1], "samples": len(series),
                          "per_minute_kib": [k for t, k in series if int(t) % 60 < args.sample_s]}
    file_stats = {}
    for name, series in files.items():
        after = [(t, lines) for t, _, lines in series if warm_s <= t <= load_end_s]
        ok, lines = readable(run_dir / name) if run_dir is not None else (False, 0)
        file_stats[name] = {**fit([(t, float(n)) for t, n in after]), "lines_end": lines,
                            "bytes_end": series[-1][1] if series else 0, "readable_at_end": ok}
    exit_code = proc.returncode
    verdict = {
        "memory_ok": bool(processes) and all(p["growth_peak"] < args.max_growth for p in processes.values()),
        "files_linear": all(f["r2"] >= 0.99 for f in file_stats.values()),
        "files_readable": not unreadable and all(f["readable_at_end"] for f in file_stats.values()),
        "run_gave_a_verdict": exit_code in (0, 1),
    }
    return {"command": " ".join(cmd), "minutes": args.minutes, "rate_eps": args.rate_eps,
            "batch_size": args.batch_size, "warmup_minutes": args.warmup_minutes, "exit_code": exit_code,
            "elapsed_s": round(time.monotonic() - started, 1), "run_dir": str(run_dir), "processes": processes,
            "files": file_stats, "unreadable": unreadable, "verdict": verdict, "passed": all(verdict.values()),
            "load_avg": os.getloadavg()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate-eps", type=float, default=1500.0)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--warmup-minutes", type=float, default=5.0)
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--max-growth", type=float, default=0.10)
    ap.add_argument("--out", default=None, help="results root (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    result = soak(args)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(f"{'process':24} {'RSS at warm-up':>15} {'peak after':>11} {'end':>9} {'growth':>7}")
    for key, p in result["processes"].items():
        print(f"{key:24} {p['rss_at_warmup_kib'] / 1024:12.1f} MiB {p['rss_peak_after_kib'] / 1024:7.1f} MiB "
              f"{p['rss_end_kib'] / 1024:5.1f} MiB {p['growth_peak']:+7.1%}")
    for name, f in result["files"].items():
        print(f"{name:16} {f['lines_end']:>8} lines {f['bytes_end'] / 1e6:8.2f} MB  {f['slope_per_s'] * 60:8.1f} "
              f"lines/min  R² {f['r2']:.5f}  readable {f['readable_at_end']}")
    print(f"run exit code {result['exit_code']}; {'PASS' if result['passed'] else 'FAIL'}: {result['verdict']}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
