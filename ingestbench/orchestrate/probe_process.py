"""Running the probe to the end: canaries until stopped, a drain until every one is decided, one verdict.

``run_probe`` owns the process side of :class:`ingestbench.checks.probe.Probe`: signals (the first SIGINT/SIGTERM stops
writing and drains, a second one skips the drain; a probe whose parent run died skips it too: nobody waits),
the Prometheus endpoint, ``samples.jsonl``, and at the end the one judge and ``probe.json``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from ingestbench.checks.http import client_session
from ingestbench.checks.judge import RunVerdict
from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.checks.probe import Probe, ProbeReport, ProbeSettings
from ingestbench.checks.rate_tiering import Tiering
from ingestbench.checks.rates import PromRate
from ingestbench.checks.recorder import SAMPLES_FILE, SamplesWriter
from ingestbench.loadgen.events import EventFactory
from ingestbench.records.config import ConfigError
from ingestbench.records.exposition import render, run_registry
from ingestbench.records.jsonl import write_bytes_atomic, write_json_atomic
from ingestbench.records.observation import ANALYTICAL
from ingestbench.records.plan import ProbePlan
from ingestbench.records.run_record import ProbeRecord, ProbeSummary
from ingestbench.records.samples_cache import read_sample_columns
from ingestbench.records.slo import DEFAULT_SLO_PATH
from ingestbench.records.timeline import RatePoint, TimelineTail, of_points, read_timeline, write_timeline
from ingestbench.records.tls import INSECURE_NOTE
from ingestbench.results.judging import judge_files, slo_for
from ingestbench.results.rundir import PROBE_JSON, RATES, RUN_JSON, SLO_COPY, RunFiles, probe_run
from ingestbench.targets.roles import Roles

log = logging.getLogger("ingestbench.probe")


async def run_probe(plan: ProbePlan, roles: Roles) -> tuple[ProbeRecord, ProbeReport]:
    """Probe the targets' ``roles`` as ``plan`` says until the duration is over or a signal comes; judge;
    record. With no reader, canaries are only sent and acknowledged and the verdict says TTA was not
    measured; with no profile store the transactional check is skipped (the plan says why)."""
    slo = plan.slo
    out = Path(plan.out)
    registry = CollectorRegistry()
    run_id = plan.run_id or out.name  # a probe alone is a run of its own, named by its results directory
    metrics = ProbeMetrics(registry, target=plan.target, slo=slo,
                           run={"run_id": run_id, "scenario": plan.scenario or "probe"})
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
    served = run_registry(registry, {"run_id": run_id, **plan.tags})
    runner = await _serve_metrics(served, plan.metrics_host, plan.metrics_port)
    settings = ProbeSettings(interval_s=plan.interval_s, poll_interval_s=plan.poll_interval_s,
                             transactional=plan.transactional, timeout_s=plan.timeout_s, drain_s=plan.drain_s,
                             batch_size=plan.batch_size)
    tiering = Tiering(slo, declared_rate_eps=plan.declared_rate_eps, window_s=slo.rate_window_s)
    if not plan.tls.verify:
        log.warning("%s", INSECURE_NOTE)
    try:
        async with client_session(plan.tls) as session:
            with SamplesWriter(out / SAMPLES_FILE) as recorder:
                rate_query = None
                if plan.rate_query and plan.prometheus_url:
                    rate_query = PromRate(session, plan.prometheus_url, plan.rate_query)
                probe = Probe(writer=roles.writer, reader=roles.reader, profiles=roles.profiles, session=session,
                              tiering=tiering, settings=settings, recorder=recorder,
                              metrics=metrics, events=EventFactory(seed=plan.seed or 0),
                              timeline=TimelineTail(plan.rate_timeline) if plan.rate_timeline else None,
                              rate_query=rate_query, seed=plan.seed)
                log.info("probing %s at %s%s; samples -> %s", plan.target, plan.url,
                         f", reading through {plan.reader.kind} at {plan.reader.url}" if plan.reader else "",
                         recorder.path)
                report = await probe.run(stop=stop, duration_s=plan.duration_s, abort=abort)
        # judged and recorded while the signal handlers still stand: a late signal cannot cut the record short
        problems = [roles.no_reader_reason()] if roles.reader is None and needs_reader(plan) else []
        inputs = ProbeRecord(status="judging", reason="", exit_code=3, declared_rate_eps=plan.declared_rate_eps,
                             rate_timeline=plan.rate_timeline, expected_tiers=plan.expected_tiers,
                             time_scale=plan.time_scale, lost_after_s=plan.lost_after_s,
                             run_problems=tuple(problems))
        verdict = judge_probe_dir(out, plan, inputs, sampled=tiering.points)
        acks = report.acks
        record = replace(
            inputs, status=verdict.status, reason=verdict.reason, exit_code=int(verdict.exit_code),
            invalid_reasons=verdict.invalid_reasons, untiered=verdict.untiered, tiers=verdict.tiers,
            summary=ProbeSummary(canary_batch_size=plan.batch_size, sent=report.sent,
                                 transactional_sent=report.transactional_sent, undecided=report.undecided,
                                 drain_s=report.drain_s, polls=report.polls, poll_failures=report.poll_failures,
                                 exit_code=int(verdict.exit_code), poll_interval_s=report.poll_interval_s,
                                 tta_measured=roles.reader is not None, acked=acks.acked if acks else None,
                                 ack_p50_s=acks.p50_s if acks else None, ack_p95_s=acks.p95_s if acks else None,
                                 poll_failure_episodes=report.poll_failure_episodes),
            duration_s=report.duration_s)
        write_json_atomic(out / PROBE_JSON, record.to_dict())
    finally:
        if plan.final_metrics:  # the last state, before the endpoint goes: nothing changes it from here on
            write_bytes_atomic(Path(plan.final_metrics), render(served, "text/plain")[0])
        if runner is not None:
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return record, report


def needs_reader(plan: ProbePlan) -> bool:
    """Whether the verdict needs canaries looked up: an expected analytical tier (or, with none expected, any
    analytical tier in the SLO)."""
    analytical = {t.name for t in plan.slo.tiers if t.path == ANALYTICAL}
    return bool(analytical & set(plan.expected_tiers)) if plan.expected_tiers else bool(analytical)


def judge_probe_dir(out: Path, plan: ProbePlan, inputs: ProbeRecord,
                    sampled: Sequence[RatePoint] = ()) -> RunVerdict:
    """Write what judging the probe's directory needs beside its samples, then judge the directory as
    ``ingestbench gate`` does: the same files, the same function, the same verdict and exit code.

    Beside ``samples.jsonl``: ``slo.toml`` (a copy of the SLO file, unless a run already put its own there) and
    ``rates.jsonl``, the points it tiered by (a copy of ``--rate-timeline``, or the points ``--rate-query``
    fetched; unless that file is the run's own, already there). ``inputs`` is the probe record's judging part
    (time scale, loss horizon, declared rate, expected tiers, problems)."""
    if not (out / SLO_COPY).exists():
        shutil.copyfile(plan.slo_path or DEFAULT_SLO_PATH, out / SLO_COPY)
    rates = out / RATES
    if plan.rate_timeline and Path(plan.rate_timeline).resolve() != rates.resolve():
        write_timeline(rates, read_timeline(plan.rate_timeline))
    elif plan.rate_query and sampled:
        write_timeline(rates, of_points(sampled))
    files = RunFiles(path=out, run=probe_run(out.name, inputs), samples=read_sample_columns(out / SAMPLES_FILE),
                     timeline=read_timeline(rates), probe=inputs)
    # inside a run (its run.json beside), the run judges the target's resources: it is the one that measures them
    return judge_files(files, slo_for(files, None), judge_resources=not (out / RUN_JSON).exists())


def footer(plan: ProbePlan, report: ProbeReport) -> str:
    """One line under the verdict table: what was sent, the drain, the polls, the commonest ingest errors."""
    text = (f"{report.sent} analytical + {report.transactional_sent} transactional canaries in "
            f"{report.duration_s:.1f} s (drain {report.drain_s:.1f} s); {report.undecided} undecided; "
            f"{report.poll_failures} of {report.polls} polls failed; samples: {Path(plan.out) / SAMPLES_FILE}")
    if report.acks is not None:
        a = report.acks
        text += (f"; no reader, so no TTA: {a.acked} canaries acknowledged (ack p50 {_secs(a.p50_s)}, "
                 f"p95 {_secs(a.p95_s)}), {a.errored} refused")
    errors = Counter(report.errors)
    if errors:
        text += "; ingest errors: " + "; ".join(f"{n} x {e}" for e, n in errors.most_common(3))
    return text


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} s"


async def _serve_metrics(registry: CollectorRegistry, host: str, port: int | None) -> web.AppRunner | None:
    if port is None:
        return None

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = render(registry, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

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
