import pytest

from ingestbench.loadgen.registry import TargetRegistry
from ingestbench.loadgen.sizing import grow_on_lag, users_needed
from ingestbench.records.config import ConfigError
from ingestbench.targets.pipeline import PipelineTarget


def test_users_follow_littles_law_with_headroom():
    # 3,000 requests/s at 10 ms keep 30 users busy; headroom 4 -> 120
    assert users_needed(rate_eps=3000, batch_size=1, latency_s=0.01, processes=1) == 120
    # batches divide the request rate
    assert users_needed(rate_eps=3000, batch_size=10, latency_s=0.01, processes=1) == 16  # the minimum
    # split over processes, each with at least the minimum
    assert users_needed(rate_eps=3000, batch_size=1, latency_s=0.01, processes=2) == 120
    assert users_needed(rate_eps=10, batch_size=1, latency_s=0.01, processes=3) == 48


def test_users_are_capped_and_assume_a_latency_before_measuring():
    assert users_needed(rate_eps=1e6, batch_size=1, latency_s=1.0, processes=2, max_per_process=500) == 1000
    assert users_needed(rate_eps=1000, batch_size=1, latency_s=None, processes=1) == 80  # 20 ms assumed
    assert users_needed(rate_eps=3000, batch_size=1, latency_s=0.01, processes=1, hold_s=0.01) == 240


def test_pool_grows_on_lag_only_when_users_were_busy():
    assert grow_on_lag(100, lag_p99_s=0.2, lag_bound_s=0.05, processes=1, busy=90) == 150
    assert grow_on_lag(100, lag_p99_s=0.2, lag_bound_s=0.05, processes=1, busy=10) == 100  # CPU-bound
    assert grow_on_lag(100, lag_p99_s=0.01, lag_bound_s=0.05, processes=1, busy=100) == 100
    assert grow_on_lag(800, lag_p99_s=0.2, lag_bound_s=0.05, processes=1, busy=800, max_per_process=1000) == 1000


def test_registry_builds_targets_by_name_from_the_entry_points():
    reg = TargetRegistry.default(environ={"INGESTBENCH_WRITE_KEY": "k"})
    assert "pipeline" in reg.names
    target = reg.create("pipeline", "http://127.0.0.1:1")
    assert isinstance(target, PipelineTarget)
    assert target.ingest([{"name": "a"}]).headers["Authorization"] == "Bearer k"  # the secret from the environment
    assert "Authorization" not in TargetRegistry.default().create("pipeline", "http://h").ingest([{}]).headers
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        reg.create("nope", "http://h")


def test_pool_does_not_grow_when_a_generator_is_out_of_cpu():
    kw = {"lag_p99_s": 0.3, "lag_bound_s": 0.05, "processes": 2, "busy": 200}
    assert grow_on_lag(200, **kw, cpu=0.5) == 300
    assert grow_on_lag(200, **kw, cpu=0.97) == 200
    assert grow_on_lag(200, **kw) == 300  # not measured: decide on lag and busy users alone
