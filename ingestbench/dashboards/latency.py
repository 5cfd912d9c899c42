"""The *Ingestion latency* dashboard: TTA per tier against its target, canaries, and the load behind them.

Variables: ``datasource``, ``scenario`` ("All" by default), ``run_id`` (one run of those, newest first),
``target`` and ``tier`` (both "All" by default). Annotations mark where the selected run's load starts and is due
to end. Targets, objectives and the schedule-lag bound drawn here are the SLO's and the run's, read from
Prometheus.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from ingestbench.dashboards.common import (
    EVENTS_PER_S,
    RUN,
    RUN_TARGET,
    RUN_TARGET_TIER,
    dashboard,
    datasource_variable,
    heatmap_panel,
    load_annotations,
    quantiles,
    query,
    query_variable,
    run_variable,
    scenario_variable,
    stat_panel,
    timeseries_panel,
    to_json,
)

UID = "ingestbench-latency"
TTA = "ingestbench_tta_seconds"


def within_target_share(window: str) -> str:
    """Per tier, the share of decided canaries (lost and errored count as outside) visible within the tier's
    target, over ``window``: the TTA bucket at the target (exact) over the decided count. Both are counters the
    probe creates at 0 together, so their increases are extrapolated alike; the clamp keeps what differences
    remain (a window starting between their scrapes) from reading above 100 %. Tiers without a decided canary
    in the window have no share (not 0/0)."""
    return (f"clamp_max(sum by (tier) (increase({TTA}_bucket{{{RUN_TARGET_TIER}}}[{window}])"
            f" and on (run_id, target, tier, path, le)"
            f' label_replace(last_over_time(ingestbench_slo_target_seconds{{{RUN_TARGET_TIER}}}[{window}]),'
            f' "le", "$1", "bucket", "(.*)"))'
            f" / (sum by (tier) (increase(ingestbench_canaries_total{{{RUN_TARGET_TIER}, "
            f'outcome=~"available|lost|errored"}}[{window}])) > 0), 1)')


def _tta_rows(b: db.Dashboard) -> db.Dashboard:
    targets = query(f"max by (tier) (ingestbench_slo_target_seconds{{{RUN_TARGET_TIER}}})", "{{tier}} target")
    within = query(within_target_share("$__range"), "{{tier}}", instant=True)
    objective = query(f"max(last_over_time(ingestbench_slo_objective_ratio{{{RUN_TARGET_TIER}}}[$__range]))",
                      "objective", instant=True)
    tightest = query(f"min(last_over_time(ingestbench_slo_target_seconds{{{RUN_TARGET_TIER}}}[$__range]))",
                     "target", instant=True)
    whole = [q.instant() for q in quantiles(TTA, RUN_TARGET_TIER, "tier", window="$__range")]
    heat = query(f"sum by (le) (increase({TTA}_bucket{{{RUN_TARGET_TIER}}}[$__rate_interval]))", "{{le}}",
                 heatmap_format=True, exemplar=True)
    return (b.with_row(db.Row("Time to availability"))
            .with_panel(timeseries_panel(
                "TTA p50 / p95 / p99 by tier",
                "Percentiles of the summed bucket rates of available canaries, per live tier; dashed: each "
                "tier's target. Lost canaries are not in these lines: see the canary counts.",
                "s", [*quantiles(TTA, RUN_TARGET_TIER, "tier"), targets], w=16, h=9, dashed="/target$/"))
            .with_panel(stat_panel(
                "Share of canaries within target",
                "Canaries visible within their tier's target (its own histogram bucket, so exact) out of every "
                "decided canary of the tier (lost and errored ones count as outside) over the time range. Green "
                "from the SLO's objective (the judged percentile: 95 -> 95 %; the strictest of the selected "
                "tiers: pick one tier for its own).",
                "percentunit", [within], w=8, h=9, decimals=1,
                thresholds=[(None, "red"), (0.95, "green")], slo=(objective, "objective", "max")))
            .with_panel(stat_panel(
                "TTA percentiles over the time range",
                "p50 / p95 / p99 per tier of every canary made available in the time range. Red above the "
                "SLO's target (the tightest of the selected tiers: pick one tier for its own).",
                "s", whole, w=8, h=8, thresholds=[(None, "green"), (3, "red")], slo=(tightest, "target", "min")))
            .with_panel(heatmap_panel(
                "TTA heatmap",
                "Canaries per TTA bucket and interval; exemplars carry the canary id of a sample.", heat,
                w=16, h=8)))


def _canary_row(b: db.Dashboard) -> db.Dashboard:
    bad = query(f"round(sum by (tier, outcome) (increase(ingestbench_canaries_total{{{RUN_TARGET_TIER}, "
                f'outcome=~"lost|late|errored"}}[$__range])))', "{{tier}} {{outcome}}", instant=True)
    pending = query(f"sum by (path) (ingestbench_canaries_pending{{{RUN_TARGET}}})", "{{path}}")
    polls_failed = query(f"round(sum by (path) (increase(ingestbench_poll_errors_total{{{RUN_TARGET}}}"
                         f"[$__range])))", "{{path}}", instant=True)
    return (b.with_row(db.Row("Canaries"))
            .with_panel(stat_panel(
                "Lost, late and errored canaries",
                "Lost: not visible within the loss horizon. Late: lost, then seen after all (still lost). "
                "Errored: the ingest was refused or failed.", "short", [bad], w=8, h=7,
                thresholds=[(None, "green"), (1, "red")]))
            .with_panel(timeseries_panel(
                "Pending canaries", "Canaries sent and not yet decided, by path.", "short", [pending], w=6, h=7))
            .with_panel(timeseries_panel(
                "Read-back query duration", "Duration of the probe's look-up queries (one per poll).", "s",
                quantiles("ingestbench_poll_duration_seconds", RUN_TARGET, "path", (0.5, 0.99)), w=6, h=7))
            .with_panel(stat_panel(
                "Polls failed", "Read-back queries that failed over the time range.", "short", [polls_failed],
                w=4, h=7, thresholds=[(None, "green"), (1, "red")])))


def _load_row(b: db.Dashboard) -> db.Dashboard:
    rates = [query(f"sum(ingestbench_loadgen_target_eps{{{RUN_TARGET}}})", "target"),
             query(f"sum(ingestbench_loadgen_achieved_eps{{{RUN_TARGET}}})", "achieved"),
             query(f"max by (tier) (ingestbench_slo_min_rate_events_per_second{{{RUN_TARGET}}})",
                   "{{tier}} tier from")]
    lag = quantiles("ingestbench_loadgen_schedule_lag_seconds", RUN_TARGET, "", (0.99,))
    failed = query(f"sum by (reason) (rate(ingestbench_loadgen_events_failed_total{{{RUN_TARGET}}}"
                   f"[$__rate_interval]))", "{{reason}}")
    steps = query(f"round(sum by (outcome) (increase(ingestbench_loadgen_steps_total{{{RUN_TARGET}}}"
                  f"[$__range])))", "{{outcome}}", instant=True)
    cpu = [query(f"max(ingestbench_loadgen_generator_cpu_ratio{{{RUN_TARGET}}})", "generator process"),
           query(f"max(ingestbench_loadgen_host_cpu_ratio{{{RUN_TARGET}}})", "generator machine")]
    return (b.with_row(db.Row("Load"))
            .with_panel(timeseries_panel(
                "Achieved vs target events/s",
                "Events due and events acknowledged per second; dashed: the rate from which a tier applies.",
                EVENTS_PER_S, rates, w=12, h=8, dashed="/tier from$/"))
            .with_panel(timeseries_panel(
                "Schedule lag p99", "Actual minus intended request start; dashed: the run's bound (a step with "
                "p99 above it is invalid).", "s",
                [*lag, query(f"max(ingestbench_loadgen_lag_bound_seconds{{{RUN_TARGET}}})", "bound")],
                w=6, h=8, dashed="/^bound$/"))
            .with_panel(timeseries_panel(
                "Failed events by reason", "Events whose request failed, per second.", EVENTS_PER_S, [failed],
                w=6, h=8))
            .with_panel(stat_panel(
                "Load steps judged", "Steps that delivered their rate on schedule (valid) and those that did not.",
                "short", [steps], w=6, h=6))
            .with_panel(timeseries_panel(
                "Generator CPU", "Near 100 % the generator (or its machine) is the bottleneck, not the target.",
                "percentunit", cpu, w=18, h=6, threshold=0.9)))


def build() -> dict[str, Any]:
    b = dashboard(UID, "Ingestion latency",
                  "Time to availability per tier against its target, every canary's fate, and the load behind it.")
    b = b.with_variable(datasource_variable()).with_variable(scenario_variable()).with_variable(run_variable())
    b = b.with_variable(query_variable("target", "Target", f"label_values(ingestbench_run_info{{{RUN}}}, target)",
                                       all_values=True))
    b = b.with_variable(query_variable(
        "tier", "Tier", f"label_values(ingestbench_slo_target_seconds{{{RUN}}}, tier)", all_values=True))
    b = load_annotations(b)
    return to_json(_load_row(_canary_row(_tta_rows(b))))
