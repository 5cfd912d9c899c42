"""What judging and rendering a run costs as it grows: wall time and peak memory of ``gate`` and ``report``.

    .venv/bin/python benchmarks/analysis.py RUN_DIR [--sizes 10000,100000,1000000] [--json analysis.json]

``RUN_DIR`` is a finished run (e.g. from ``ingestbench run --scenario quick``). For each size N its
``samples.jsonl`` is grown to N observations by repeating its own lines with fresh canary ids (so the tiers,
windows, outcomes and TTA spread are a real run's), in a copy of the directory. Then, each in a fresh
process, ``ingestbench gate`` judges the copy (parsing its samples), ``ingestbench report`` judges it and
writes judged.jsonl, run.json, report.md, report.html, junit.xml and the samples' columns, and ``gate`` judges
it again (a finished run: from those columns). Reported per command: the process's
wall time (interpreter start included, as a user waits for it), its peak RSS, the exit code, and the size of
report.html. The verdicts must not depend on the size beyond the counts: the exit code is printed so a
change would show.
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

import orjson


def grow(src: Path, dest: Path, n: int) -> None:
    """A copy of run ``src`` whose samples.jsonl holds ``n`` observations."""
    shutil.copytree(src, dest)
    lines = [line for line in (src / "samples.jsonl").read_bytes().splitlines() if line.strip()]
    with (dest / "samples.jsonl").open("wb") as out:
        for i in range(n):
            doc = orjson.loads(lines[i % len(lines)])
            if i >= len(lines):
                doc["canary_id"] = f"{doc['canary_id'][:-8]}{i:08x}"
            out.write(orjson.dumps(doc) + b"\n")
    for stale in ("judged.jsonl", "report.html", "report.md", "junit.xml"):
        (dest / stale).unlink(missing_ok=True)


CHILD = """
import resource, sys
from ingestbench.cli import main
code = main(sys.argv[1:])
print("PEAK_RSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def measure(command: str, run_dir: Path) -> dict[str, Any]:
    """Wall time and peak RSS of ``ingestbench COMMAND RUN_DIR`` in a process of its own."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, command, str(run_dir)], capture_output=True, text=True,
                          timeout=1800)
    wall = time.perf_counter() - t
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PEAK_RSS_KIB ")), None)
    if proc.returncode not in (0, 1, 3) or line is None:
        raise RuntimeError(f"{command} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {"wall_s": wall, "peak_rss_mib": int(line.split()[1]) / 1024, "exit_code": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="analysis-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            dest = Path(tmp) / f"run-{n}"
            grow(Path(args.run_dir), dest, n)
            row: dict[str, Any] = {"observations": n,
                                   "samples_mib": (dest / "samples.jsonl").stat().st_size / 2**20}
            for command in ("gate", "report"):
                row[command] = measure(command, dest)
            row["gate_again"] = measure("gate", dest)  # a finished run: its columns were kept by report
            row["report_html_kib"] = (dest / "report.html").stat().st_size / 1024
            results.append(row)
            shutil.rmtree(dest)
            print(f"{n:,} observations: gate {row['gate']['wall_s']:.2f} s, report {row['report']['wall_s']:.2f} s",
                  flush=True)
    print("\n| observations | samples.jsonl | gate (parses) | report | gate again (columns kept) | report.html "
          "| exit code |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        g, rep, again = r["gate"], r["report"], r["gate_again"]
        print(f"| {r['observations']:,} | {r['samples_mib']:,.0f} MiB | {g['wall_s']:.2f} s, "
              f"{g['peak_rss_mib']:,.0f} MiB | {rep['wall_s']:.2f} s, {rep['peak_rss_mib']:,.0f} MiB | "
              f"{again['wall_s']:.2f} s, {again['peak_rss_mib']:,.0f} MiB | {r['report_html_kib']:,.0f} KiB | "
              f"{g['exit_code']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
