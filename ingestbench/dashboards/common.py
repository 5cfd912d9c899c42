"""Building blocks shared by the dashboards: the datasource, the variables, queries and panel kinds.

Every panel reads the datasource chosen in the ``datasource`` variable. Its default is the dashboard's one
import input, ``${DS_PROMETHEUS}`` (``__inputs``): importing the JSON into any Grafana asks for a Prometheus and
puts its uid there; provisioned from a file (docker-compose.yml), no input is filled and Grafana takes the
default Prometheus, which is the provisioned one (``grafana/provisioning/datasources/prometheus.yml``). Queries
select one run and target with the ``run_id`` / ``target`` variables; percentiles always come from summed bucket
rates (``histogram_quantile`` over ``sum by (le)``), never from percentiles of percentiles. SLO lines and
thresholds come from the series the probe exports for its SLO (``ingestbench_slo_*``), never from constants.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, VizLegendOptions
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PROVISIONED_UID = "ingestbench-prometheus"
DS_INPUT = "DS_PROMETHEUS"
INPUTS = [{"name": DS_INPUT, "label": "Prometheus", "description": "The Prometheus that scrapes ingestbench",
           "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]
TAG = "ingestbench"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RUN = 'run_id=~"$run_id"'
RUN_TARGET = 'run_id=~"$run_id", target=~"$target"'
RUN_TARGET_TIER = 'run_id=~"$run_id", target=~"$target", tier=~"$tier"'
EVENTS_PER_S = "suffix: events/s"
DASHED = DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})


def datasource_variable() -> db.DatasourceVariable:
    return (db.DatasourceVariable("datasource").label("Data source").type("prometheus")
            .current(VariableOption(selected=True, text="Prometheus", value="${" + DS_INPUT + "}")))


def query_variable(name: str, label: str, query: str, *, all_values: bool) -> db.QueryVariable:
    """A variable filled by a label query; ``all_values`` adds "All" (every value, as a regex)."""
    var = (db.QueryVariable(name).label(label).query(query).datasource(DS)
           .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_DESC))
    if all_values:
        var = var.include_all(True).multi(True).all_value(".*")
    return var


def scenario_variable() -> db.QueryVariable:
    """Scenarios that ran ("probe": a probe running alone); "All" by default. The run list follows it."""
    return query_variable("scenario", "Scenario", "label_values(ingestbench_run_info, scenario)", all_values=True)


def run_variable() -> db.QueryVariable:
    """Runs of the chosen scenarios by id, newest first (ids start with the run's start time): the default is
    the latest run. The generator and the probe both export ``ingestbench_run_info``, so a probe running alone
    is listed too."""
    return query_variable("run_id", "Run", 'label_values(ingestbench_run_info{scenario=~"$scenario"}, run_id)',
                          all_values=False)


def query(expr: str, legend: str = "", *, instant: bool = False, heatmap_format: bool = False,
          exemplar: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    q = q.format(PromQueryFormat.HEATMAP if heatmap_format else PromQueryFormat.TIME_SERIES)
    if exemplar:
        q = q.exemplar(True)
    return q


def quantiles(metric: str, selector: str, by: str, qs: tuple[float, ...] = (0.5, 0.95, 0.99),
              window: str = "$__rate_interval") -> list[prometheus.Dataquery]:
    """One query per quantile, each over the summed bucket rates of ``metric`` grouped ``by``."""
    out = []
    for q in qs:
        grouping = f"{by}, le" if by else "le"
        legend = (f"{{{{{by}}}}} " if by else "") + f"p{round(q * 100)}"
        out.append(query(f"histogram_quantile({q}, sum by ({grouping}) "
                         f"(rate({metric}_bucket{{{selector}}}[{window}])))", legend))
    return out


def _thresholds(steps: list[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(v, c) for v, c in steps])


def threshold_from(ref_id: str, field: str, reducer: str) -> DataTransformerConfig:
    """Grafana's "Config from query results": query ``ref_id`` (legend ``field``), reduced with ``reducer``,
    becomes the panel's threshold (and is not drawn itself): an SLO's number, read from Prometheus."""
    return DataTransformerConfig(id_val="configFromData", options={
        "configRefId": ref_id,
        "mappings": [{"fieldName": field, "handlerKey": "threshold1", "reducerId": reducer}]})


def timeseries_panel(title: str, description: str, unit: str, queries: list[prometheus.Dataquery], *,
                     w: int = 12, h: int = 8, dashed: str | None = None,
                     threshold: float | None = None) -> timeseries.Panel:
    """A time series; ``dashed`` (a regex on series names) draws reference lines such as targets dashed;
    ``threshold`` draws a fixed red line."""
    p = (timeseries.Panel().title(title).description(description).unit(unit).datasource(DS).span(w).height(h)
         .line_width(1).fill_opacity(5)
         .legend(VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.LIST)
                 .placement(cm.LegendPlacement.BOTTOM)))
    for q in queries:
        p = p.with_target(q)
    if dashed:
        p = p.override_by_regexp(dashed, [DASHED])
    if threshold is not None:
        p = (p.thresholds(_thresholds([(None, "green"), (threshold, "red")]))
             .thresholds_style(GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)))
    return p


def stat_panel(title: str, description: str, unit: str, queries: list[prometheus.Dataquery], *, w: int = 6,
               h: int = 5, decimals: float | None = None,
               thresholds: list[tuple[float | None, str]] | None = None,
               slo: tuple[prometheus.Dataquery, str, str] | None = None) -> stat.Panel:
    """Latest value of each series (instant queries over the time range). ``slo``: a query of an SLO number,
    its legend and a reducer; it sets the threshold between the first two colours of ``thresholds``."""
    p = (stat.Panel().title(title).description(description).unit(unit).datasource(DS).span(w).height(h)
         .graph_mode(cm.BigValueGraphMode.NONE)
         .thresholds(_thresholds(thresholds or [(None, "text")])))
    if decimals is not None:
        p = p.decimals(decimals)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        p = p.with_target(q.ref_id(ref))
    if slo is not None:
        q, field, reducer = slo
        p = p.with_target(q.ref_id("SLO")).with_transformation(threshold_from("SLO", field, reducer))
    return p


def heatmap_panel(title: str, description: str, q: prometheus.Dataquery, *, w: int = 12,
                  h: int = 8) -> heatmap.Panel:
    """Bucket counts per interval as a heatmap (the buckets are Prometheus's, not recalculated)."""
    return (heatmap.Panel().title(title).description(description).unit("s").datasource(DS).span(w).height(h)
            .calculate(False).with_target(q).show_legend())


def dashboard(uid: str, title: str, description: str) -> db.Dashboard:
    """A dashboard tagged ``ingestbench``, linked to every other one so tagged (time range and variables
    carried over), read-only in the UI as the provisioning (``allowUiUpdates: false``) keeps it: change the
    code and regenerate instead."""
    link = (db.DashboardLink("ingestbench").type(DashboardLinkType.DASHBOARDS).tags([TAG]).as_dropdown(False)
            .include_vars(True).keep_time(True).target_blank(False).icon("external link").tooltip(""))
    return (db.Dashboard(title).uid(uid).description(description).tags([TAG]).readonly()
            .time("now-1h", "now").refresh("10s").timezone("browser").tooltip(DashboardCursorSync.CROSSHAIR)
            .link(link))


def load_annotations(b: db.Dashboard) -> db.Dashboard:
    """Where the load schedule of the selected run starts and is due to end (drawn at the series' values)."""
    for name, metric, color in (("Load start", "ingestbench_run_start_time_seconds", "green"),
                                ("Load end", "ingestbench_run_end_time_seconds", "red")):
        b = b.annotation(db.AnnotationQuery().name(name).datasource(DS).enable(True).icon_color(color)
                         .expr(f"max by (run_id) ({metric}{{{RUN}}}) * 1000"))
    return b


def to_json(b: db.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana JSON, panels numbered in order (rows too). Prometheus annotations take their
    time from the series value (``useValueForTime``), an option the SDK's generic annotation model does not
    carry: added here."""
    doc: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(b.build()))
    doc["__inputs"] = INPUTS
    doc["__requires"] = [{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
    for number, panel in enumerate(doc["panels"], start=1):
        panel["id"] = number
    for ann in doc.get("annotations", {}).get("list", []):
        if "expr" in ann:
            ann.update(useValueForTime=True, step="5s", titleFormat=ann["name"] + " {{run_id}}")
    return doc
