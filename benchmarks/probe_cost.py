"""Probe accuracy against query cost: TTA error vs the pipeline's ground truth, and queries/s, per poll interval.

    .venv/bin/python benchmarks/probe_cost.py [--seconds 20] [--polls 0.1,0.25,1] [--json probe.json]

For each poll interval, a fresh reference pipeline (time flush after ``--flush-wait`` s, so every canary waits
for one) takes 10 canaries/s from the probe for ``--seconds``; each canary's TTA is compared with the
pipeline's own ``visible_at - sent`` (``/internal/visibility``). The probe's TTA is the midpoint of the gap
between two polls in which the canary became visible (the last poll that missed it and the first that found
it; for a canary found by the first poll that looked, the poll before that one). Gaps are jittered by +-50 %
around the poll interval, so the error is bounded by half the longest gap (0.75 of the interval) plus a
poll's duration, and the mean signed error (the bias) should be near zero; queries/s is what that accuracy
costs the target. Every process started here is stopped by
its PID; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from ingestbench.checks.probe import Probe, ProbeSettings
from ingestbench.checks.tiering import Tiering
from ingestbench.loadgen.events import EventFactory
from ingestbench.orchestrate.children import stop_process
from ingestbench.records.observation import ANALYTICAL, AVAILABLE, Observation
from ingestbench.records.slo_file import load_slo
from ingestbench.targets.registry import make_target

POLL_JITTER = ProbeSettings().poll_jitter  # each gap between polls is the interval +-50 % by default


def start_pipeline(work: Path, flush_wait_s: float) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "ingestbench", "pipeline", "--host", "127.0.0.1", "--port", "0",
                             "--data", str(work / "data"), "--ready-file", str(ready), "--flush-rows", "100000",
                             "--flush-max-wait", str(flush_wait_s)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return proc, "http://127.0.0.1:" + ready.read_text().strip().rsplit(":", 1)[1]
        time.sleep(0.05)
    stop_process(proc)  # type: ignore[arg-type]
    raise RuntimeError("pipeline did not start")


async def probe_once(url: str, poll_s: float, seconds: float) -> dict[str, Any]:
    target = make_target("pipeline", url)
    async with aiohttp.ClientSession() as session:
        slo = load_slo().with_loss_horizon(30.0)
        observations: list[Observation] = []
        probe = Probe(writer=target, reader=target, session=session, events=EventFactory(seed=5),
                      tiering=Tiering(slo, declared_rate_eps=10.0),
                      settings=ProbeSettings(interval_s=0.1, poll_interval_s=poll_s, transactional=False), seed=5,
                      on_observation=observations.append)
        report = await probe.run(duration_s=seconds)
        seen = [o for o in observations if o.path == ANALYTICAL and o.outcome == AVAILABLE]
        req = target.visibility([o.canary_id for o in seen])
        async with session.post(req.url, data=req.body, headers=dict(req.headers)) as resp:
            rows = target.parse_visibility(resp.status, await resp.read())  # type: ignore[attr-defined]
    truth = {r["canary_id"]: r for r in rows}
    signed = [o.tta_s - (truth[o.canary_id]["visible_at_ms"] - o.sent_unix_ms) / 1000.0
              for o in seen if o.tta_s is not None and truth.get(o.canary_id, {}).get("visible_at_ms")]
    errors = sorted(abs(e) for e in signed)
    sent = sum(o.path == ANALYTICAL for o in observations)
    return {"poll_s": poll_s, "canaries": sent, "compared": len(errors),
            "error_mean_signed_ms": 1000 * statistics.fmean(signed),
            "error_median_ms": 1000 * statistics.median(errors), "error_p99_ms": 1000 * errors[
                min(len(errors) - 1, int(0.99 * len(errors)))], "error_max_ms": 1000 * errors[-1],
            "bound_ms": 1000 * poll_s * (1 + POLL_JITTER) / 2, "queries_per_s": report.polls / report.duration_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--polls", default="0.1,0.25,1")
    parser.add_argument("--flush-wait", type=float, default=2.0, help="the pipeline's time flush, seconds")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = []
    for poll_s in (float(p) for p in args.polls.split(",")):
        with tempfile.TemporaryDirectory(prefix="probe-cost-") as tmp:
            proc, url = start_pipeline(Path(tmp), args.flush_wait)
            try:
                results.append(asyncio.run(probe_once(url, poll_s, args.seconds)))
            finally:
                stop_process(proc)  # type: ignore[arg-type]
        r = results[-1]
        print(f"poll {poll_s:g} s: {r['compared']} of {r['canaries']} canaries compared", flush=True)
    print("\n| poll interval | canaries | mean signed error | abs. error median | p99 | max | bound | queries/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['poll_s']:g} s | {r['compared']} | {r['error_mean_signed_ms']:+.0f} ms | "
              f"{r['error_median_ms']:.0f} ms | {r['error_p99_ms']:.0f} ms | {r['error_max_ms']:.0f} ms | "
              f"{r['bound_ms']:.0f} ms | {r['queries_per_s']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
