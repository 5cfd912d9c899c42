"""Metrics on an injected registry, the target registry, and the verdict table text."""

from __future__ import annotations

import io
import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console

from ingestbench.checks.judge import RateSource, judge_run
from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.records.config import ConfigError
from ingestbench.records.exposition import OPENMETRICS_ACCEPT, render, run_registry
from ingestbench.records.observation import Observation
from ingestbench.records.slo_file import load_slo
from ingestbench.results.table import print_verdicts
from ingestbench.targets.contract import ProfileStore, Reader, Writer
from ingestbench.targets.registry import make_target, names

S = 1_000_000_000


def test_metrics_on_two_independent_registries() -> None:
    regs = [CollectorRegistry(), CollectorRegistry()]
    metrics = [ProbeMetrics(r, target="pipeline") for r in regs]  # no duplicate-registration error
    obs = Observation("a", "analytical", "available", sent_ns=0, sent_unix_ms=0, seen_ns=2 * S,
                      last_miss_ns=2 * S, duplicates=2)
    metrics[0].observe(obs, "high")
    metrics[0].observe(Observation("b", "analytical", "lost", sent_ns=0, sent_unix_ms=0), "high")
    fast = Observation("f", "analytical", "available", sent_ns=10 * S, sent_unix_ms=0, seen_ns=10 * S + 10**6,
                       prior_poll_ns=9 * S)  # an estimate below zero counts in the lowest bucket
    assert fast.tta_s is not None and fast.tta_s < 0
    metrics[0].observe(fast, "high")
    metrics[0].set_pending("analytical", 4)
    metrics[0].poll("analytical", 0.003, ok=False)
    text = generate_latest(regs[0]).decode()
    assert 'ingestbench_tta_seconds_bucket{le="0.05",path="analytical",target="pipeline",tier="high"} 1.0' in text
    assert 'ingestbench_tta_seconds_bucket{le="2.0",path="analytical",target="pipeline",tier="high"} 2.0' in text
    assert 'ingestbench_tta_seconds_bucket{le="0.01",' in text and 'le="300.0"' in text
    assert 'ingestbench_canaries_total{outcome="lost",path="analytical",target="pipeline",tier="high"} 1.0' in text
    assert 'ingestbench_canary_duplicates_total{path="analytical",target="pipeline"} 2.0' in text
    assert 'ingestbench_canaries_pending{path="analytical",target="pipeline"} 4.0' in text
    assert 'ingestbench_poll_errors_total{path="analytical",target="pipeline"} 1.0' in text
    assert "ingestbench_canaries_total{" not in generate_latest(regs[1]).decode()


def test_slo_targets_are_bucket_bounds_and_canary_ids_are_exemplars() -> None:
    slo = load_slo(time_scale=0.1)  # targets 3 s, 0.3 s (0.30000000000000004 unrounded) and 0.1 s
    reg = CollectorRegistry()
    metrics = ProbeMetrics(reg, target="pipeline", slo=slo)
    at = 28 * S // 100
    metrics.observe(Observation("c-0.28", "analytical", "available", sent_ns=0, sent_unix_ms=0, seen_ns=at,
                                last_miss_ns=at), "high")
    metrics.observe(Observation("c-0.4", "analytical", "available", sent_ns=0, sent_unix_ms=0,
                                seen_ns=4 * S // 10, last_miss_ns=4 * S // 10), "high")
    body, content_type = render(run_registry(reg, {"run_id": "r-1"}), accept=OPENMETRICS_ACCEPT)
    text = body.decode()
    assert content_type.startswith("application/openmetrics-text")
    # the high tier's target is a bound: one canary within it, one above, and the exemplar names the canary
    within = re.search(r'ingestbench_tta_seconds_bucket\{le="0.3",path="analytical",run_id="r-1",'
                       r'target="pipeline",tier="high"\} 1.0 # \{canary_id="c-0.28"\} 0.28', text)
    assert within, text
    assert re.search(r'ingestbench_slo_target_seconds\{bucket="0.3",path="analytical",run_id="r-1",target="pipeline",'
                     r'tier="high"\} 0.3', text)
    assert re.search(r'ingestbench_slo_min_rate_events_per_second\{path="analytical",run_id="r-1",'
                     r'target="pipeline",tier="high"\} 1000.0', text)
    # every tier and outcome exists from the start, as 0: "no loss" is a number, not an empty panel
    assert re.search(r'ingestbench_canaries_total\{outcome="lost",path="transactional",run_id="r-1",'
                     r'target="pipeline",tier="transactional"\} 0.0', text)
    assert "_created" not in text
    plain, plain_type = render(run_registry(reg, {"run_id": "r-1"}), accept="text/plain")
    assert plain_type.startswith("text/plain") and b"canary_id" not in plain  # exemplars: OpenMetrics only


def test_target_registry() -> None:
    assert "pipeline" in names()
    target = make_target("pipeline", "http://127.0.0.1:9", environ={"INGESTBENCH_WRITE_KEY": "k1"})
    assert isinstance(target, Writer) and isinstance(target, Reader) and isinstance(target, ProfileStore)
    assert target.query_canaries(["x"]).url == "http://127.0.0.1:9/query"
    assert target.query_canaries(["x"]).headers["Authorization"] == "Bearer k1"  # the key from the environment
    assert "k1" not in repr(target)
    with pytest.raises(ConfigError, match="unknown target"):
        make_target("posthog-v9", "http://x")
    with pytest.raises(ConfigError, match="'colour' is not an option of target 'pipeline'"):
        make_target("pipeline", "http://x", options={"colour": "red"})
    with pytest.raises(ConfigError, match="location_enrichment must be true or false"):
        make_target("pipeline", "http://x", options={"location_enrichment": "maybe"})
    enriched = make_target("pipeline", "http://x", options={"location_enrichment": "true"})
    assert enriched.ingest_encoded([b"{}"]).path.endswith("?locationEnrichment=true")


def test_report_names_tiers_reasons_and_status() -> None:
    observations = [Observation(f"c{i}", "analytical", "available", sent_ns=0, sent_unix_ms=i,
                                seen_ns=5 * S, last_miss_ns=5 * S) for i in range(30)]
    observations.append(Observation("x", "analytical", "lost", sent_ns=0, sent_unix_ms=40))
    result = judge_run(observations, slo=load_slo(), rates=RateSource(declared_rate_eps=2000.0),
                       expected=["high", "low"])
    buf = io.StringIO()
    print_verdicts(Console(file=buf, width=250), result, footer="31 canaries")
    text = buf.getvalue()
    assert "high" in text and "fail" in text and "INVALID" in text
    assert "31 of 31 canaries lost" not in text and "1 of 31 canaries lost" in text
    assert "p95 TTA 5 s" in text and "exceeds the 3 s target" in text
    assert "invalid: tier low: no canary was judged in this tier." in text and "31 canaries" in text


def test_every_tier_starts_at_zero_with_its_objective_loss_budget_and_the_run_info() -> None:
    """Before any canary: each tier's TTA buckets and canary counters exist at 0 (so a share of increases is
    over series that start together), with its objective and loss budget; the run info names the run."""
    reg = CollectorRegistry()
    slo = load_slo(time_scale=0.1)
    ProbeMetrics(reg, target="pipeline", slo=slo, run={"run_id": "r-1", "scenario": "quick"})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in reg.collect() for s in f.samples}
    for tier in slo.tiers:
        key = (("path", tier.path), ("target", "pipeline"), ("tier", tier.name))
        assert samples[("ingestbench_tta_seconds_count", key)] == 0
        assert samples[("ingestbench_tta_seconds_bucket", tuple(sorted((*key, ("le", "+Inf")))))] == 0
        assert samples[("ingestbench_canaries_total", tuple(sorted((*key, ("outcome", "available")))))] == 0
        assert samples[("ingestbench_slo_objective_ratio", key)] == tier.percentile / 100
        budget = (samples.get(("ingestbench_slo_max_lost_canaries", key)),
                  samples.get(("ingestbench_slo_max_lost_ratio", key)))
        assert budget == ((tier.max_lost.count, None) if tier.max_lost.share is None
                          else (None, tier.max_lost.share)), (tier.name, budget)
    info = [s for f in reg.collect() for s in f.samples if s.name == "ingestbench_run_info"]
    assert [s.labels for s in info] == [{"run_id": "r-1", "scenario": "quick", "target": "pipeline"}]


def test_a_share_budget_is_exported_as_a_ratio(tmp_path) -> None:
    path = tmp_path / "slo.toml"
    path.write_text('max_lost = "0.5%"\n[[tier]]\nname = "all"\npath = "analytical"\ntarget_s = 3\n'
                    "percentile = 99\n")
    reg = CollectorRegistry()
    ProbeMetrics(reg, target="pipeline", slo=load_slo(str(path)))
    text = generate_latest(reg).decode()
    assert 'ingestbench_slo_max_lost_ratio{path="analytical",target="pipeline",tier="all"} 0.005' in text
    assert "ingestbench_slo_max_lost_canaries{" not in text
    assert 'ingestbench_slo_objective_ratio{path="analytical",target="pipeline",tier="all"} 0.99' in text
    assert "ingestbench_run_info" not in text
