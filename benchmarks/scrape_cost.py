"""What one scrape of each /metrics endpoint costs the process that serves it: CPU milliseconds and bytes.

    .venv/bin/python benchmarks/scrape_cost.py [--renders 200] [--seconds 600] [--json scrape.json]

Each endpoint's registry is built by the class its process uses (``PipelineMetrics``, ``LoadgenMetrics``,
``ProbeMetrics`` with the packaged SLO), wrapped by ``run_registry`` as the endpoint wraps it, and filled as a
run of ``--seconds`` fills it: every second of schedule lag folded in, canaries decided in every tier and
outcome, flushes and commits observed. Then the body is rendered as the endpoint renders it for a scrape
(``render``, in the text format and in OpenMetrics, which Prometheus asks for), ``--renders`` times; the
median process CPU time of one render is the cost, the body's length the bytes. The HTTP exchange around it
is not counted (aiohttp's or prometheus_client's server, well under a millisecond). Runs in-process, starts
nothing, sends nothing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import statistics
import time
from typing import Any

from prometheus_client import CollectorRegistry

from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.loadgen.meter import lag_histogram
from ingestbench.loadgen.metrics import LoadgenMetrics
from ingestbench.pipeline.metrics import PipelineMetrics
from ingestbench.records.exposition import OPENMETRICS_ACCEPT, render, run_registry
from ingestbench.records.observation import PATHS, Observation
from ingestbench.records.slo_file import load_slo

FORMATS = {"text": "text/plain", "openmetrics": OPENMETRICS_ACCEPT}
S = 1_000_000_000


def generator(seconds: int, rng: random.Random) -> CollectorRegistry:
    reg = CollectorRegistry()
    kwargs: dict[str, Any] = {"run_id": "r1", "scenario": "quick", "target": "pipeline"}
    if "lag_bound_s" in inspect.signature(LoadgenMetrics).parameters:
        kwargs["lag_bound_s"] = 0.05
    metrics = LoadgenMetrics(reg, **kwargs)
    row = {"target_eps": 1000, "achieved_eps": 1000, "sent_events": 1000, "failed_by_kind": {"timeout": 1},
           "dropped_events": 0, "generator_cpu": 0.3, "host_cpu": 0.5}
    for _ in range(seconds):  # 100 requests a second (1,000 events/s in batches of 10)
        metrics.second(row, lag_histogram([rng.expovariate(1 / 0.003) for _ in range(100)]))
    return run_registry(reg, {"run_id": "r1", "target": "pipeline"})


def probe(seconds: int, rng: random.Random) -> CollectorRegistry:
    reg = CollectorRegistry()
    slo = load_slo(time_scale=0.1)
    metrics = ProbeMetrics(reg, target="pipeline", slo=slo)
    for i in range(seconds * 4):  # a canary each 0.25 s, every tier and outcome
        tier = slo.tiers[i % len(slo.tiers)]
        sent = i * S
        seen = sent + int(rng.uniform(0.01, 5) * S)
        outcome = "available" if i % 50 else "lost"
        metrics.observe(Observation(f"c{i}", tier.path, outcome, sent_ns=sent, sent_unix_ms=0,
                                    seen_ns=seen if outcome == "available" else None,
                                    last_miss_ns=seen - S // 4 if outcome == "available" else None), tier.name)
        metrics.poll(tier.path, rng.uniform(0.001, 0.05), ok=bool(i % 97))
    for path in PATHS:
        metrics.set_pending(path, 3)
    return run_registry(reg, {"run_id": "r1"})


def pipeline(seconds: int, rng: random.Random) -> CollectorRegistry:
    reg = CollectorRegistry()
    metrics = PipelineMetrics(reg)
    for _ in range(seconds):
        metrics.events_received.inc(1000)
        metrics.events_visible.inc(1000)
        metrics.flushes.labels("time").inc()
        metrics.flush_duration.observe(rng.uniform(0.001, 0.05))
        for _ in range(10):
            metrics.commit_duration.observe(rng.uniform(0.0005, 0.01))
        metrics.visibility_delay.observe_many([(rng.uniform(0.01, 3), 100) for _ in range(10)])
    return run_registry(reg, {"run_id": "r1"})


def measure(registry: CollectorRegistry, accept: str, renders: int) -> dict[str, float]:
    costs, body = [], b""
    for _ in range(renders):
        started = time.process_time()
        body, _ = render(registry, accept)
        costs.append(time.process_time() - started)
    return {"cpu_ms": round(statistics.median(costs) * 1000, 3), "bytes": len(body),
            "samples": sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=600, help="run length the registries are filled for")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rng = random.Random(1)
    out = {}
    for name, build in (("generator", generator), ("probe", probe), ("pipeline", pipeline)):
        registry = build(args.seconds, rng)
        out[name] = {fmt: measure(registry, accept, args.renders) for fmt, accept in FORMATS.items()}
        for fmt, row in out[name].items():
            print(f"{name:9} {fmt:11} {row['cpu_ms']:8.3f} ms CPU  {row['bytes']:7d} bytes  "
                  f"{row['samples']:4d} samples")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
