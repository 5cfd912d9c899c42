"""Resolving a run's targets: writer and reader tables, what the roles can measure, the writer's limits (no
network: targets are only made, never contacted)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestbench.cli import build_parser
from ingestbench.cli.run import flags_of
from ingestbench.orchestrate.resolve import resolve_run
from ingestbench.records.config import ConfigError
from ingestbench.records.plan import Plan, TargetPlan
from ingestbench.records.scenario import parse_target
from ingestbench.targets.registry import specs
from ingestbench.targets.spec import WRITER

BASE = """description = "x"
[load]
batch_size = {batch}
steps = [{{ rate_eps = 100, duration_s = 60 }}, {{ rate_eps = 2000, duration_s = 60 }}]
payload_bytes = {payload}
{target}
"""


@pytest.fixture(autouse=True)
def writer_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every writer's key set (resolving refuses a writer without the key its spec says it needs)."""
    for kind, spec in specs().items():
        for secret in spec.secrets:
            if WRITER in secret.needed_by:
                monkeypatch.setenv(secret.env, f"{kind}-key")


def plan_for(tmp_path: Path, target: str, *args: str, batch: int = 10, payload: int = 400) -> Plan:
    path = tmp_path / "s.toml"
    path.write_text(BASE.format(batch=batch, payload=payload, target=target))
    ns = build_parser().parse_args(["run", "--scenario", str(path), *args])
    return resolve_run(flags_of(ns), os.environ).plan


def test_writer_and_reader_tables_become_one_plan_that_round_trips(tmp_path):
    plan = plan_for(tmp_path, '[target]\nwriter = { kind = "segment", url = "http://c:1", flavour = "rudderstack" }\n'
                    'reader = { kind = "clickhouse", url = "http://w:8123", database = "wh" }')
    assert (plan.target.kind, plan.target.url, plan.target.options) == ("segment", "http://c:1",
                                                                        {"flavour": "rudderstack"})
    assert plan.target.reader == TargetPlan("clickhouse", "http://w:8123", {"database": "wh"})
    assert plan.probe.reader == plan.target.reader and plan.unmeasured == ()
    assert not plan.probe.transactional and "transactional" not in plan.expected_tiers
    assert any("'segment' or 'clickhouse' has no profile API" in n for n in plan.notes)
    assert Plan.from_dict(plan.to_dict()) == plan


def test_flags_set_the_reader_over_the_scenario(tmp_path, monkeypatch):
    monkeypatch.setenv("INGESTBENCH_READER_OPT_TABLE", "from_env")
    plan = plan_for(tmp_path, "", "--target", "segment", "--url", "http://c", "--reader", "clickhouse",
                    "--reader-url", "http://w", "--reader-opt", "database=flag")
    assert plan.target.reader == TargetPlan("clickhouse", "http://w", {"table": "from_env", "database": "flag"})


def test_a_writer_only_target_plans_a_run_that_says_tta_is_not_measured(tmp_path):
    plan = plan_for(tmp_path, '[target]\nkind = "segment"\nurl = "http://c"')
    assert plan.unmeasured and plan.unmeasured[0].startswith("TTA not measured: target 'segment' has no reader")


def test_a_rate_limited_reader_is_noted(tmp_path, monkeypatch):
    monkeypatch.setenv("INGESTBENCH_POSTHOG_PERSONAL_KEY", "phx_1")
    plan = plan_for(tmp_path, "", "--target", "posthog", "--url", "http://p", "--target-opt", "project_id=1",
                    "--target-opt", "max_queries_per_hour=60")
    assert plan.unmeasured == () and any("every 60 s" in n for n in plan.notes)


@pytest.mark.parametrize(("args", "batch", "payload", "message"), [
    (("--target-opt", "flavour=jitsu"), 10, 400, "load.batch_size: 10 events per request, but segment takes at most 1"),
    ((), 10, 40_000, "over segment's limit of 32768 bytes per event"),
    ((), 100, 6_000, "load: segment: a batch of .* bytes is over the 500 KB per batch limit"),
])
def test_a_load_over_the_writers_limits_exits_2_naming_it(tmp_path, args, batch, payload, message):
    with pytest.raises(ConfigError, match=message):
        plan_for(tmp_path, "", "--target", "segment", "--url", "http://c", *args, batch=batch, payload=payload)


@pytest.mark.parametrize(("table", "message"), [
    ({"writer": {"kind": "segment"}, "url": "http://x"}, "target.url: with target.writer"),
    ({"reader": {"kind": "clickhouse"}}, "target.reader needs its kind and url"),
    ({"reader": "clickhouse"}, "target.reader must be a table"),
    ({"writer": {"kind": "segment", "url": "ftp://x"}}, "target.writer.url must start with http"),
])
def test_bad_writer_and_reader_tables_name_the_key(table, message):
    with pytest.raises(ConfigError, match=message):
        parse_target(table)
