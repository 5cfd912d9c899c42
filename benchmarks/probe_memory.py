"""Does a long-running probe's memory stay flat? Resident memory of ``ingestbench probe`` over time.

    .venv/bin/python benchmarks/probe_memory.py [--minutes 30] [--rate 20] [--json probe_memory.json]

Starts the reference pipeline on loopback (flush every 200 events or 1 s) and an ``ingestbench probe``
against it writing ``--rate`` canaries a second (plus its transactional check), reads the probe's resident
memory (``VmRSS`` in ``/proc/PID/status``) every 10 s, and reports it after the first 5 minutes, at the end
and at its largest after the first 5 minutes, with the growth in per cent. Both processes are stopped by PID
at the end; the probe gets SIGINT, drains and judges like any probe.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingestbench.orchestrate.children import stop_process

WARM_UP_S = 300.0
SAMPLE_S = 10.0


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_pipeline(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "pipeline", "--port", "0", "--data",
                             str(work / "data"), "--ready-file", str(ready), "--flush-rows", "200",
                             "--flush-max-wait", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return proc, "http://" + ready.read_text().strip()
        time.sleep(0.05)
    stop_process(proc)
    raise RuntimeError("the pipeline did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="canaries per second")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="probe-memory-") as tmp:
        work = Path(tmp)
        pipeline, url = start_pipeline(work)
        probe = subprocess.Popen([sys.executable, "-m", "ingestbench", "probe", "--url", url, "--declared-rate-eps",
                                  "10", "--interval", str(1.0 / args.rate), "--out", str(work), "--run-id", "out"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < args.minutes * 60 and probe.poll() is None:
                time.sleep(SAMPLE_S)
                value = rss_mib(probe.pid)
                if value is not None:
                    samples.append((time.monotonic() - started, value))
                    print(f"{samples[-1][0]:6.0f} s  {value:7.1f} MiB", flush=True)
        finally:
            probe.send_signal(signal.SIGINT)
            stop_process(probe, sig=signal.SIGINT, grace_s=120)
            stop_process(pipeline)
        lines = (work / "out" / "samples.jsonl").read_bytes().count(b"\n")
    after = [v for t, v in samples if t >= WARM_UP_S]
    at_warm = after[0] if after else None
    result = {"minutes": args.minutes, "rate": args.rate, "canaries_decided": lines, "rss_mib": samples,
              "rss_after_warm_up_mib": at_warm, "rss_end_mib": samples[-1][1] if samples else None,
              "rss_max_after_warm_up_mib": max(after) if after else None,
              "growth_after_warm_up": (max(after) / at_warm - 1) if after and at_warm else None}
    print(f"\n{lines:,} canaries decided; RSS {at_warm} MiB at 5 min, {result['rss_end_mib']} MiB at the end, "
          f"max {result['rss_max_after_warm_up_mib']} MiB after 5 min: growth "
          f"{(result['growth_after_warm_up'] or 0) * 100:.1f} %")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
