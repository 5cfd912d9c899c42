"""Error rates of the gates: A/A false alarms and A/B detections of ``ingestbench compare``, and change points of
``ingestbench history`` on a flat history and on one with a single shift.

    .venv/bin/python benchmarks/gate_error_rates.py --runs 21 --out gate-runs --seed 7 [--parallel 2]

Every run is ``ingestbench run`` of a short scenario against the embedded reference pipeline (100 events/s for
15 s at time scale 0.1, a canary every 25 ms, ``flush_rows`` far above what a flush wait collects, so every flush
is by time and a canary's TTA is its wait for the next flush plus a poll). Setting A flushes every
``--wait-a`` (3.0 s, 0.3 s scaled), setting B every ``--wait-b`` (3.65 s): B's p95 is about 20 % higher.

Batch ``i`` (1..N) runs ``a-i`` and ``b-i`` side by side (``--parallel 1``: one after the other), so every run
shares the machine with exactly one other. Then, with the candidate always from the batch after the baseline's
(never two runs that ran at the same time, both kinds of pair built alike):

- A/A: ``compare a-i a-(i+1)`` for i = 1..N-1; a flagged pair (exit 1) is a false alarm;
- A/B: ``compare a-i b-(i+1)`` for i = 1..N-1; a pair flagged on ``any p95`` is a detection;
- history, shift: ``a-1 .. a-h`` then ``b-(h+1) .. b-2h`` (h = ``--history``, at most N // 2; that is their
  start order), checked whole and cut 3 runs (``--min-segment``) after the shift; flat: ``a-1 .. a-N``.

Each compare runs at the defaults (the candidate's SLO file has no ``[compare]`` table) and at
``--confidence 0.99``, and again with replicate sets of ``--set-size`` runs per side (``a-1..a-3`` against
``a-4..a-6`` and against ``b-4..b-6``, and so on: disjoint, consecutive sets). Runs whose ``run.json`` exists
are reused; the summary goes to ``DIR/summary.json`` and ``DIR/summary.md``. Every process started here is
stopped by its PID (its session on a timeout); all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ingestbench.orchestrate.children import stop_group, stop_process

ROOT = Path(__file__).resolve().parent.parent
PY = [sys.executable, "-m", "ingestbench"]
RULES = {"defaults": [], "confidence 0.99": ["--confidence", "0.99"]}
SLO = ('lost_after = 20\n[[tier]]\nname = "any"\npath = "analytical"\ntarget_s = 5\npercentile = 95\n'
       "min_samples = 20\n")


def scenario(wait_s: float, seed: int, duration_s: float) -> str:
    return (f'description = "gate error rates"\ntime_scale = 0.1\nslo = "slo.toml"\n'
            f"[load]\nbatch_size = 10\nseed = {seed}\nlag_bound_s = 0.5\nmax_behind_s = 2.0\n"
            f"steps = [{{ rate_eps = 100, duration_s = {duration_s:g} }}]\n"
            f"[pipeline]\nflush_rows = 20000\nflush_max_wait_s = {wait_s:g}\n"
            "[probe]\ninterval_s = 0.25\npoll_interval_s = 0.25\ntransactional = false\n")


def run_dir(out: Path, name: str) -> Path:
    return out / "runs" / name / "results" / name


def start(out: Path, name: str, wait_s: float, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """Start run ``name`` unless a finished one is there (a partial one is removed and run again)."""
    if (run_dir(out, name) / "run.json").exists():
        return None
    home = out / "runs" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "slo.toml").write_text(SLO)
    (home / "gate.toml").write_text(scenario(wait_s, args.seed, args.duration_s))  # one scenario name: "gate"
    cmd = [*PY, "run", "--scenario", str(home / "gate.toml"), "--out", str(home / "results"), "--run-id", name,
           "--no-progress", "--log-level", "WARNING"]
    with (home / "output.log").open("wb") as log:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def finish(procs: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name}: not done within {timeout_s:g} s; stopping pid {proc.pid}", file=sys.stderr)
            stop_process(proc, grace_s=20)
        stop_group(proc.pid)  # whatever it left in its session


def run_all(out: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run the batches; the wall seconds of each batch that ran (reused ones are not timed)."""
    walls: dict[str, float] = {}
    jobs = [(f"{kind}-{i:02d}", wait) for i in range(1, args.runs + 1)
            for kind, wait in (("a", args.wait_a), ("b", args.wait_b))]
    for k in range(0, len(jobs), args.parallel):
        batch = jobs[k:k + args.parallel]
        t0 = time.monotonic()
        procs = {name: p for name, wait in batch if (p := start(out, name, wait, args)) is not None}
        if procs:
            finish(procs, args.timeout_s)
            walls[" + ".join(procs)] = round(time.monotonic() - t0, 1)
            print(f"{' + '.join(procs)}: {walls[' + '.join(procs)]:.0f} s, exit "
                  f"{[p.returncode for p in procs.values()]}", flush=True)
    return walls


def percentiles(path: Path) -> dict[str, Any]:
    """A run's exit code, validity and judged p50/p95/p99 of tier ``any`` (from its ``run.json``)."""
    if not (path / "run.json").exists():
        return {"exists": False}
    doc = json.loads((path / "run.json").read_text())
    tier: dict[str, Any] = next((v for v in doc.get("tiers") or [] if v.get("tier") == "any"), {})
    return {"exists": True, "exit_code": doc.get("exit_code"), "valid": not doc.get("invalid_reasons"),
            "p50": tier.get("p50_s"), "p95": tier.get("p95_s"), "p99": tier.get("p99_s"),
            "canaries": tier.get("n")}


def side(out: Path, names: list[str]) -> Path:
    """One run's directory, or a directory linking several (a replicate set)."""
    if len(names) == 1:
        return run_dir(out, names[0])
    home = out / "sets" / f"{names[0]}..{names[-1]}"
    home.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (home / name).exists():
            (home / name).symlink_to(run_dir(out, name), target_is_directory=True)
    return home


def compare(out: Path, base: list[str], cand: list[str], rules: str, seed: int) -> dict[str, Any]:
    b, c = side(out, base), side(out, cand)
    junit = out / "compare" / rules.replace(" ", "-") / f"{b.name}--{c.name}.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*PY, "compare", str(b), str(c), "--junit", str(junit), "--seed", str(seed), "--log-level", "WARNING",
           *RULES[rules]]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    flagged: dict[str, str] = {}
    if junit.exists() and done.returncode in (0, 1):
        for case in ET.fromstring(junit.read_text()).iter("testcase"):
            if (failure := case.find("failure")) is not None:
                flagged[str(case.get("name"))] = str(failure.get("message"))
    return {"base": b.name, "candidate": c.name, "exit": done.returncode, "flagged": flagged,
            "output": done.stdout[-4000:] + done.stderr[-2000:] if done.returncode not in (0, 1) else ""}


def rates(out: Path, aa: list[tuple[list[str], list[str]]], ab: list[tuple[list[str], list[str]]], rules: str,
          seed: int) -> dict[str, Any]:
    """Compare every pair; count the A/A pairs flagged (by metric) and the A/B pairs flagged on p95."""
    aa_done = [compare(out, b, c, rules, seed) for b, c in aa]
    ab_done = [compare(out, b, c, rules, seed) for b, c in ab]
    by_metric: dict[str, int] = {}
    for c in aa_done:
        for case in c["flagged"]:
            by_metric[case] = by_metric.get(case, 0) + 1
    return {"aa": aa_done, "ab": ab_done, "aa_flagged": sum(c["exit"] == 1 for c in aa_done), "aa_n": len(aa_done),
            "aa_flagged_by_metric": by_metric, "other_exits": [c for c in aa_done + ab_done if c["exit"] not in (0, 1)],
            "ab_p95_flagged": sum("any p95" in c["flagged"] for c in ab_done), "ab_n": len(ab_done),
            "ab_exit1": sum(c["exit"] == 1 for c in ab_done)}


def history(out: Path, name: str, runs: list[str], extra: list[str]) -> dict[str, Any]:
    store = out / "history" / f"{name}.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.unlink(missing_ok=True)
    for run in runs:
        subprocess.run([*PY, "history", "add", str(run_dir(out, run)), "--store", str(store), "--log-level",
                        "WARNING"], check=True, capture_output=True, cwd=ROOT, timeout=120)
    md = store.with_suffix(".md")
    done = subprocess.run([*PY, "history", "check", "--store", str(store), "--markdown", str(md), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    rows = [line.strip("|").split(" | ") for line in md.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| scenario")] if md.exists() else []
    changes = [{"tier": r[2].strip(), "metric": r[3].strip(), "from_run": r[4].strip(), "change": r[8].strip(),
                "pvalue": r[9].strip(), "verdict": r[10].strip()} for r in rows]
    return {"runs": runs, "exit": done.returncode, "changes": changes, "output": done.stdout[-3000:]}


def share(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.0%})" if n else "0/0"


def summarise(out: Path, args: argparse.Namespace, walls: dict[str, float]) -> dict[str, Any]:
    names = [f"{kind}-{i:02d}" for i in range(1, args.runs + 1) for kind in "ab"]
    runs = {n: percentiles(run_dir(out, n)) for n in names}
    usable = {n for n, r in runs.items() if r.get("exists") and r.get("exit_code") == 0 and r.get("valid")}
    aa_pairs = [(f"a-{i:02d}", f"a-{i + 1:02d}") for i in range(1, args.runs)]
    ab_pairs = [(f"a-{i:02d}", f"b-{i + 1:02d}") for i in range(1, args.runs)]
    result: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "runs": runs,
                              "batch_walls_s": walls, "unusable_runs": sorted(set(names) - usable), "rules": {}}
    ok = [(b, c) for b, c in aa_pairs if {b, c} <= usable], [(b, c) for b, c in ab_pairs if {b, c} <= usable]
    k = args.set_size
    sets = [(f"a-{j:02d}", f"b-{j:02d}") for j in range(1, args.runs + 1)]
    groups = [sets[i:i + k] for i in range(0, args.runs - k + 1, k)]
    groups = [g for g in groups if {n for pair in g for n in pair} <= usable]
    set_aa = [([a for a, _ in g], [a for a, _ in h]) for g, h in itertools.pairwise(groups)]
    set_ab = [([a for a, _ in g], [b for _, b in h]) for g, h in itertools.pairwise(groups)]
    for rules in RULES:
        result["rules"][rules] = rates(out, [([b], [c]) for b, c in ok[0]], [([b], [c]) for b, c in ok[1]], rules,
                                       args.seed)
        if k > 1:
            result["rules"][f"{rules}, sets of {k}"] = rates(out, set_aa, set_ab, rules, args.seed)
    p95_a = [runs[n]["p95"] for n in names if n.startswith("a") and n in usable]
    p95_b = [runs[n]["p95"] for n in names if n.startswith("b") and n in usable]
    pair_changes = [runs[c]["p95"] / runs[b]["p95"] - 1 for b, c in ab_pairs if {b, c} <= usable]
    aa_changes = [runs[c]["p95"] / runs[b]["p95"] - 1 for b, c in aa_pairs if {b, c} <= usable]
    result["p95"] = {"a_mean": statistics.fmean(p95_a), "b_mean": statistics.fmean(p95_b),
                     "slowdown": statistics.fmean(p95_b) / statistics.fmean(p95_a) - 1,
                     "ab_pair_changes": sorted(round(x, 4) for x in pair_changes),
                     "aa_pair_changes": sorted(round(x, 4) for x in aa_changes),
                     "a_stdev_rel": statistics.stdev(p95_a) / statistics.fmean(p95_a)}
    h = min(args.history, args.runs // 2)
    shift = [f"a-{i:02d}" for i in range(1, h + 1)] + [f"b-{i:02d}" for i in range(h + 1, 2 * h + 1)]
    shift = [n for n in shift if n in usable]
    cut = shift[: shift.index(f"b-{h + 1:02d}") + 3] if f"b-{h + 1:02d}" in shift else shift
    result["history"] = {
        "shift": history(out, "shift", shift, []), "shift_cut": history(out, "shift-cut", cut, []),
        "flat": history(out, "flat", [f"a-{i:02d}" for i in range(1, args.runs + 1) if f"a-{i:02d}" in usable], [])}
    return result


def markdown(s: dict[str, Any]) -> str:
    p = s["p95"]
    lines = [f"p95 of tier any: A mean {p['a_mean']:.3f} s (run-to-run stdev {p['a_stdev_rel']:.1%}), "
             f"B mean {p['b_mean']:.3f} s: slowdown {p['slowdown']:+.1%}; per A/B pair "
             f"{p['ab_pair_changes'][0]:+.1%} … {p['ab_pair_changes'][-1]:+.1%}; per A/A pair "
             f"{p['aa_pair_changes'][0]:+.1%} … {p['aa_pair_changes'][-1]:+.1%}",
             f"unusable runs (not exit 0, or invalid): {s['unusable_runs'] or 'none'}", "",
             "| rules | A/A flagged (exit 1) | A/A flags by metric | A/B flagged on p95 | A/B exit 1 |",
             "|---|---|---|---|---|"]
    for rules, r in s["rules"].items():
        metrics = ", ".join(f"{m} {k}" for m, k in sorted(r["aa_flagged_by_metric"].items())) or "none"
        lines.append(f"| {rules} | {share(r['aa_flagged'], r['aa_n'])} | {metrics} | "
                     f"{share(r['ab_p95_flagged'], r['ab_n'])} | {share(r['ab_exit1'], r['ab_n'])} |")
    lines.append("")
    for name, h in s["history"].items():
        found = "; ".join(f"{c['tier']} {c['metric']} at {c['from_run']} ({c['change']}, p {c['pvalue']}, "
                          f"{c['verdict']})" for c in h["changes"]) or "no change point"
        lines.append(f"- history {name} ({len(h['runs'])} runs, {h['runs'][0]} … {h['runs'][-1]}): exit "
                     f"{h['exit']}; {found}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21, help="batches: runs of each setting (>= 2)")
    ap.add_argument("--out", type=Path, default=Path("gate-runs"), help="where runs and results go (reused)")
    ap.add_argument("--seed", type=int, default=7, help="the load's seed and every compare's --seed")
    ap.add_argument("--history", type=int, default=10, help="runs of each setting in the shifted history")
    ap.add_argument("--set-size", type=int, default=3, help="runs per side in the replicate-set comparisons (1: none)")
    ap.add_argument("--parallel", type=int, choices=(1, 2), default=2, help="runs at a time")
    ap.add_argument("--wait-a", type=float, default=3.0, help="flush_max_wait_s of setting A (unscaled)")
    ap.add_argument("--wait-b", type=float, default=3.65, help="flush_max_wait_s of setting B (unscaled)")
    ap.add_argument("--duration-s", type=float, default=150, help="the load step, unscaled (150: 15 s)")
    ap.add_argument("--timeout-s", type=float, default=240, help="a batch that takes longer is stopped")
    args = ap.parse_args()
    if args.runs < 2:
        ap.error("--runs must be at least 2")
    out = args.out.resolve()
    t0 = time.monotonic()
    walls = run_all(out, args)
    print(f"runs done in {time.monotonic() - t0:.0f} s; comparing", flush=True)
    summary = summarise(out, args, walls)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "summary.md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    main()
