"""What judging and rendering a run costs as it grows: time and peak memory of ``ingestbench report``.

    .venv/bin/python benchmarks/analysis_cost.py RUN_DIR [--sizes 10000,100000,1000000] [--json analysis.json]

``RUN_DIR`` is a finished run (e.g. from ``ingestbench run --scenario quick``). For each size N its
``samples.jsonl`` is grown to N observations by repeating its own lines with fresh canary ids (so the
tiers, outcomes and TTA spread are a real run's), in a copy of the directory; then ``ingestbench report``
judges the copy again (re-tiering every observation from the rate timeline) and renders report.md,
report.html and junit.xml, in a fresh process. Reported: the time of that call inside the process (what a
user waits for after start-up), the process's wall time including interpreter start, and its peak RSS.
Measures today's code only; it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = """
import resource, sys, time
from ingestbench.cli import main
t = time.perf_counter()
code = main(["report", sys.argv[1]])
elapsed = time.perf_counter() - t
print("RESULT", code, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def grow(src: Path, dest: Path, n: int) -> None:
    """A copy of run ``src`` whose samples.jsonl holds ``n`` observations."""
    shutil.copytree(src, dest)
    lines = [line for line in (src / "samples.jsonl").read_bytes().splitlines() if line.strip()]
    with (dest / "samples.jsonl").open("wb") as out:
        for i in range(n):
            doc = json.loads(lines[i % len(lines)])
            if i >= len(lines):
                doc["canary_id"] = f"{doc['canary_id'][:-8]}{i:08x}"
            out.write(json.dumps(doc, separators=(",", ":")).encode() + b"\n")


def measure(run_dir: Path) -> dict[str, Any]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(run_dir)], capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t
    line = next((x for x in proc.stderr.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"report failed: {proc.stderr[-2000:]}")
    _, code, elapsed, rss_kib = line.split()
    return {"exit_code": int(code), "report_s": float(elapsed), "process_wall_s": wall,
            "peak_rss_mib": int(rss_kib) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="analysis-cost-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            dest = Path(tmp) / f"run-{n}"
            grow(Path(args.run_dir), dest, n)
            results.append({"observations": n, **measure(dest)})
            shutil.rmtree(dest)
            r = results[-1]
            print(f"{n:,} observations: {r['report_s']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB", flush=True)
    print("\n| observations | judge + render (in process) | process wall (with start-up) | peak RSS |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['observations']:,} | {r['report_s']:.2f} s | {r['process_wall_s']:.2f} s | "
              f"{r['peak_rss_mib']:,.0f} MiB |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
