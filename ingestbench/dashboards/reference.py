"""The *Reference pipeline* dashboard: what the embedded pipeline did, beside what the probe measured.

Its ground-truth visibility delay (visible minus received, per event) next to the probe's TTA shows how close
the black-box measurement comes to the truth. Variables: ``datasource``, ``scenario`` and ``run_id``.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from ingestbench.dashboards.common import (
    EVENTS_PER_S,
    RUN,
    dashboard,
    datasource_variable,
    load_annotations,
    quantiles,
    query,
    run_variable,
    scenario_variable,
    stat_panel,
    timeseries_panel,
    to_json,
)

UID = "ingestbench-pipeline"
P = "ingestbench_pipeline_"


def build() -> dict[str, Any]:
    b = dashboard(UID, "Reference pipeline",
                  "The embedded reference pipeline: ingest, buffering, flushes, commits, and its ground-truth "
                  "visibility delay beside the probe's TTA.")
    b = load_annotations(b.with_variable(datasource_variable()).with_variable(scenario_variable())
                         .with_variable(run_variable()))
    ingest = [query(f"sum(rate({P}events_received_total{{{RUN}}}[$__rate_interval]))", "received"),
              query(f"sum(rate({P}events_visible_total{{{RUN}}}[$__rate_interval]))", "made visible")]
    flushes = query(f"sum by (reason) (increase({P}flushes_total{{{RUN}}}[$__rate_interval]))", "{{reason}}")
    truth = quantiles(f"{P}visibility_delay_seconds", RUN, "", (0.5, 0.95))
    probe = quantiles("ingestbench_tta_seconds", RUN + ', path="analytical"', "", (0.5, 0.95))
    for q, legend in zip([*truth, *probe], ["ground truth p50", "ground truth p95", "probe TTA p50",
                                            "probe TTA p95"], strict=True):
        q.legend_format(legend)
    rejected = query(f"round(sum by (status) (increase({P}requests_rejected_total{{{RUN}}}[$__range])))",
                     "{{status}}", instant=True)
    b = (b.with_row(db.Row("Ingest"))
         .with_panel(timeseries_panel("Ingest rate", "Events acknowledged (durably stored) and made visible.",
                                      EVENTS_PER_S, ingest, w=12, h=8))
         .with_panel(timeseries_panel("Buffered events", "Acknowledged events not yet visible.", "short",
                                      [query(f"sum({P}buffered_events{{{RUN}}})", "buffered")], w=12, h=8))
         .with_row(db.Row("Flushes and commits"))
         .with_panel(timeseries_panel("Flushes by reason", "size: enough events buffered; time: the oldest "
                                      "waited the flush wait.", "short", [flushes], w=8, h=8))
         .with_panel(timeseries_panel("Flush duration", "Time to commit a flush.", "s",
                                      quantiles(f"{P}flush_duration_seconds", RUN, "", (0.5, 0.99)), w=8, h=8))
         .with_panel(timeseries_panel("Commit duration", "Time to durably commit one group of requests.", "s",
                                      quantiles(f"{P}commit_duration_seconds", RUN, "", (0.5, 0.99)), w=8, h=8))
         .with_row(db.Row("Visibility"))
         .with_panel(timeseries_panel("Ground-truth visibility delay vs probe TTA",
                                      "The pipeline's own record (visible minus received, every event) beside "
                                      "what the probe measured from outside (analytical canaries).", "s",
                                      [*truth, *probe], w=16, h=9))
         .with_panel(stat_panel("Requests rejected", "Ingest requests refused over the time range, by HTTP "
                                "status.", "short", [rejected], w=8, h=9, thresholds=[(None, "green"), (1, "red")])))
    return to_json(b)
