"""``ingestbench probe``: run the TTA probe alone against a target, like Loki's canary.

Writes canaries, polls for them, records ``OUT/samples.jsonl`` as observations are decided, serves
Prometheus ``/metrics`` when ``--metrics-port`` is given. When ``--duration`` is over or on SIGINT/SIGTERM it
stops writing and drains until every canary is seen or past its loss horizon (a second signal skips the
drain: what is still pending is undecided, and the result invalid), then judges with the same judge as
``ingestbench run`` and prints the verdict table. Exit code: 0 pass, 1 an SLO failed, 2 bad usage or config,
3 invalid (too few samples, e.g. because the target was unreachable; undecided canaries).

    ingestbench probe --url http://127.0.0.1:8080 --declared-rate-eps 10 --duration 120 --metrics-port 9465
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rich.console import Console

from checks.judge import RateSource, RunVerdict, judge_run
from checks.observation import Observation
from checks.rates import read_timeline
from checks.slo import Slo
from checks.tiering import RatePoint
from ingestbench.config import ConfigError, check_number, positive, resolve
from ingestbench.jsonl import read_jsonl

log = logging.getLogger("ingestbench.probe")


def register(sub: Any) -> None:
    p = sub.add_parser("probe", help="run the time-to-availability probe alone against a target",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default=None, help="target kind (default pipeline)")
    p.add_argument("--url", default=None, help="target base URL (env INGESTBENCH_URL)")
    p.add_argument("--write-key", default=None, help="ingest key (env INGESTBENCH_WRITE_KEY)")
    p.add_argument("--duration", type=float, default=None, help="seconds to probe (default: until SIGINT)")
    p.add_argument("--declared-rate-eps", type=float, default=None,
                   help="ingest rate the target is known to run at, for tiering")
    p.add_argument("--rate-timeline", default=None, help="load generator rate timeline (JSON lines) to tier by")
    p.add_argument("--rate-query", default=None, help="PromQL giving the achieved ingest rate in events/s")
    p.add_argument("--prometheus-url", default=None, help="Prometheus base URL for --rate-query")
    p.add_argument("--slo", default=None, help="SLO file (default: the vendor promise)")
    p.add_argument("--time-scale", type=float, default=None, help="scale SLO targets and warm-ups (default 1)")
    p.add_argument("--out", default=None, help="directory for samples.jsonl (default results/probe-<time>)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port (0: any free)")
    p.add_argument("--metrics-host", default=None, help="address for /metrics (default 127.0.0.1)")
    p.add_argument("--interval", type=float, default=None, help="seconds between canaries (default 1)")
    p.add_argument("--poll-interval", type=float, default=None, help="seconds between look-ups (default 0.25)")
    p.add_argument("--lost-after", type=float, default=None, help="seconds until a canary is lost, for every "
                   "tier (default: each tier's lost_after from the SLO, 10x its target unless set, time-scaled)")
    p.add_argument("--drain", type=float, default=None, help="at most this many seconds of drain at the end "
                   "(default: until every canary is decided; canaries still pending after a cap are undecided)")
    p.add_argument("--batch-size", type=int, default=None, help="events per canary request: the canary rides "
                   "in a batch of ordinary events, as the load sends them (default 1: the single-event endpoint)")
    p.add_argument("--expect-tier", action="append", default=None, help="a tier that must be judged (the run "
                   "is invalid without it); repeat for several")
    p.add_argument("--timeout", type=float, default=None, help="per-request timeout seconds (default 5)")
    p.add_argument("--no-transactional", action="store_true", help="skip the profile write/read check")
    p.add_argument("--seed", type=int, default=None, help="seed for canary events (default: random)")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    pos_f = positive(float)
    url = resolve("url", args.url, None, str)
    if not url:
        raise ConfigError("url: required (--url or INGESTBENCH_URL)")
    opts: dict[str, Any] = {
        "target": resolve("target", args.target, "pipeline", str),
        "url": url,
        "write_key": resolve("write-key", args.write_key, None, str),
        "duration_s": resolve("duration", args.duration, None, pos_f),
        "declared_rate_eps": resolve("declared-rate-eps", args.declared_rate_eps, None, float),
        "rate_timeline": resolve("rate-timeline", args.rate_timeline, None, str),
        "rate_query": resolve("rate-query", args.rate_query, None, str),
        "prometheus_url": resolve("prometheus-url", args.prometheus_url, None, str),
        "slo": resolve("slo", args.slo, None, str),
        "time_scale": resolve("time-scale", args.time_scale, 1.0, pos_f),
        "out": resolve("out", args.out, None, str) or f"results/probe-{time.strftime('%Y%m%d-%H%M%S')}",
        "metrics_port": resolve("metrics-port", args.metrics_port, None, int),
        "metrics_host": resolve("metrics-host", args.metrics_host, "127.0.0.1", str),
        "interval_s": resolve("interval", args.interval, 1.0, pos_f),
        "poll_interval_s": resolve("poll-interval", args.poll_interval, 0.25, pos_f),
        "lost_after_s": resolve("lost-after", args.lost_after, None, pos_f),
        "drain_s": resolve("drain", args.drain, None, float),
        "batch_size": resolve("batch-size", args.batch_size, 1, positive(int)),
        "expect_tiers": list(args.expect_tier or []),
        "timeout_s": resolve("timeout", args.timeout, 5.0, pos_f),
        "seed": resolve("seed", args.seed, None, int),
        "no_transactional": bool(args.no_transactional),
    }
    for key in ("duration_s", "interval_s", "poll_interval_s", "lost_after_s", "timeout_s", "time_scale"):
        if opts[key] is not None:
            check_number(key.removesuffix("_s").replace("_", "-") + ":", opts[key])
    for key in ("drain_s", "declared_rate_eps"):
        if opts[key] is not None:
            check_number(key.removesuffix("_s").replace("_", "-") + ":", opts[key], allow_minimum=True)
    if opts["batch_size"] < 1:
        raise ConfigError(f"batch-size: must be >= 1, got {opts['batch_size']}")
    if opts["metrics_port"] is not None and not 0 <= opts["metrics_port"] <= 65535:
        raise ConfigError(f"metrics-port: must be 0..65535, got {opts['metrics_port']}")
    sources = [k for k in ("declared_rate_eps", "rate_timeline", "rate_query") if opts[k] is not None]
    if len(sources) != 1:
        raise ConfigError("declared-rate-eps: give exactly one of --declared-rate-eps, --rate-timeline, "
                          f"--rate-query to tier canaries (got {len(sources)})")
    if opts["rate_query"] is not None and not opts["prometheus_url"]:
        raise ConfigError("prometheus-url: required with --rate-query")
    return opts


def run(args: argparse.Namespace) -> int:
    from checks.registry import make_target
    from checks.slo import load_slo

    opts = _options(args)
    slo = load_slo(opts["slo"], time_scale=opts["time_scale"]).with_loss_horizon(opts["lost_after_s"])
    unknown = [t for t in opts["expect_tiers"] if t not in {tier.name for tier in slo.tiers}]
    if unknown:
        raise ConfigError(f"expect-tier: no tier {unknown[0]!r} in the SLO")
    target = make_target(opts["target"], opts["url"], write_key=opts["write_key"])
    return asyncio.run(_probe(opts, slo, target))


async def _probe(opts: dict[str, Any], slo: Any, target: Any) -> int:
    from checks.metrics import ProbeMetrics
    from checks.probe import Probe, ProbeSettings
    from checks.rates import PromRate, TimelineTail
    from checks.recorder import SAMPLES_FILE, SamplesWriter
    from checks.report import print_verdicts
    from checks.tiering import Tiering

    out = Path(opts["out"])
    registry = CollectorRegistry()
    metrics = ProbeMetrics(registry, target=opts["target"])
    stop, abort = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    parent = os.getppid()

    def on_signal() -> None:
        if os.getppid() != parent:  # the run that started us is gone: nobody will wait for a drain
            log.info("stopping: the parent process is gone; pending canaries are recorded as undecided")
            stop.set()
            abort.set()
        elif stop.is_set():
            abort.set()
        else:
            log.info("stopping: draining until every canary is decided (signal again to skip)")
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    runner = await _serve_metrics(registry, opts["metrics_host"], opts["metrics_port"])
    settings = ProbeSettings(interval_s=opts["interval_s"], poll_interval_s=opts["poll_interval_s"],
                             transactional=not opts["no_transactional"], timeout_s=opts["timeout_s"],
                             drain_s=opts["drain_s"], batch_size=opts["batch_size"])
    window_s = 5.0 * slo.time_scale
    tiering = Tiering(slo, declared_rate_eps=opts["declared_rate_eps"], window_s=window_s)
    try:
        async with aiohttp.ClientSession() as session:
            with SamplesWriter(out / SAMPLES_FILE, target=opts["target"]) as recorder:
                rate_query = None
                if opts["rate_query"]:
                    rate_query = PromRate(session, opts["prometheus_url"], opts["rate_query"])
                timeline = TimelineTail(opts["rate_timeline"]) if opts["rate_timeline"] else None
                probe = Probe(target=target, session=session, tiering=tiering, settings=settings,
                              recorder=recorder, metrics=metrics, timeline=timeline, rate_query=rate_query,
                              seed=opts["seed"])
                log.info("probing %s at %s; samples -> %s", opts["target"], opts["url"], recorder.path)
                report = await probe.run(stop=stop, duration_s=opts["duration_s"], abort=abort)
    finally:
        if runner is not None:
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    result = judge_probe(report.observations, opts, slo, sampled=tiering.points)
    (out / "verdicts.json").write_bytes(orjson.dumps(
        {"status": result.status, "reason": result.reason, "exit_code": int(result.exit_code),
         "invalid_reasons": list(result.invalid_reasons), "untiered": result.untiered,
         "tiers": [v.to_record() for v in result.tiers], "sent": report.sent,
         "transactional_sent": report.transactional_sent, "undecided": report.undecided,
         "polls": report.polls, "poll_failures": report.poll_failures,
         "poll_failure_episodes": [list(e) for e in report.poll_failure_episodes], "duration_s": report.duration_s,
         "drain_s": report.drain_s, "declared_rate_eps": opts["declared_rate_eps"],
         "rate_timeline": opts["rate_timeline"], "expected_tiers": opts["expect_tiers"]},
        option=orjson.OPT_INDENT_2))
    footer = (f"{report.sent} analytical + {report.transactional_sent} transactional canaries in "
              f"{report.duration_s:.1f} s (drain {report.drain_s:.1f} s); {report.undecided} undecided; "
              f"{report.poll_failures} of {report.polls} polls failed; samples: {out / SAMPLES_FILE}")
    errors = Counter(o.error for o in report.observations if o.error)
    if errors:
        footer += "; ingest errors: " + "; ".join(f"{n} x {e}" for e, n in errors.most_common(3))
    console = Console() if sys.stdout.isatty() else Console(width=200)
    print_verdicts(console, result, footer=footer)
    return int(result.exit_code)


def judge_probe(observations: Sequence[Observation], opts: dict[str, Any], slo: Slo,
                sampled: Sequence[RatePoint] = ()) -> RunVerdict:
    """The probe's verdict: the one judge, given what the probe knows (its rate source, and from a load
    generator's timeline the steps' verdicts too). ``sampled``: points from ``--rate-query``."""
    window_s = 5.0 * slo.time_scale
    steps: list[dict[str, Any]] = []
    if opts["rate_timeline"]:
        rates = RateSource(points=tuple(read_timeline(opts["rate_timeline"])), window_s=window_s)
        steps = [r for r in read_jsonl(opts["rate_timeline"]) if r.get("type") == "step"]
    elif opts["declared_rate_eps"] is not None:
        rates = RateSource(declared_rate_eps=opts["declared_rate_eps"], window_s=window_s)
    else:
        rates = RateSource(points=tuple(sampled), window_s=window_s)
    return judge_run(observations, slo=slo, rates=rates, steps=steps, expected=opts["expect_tiers"])


async def _serve_metrics(registry: CollectorRegistry, host: str, port: int | None) -> web.AppRunner | None:
    if port is None:
        return None

    async def metrics(_: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(registry))
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return resp

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"metrics-port: cannot listen on {host}:{port} ({exc.strerror})") from None
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return runner
