"""The dashboards as Grafana would load them (no Grafana server here), their drift from the code that builds
them, and the Prometheus config and rules through promtool."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from ingestbench.dashboards import generate
from tests.dashboards.exprs import VARIABLE, annotation_exprs, dashboards, panel_exprs
from tests.dashboards.prom import need

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "dashboards" / "prometheus"
PROVISIONING = ROOT / "dashboards" / "grafana" / "provisioning"
BUILTIN = {"__range", "__rate_interval", "__interval"}


def provisioned_uid() -> str:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    return str(source["uid"])


def test_the_committed_json_is_what_the_code_builds() -> None:
    assert generate.main(["--check"]) == 0
    assert sorted(p.name for p in generate.OUT.glob("*.json")) == sorted(generate.BUILDERS)


@pytest.mark.parametrize("name", sorted(generate.BUILDERS))
def test_the_dashboard_loads_as_a_grafana_model(name: str) -> None:
    register_default_plugins()
    doc = dashboards()[name]
    model = DashboardModel.from_json(doc)
    assert model.uid == doc["uid"] and model.panels and len(model.panels) == len(doc["panels"])
    assert doc["schemaVersion"] >= 39  # Grafana 11's schema


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    across = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
    return across and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


@pytest.mark.parametrize("name", sorted(generate.BUILDERS))
def test_panels_ids_grid_units_datasources_and_variables(name: str) -> None:
    doc: dict[str, Any] = dashboards()[name]
    panels = doc["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), ids
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["w"] > 0 and g["h"] > 0, (p["title"], g)
    for a, b in itertools.combinations(panels, 2):
        assert not _overlap(a["gridPos"], b["gridPos"]), (a["title"], b["title"])
    uid = provisioned_uid()
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["current"]["value"] == "${DS_PROMETHEUS}"
    for p in (p for p in panels if p["type"] != "row"):
        assert p["fieldConfig"]["defaults"].get("unit"), f"{p['title']}: no unit"
        assert p.get("description"), f"{p['title']}: no description"
        assert p["targets"], f"{p['title']}: no query"
        for ref in [p["datasource"], *(t["datasource"] for t in p["targets"])]:
            assert ref["type"] == "prometheus" and ref["uid"] in ("${datasource}", uid), (p["title"], ref)
    used = set()
    for e in [*panel_exprs(name, doc), *annotation_exprs(name, doc)]:
        used |= set(VARIABLE.findall(e.expr))
    for v in variables.values():
        if v["type"] == "query":
            used |= set(VARIABLE.findall(v["query"]))
    assert used - BUILTIN <= set(variables), used - BUILTIN - set(variables)
    if name == "ingestion-latency.json":
        assert {"datasource", "scenario", "run_id", "target", "tier"} <= set(variables)
    assert "$scenario" in variables["run_id"]["query"]  # the run list follows the scenario
    assert {a["name"] for a in doc["annotations"]["list"]} >= {"Load start", "Load end"}


def test_bucket_bounds_are_named_as_prometheus_client_writes_them() -> None:
    """A query naming le="1" matches nothing when the client writes le="1.0": every le in a query has a dot."""
    for name, doc in dashboards().items():
        for e in panel_exprs(name, doc):
            for le in re.findall(r'le="([^"]+)"', e.expr):
                assert le == "+Inf" or "." in le, (e.where, le)


def test_promtool_checks_the_config_and_the_rules() -> None:
    promtool = need("promtool")
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", *sorted(
            str(p.relative_to(PROM)) for p in (PROM / "rules").glob("*.yml"))],
            ["test", "rules", *sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))]):
        proc = subprocess.run([promtool, *args], cwd=PROM, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "SUCCESS" in proc.stdout + proc.stderr


def test_every_alert_rule_has_a_unit_test() -> None:
    rules = {r["alert"] for path in (PROM / "rules").glob("*.yml")
             for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = {t["alertname"] for path in (PROM / "tests").glob("*.yml")
              for case in yaml.safe_load(path.read_text())["tests"] for t in case.get("alert_rule_test", [])
              if t.get("exp_alerts")}
    assert rules and rules == tested, (rules, tested)


def test_the_live_test_substitutes_every_variable() -> None:
    """The dashboards use no variable the live test would not know how to fill."""
    names = set()
    for doc in dashboards().values():
        names |= {v["name"] for v in doc["templating"]["list"]}
    assert names <= {"datasource", "scenario", "run_id", "target", "tier"}, names


@pytest.mark.parametrize("name", sorted(generate.BUILDERS))
def test_the_json_imports_anywhere_with_one_datasource_input(name: str) -> None:
    """Grafana's import asks for each ``__inputs`` entry and replaces its ``${NAME}``; every such reference in the
    JSON is declared, and the one input is a Prometheus. Provisioned (no input filled), the datasource variable
    falls back to the default Prometheus: the provisioned datasource is the default."""
    doc = dashboards()[name]
    text = (generate.OUT / name).read_text()
    declared = {i["name"] for i in doc["__inputs"]}
    assert [(i["type"], i["pluginId"]) for i in doc["__inputs"]] == [("datasource", "prometheus")]
    assert set(re.findall(r"\$\{(DS_[A-Z_]+)\}", text)) == declared
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["isDefault"] is True


def test_provisioning_and_the_dashboards_agree_on_editing() -> None:
    """Provisioned read-only (``allowUiUpdates: false``): the dashboards say so too (``editable: false``), rather
    than offer edits that cannot be saved."""
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "ingestbench.yml").read_text())["providers"]
    for name, doc in dashboards().items():
        assert doc["editable"] is provider["allowUiUpdates"], name


def test_every_dashboard_links_to_the_others_keeping_time_and_variables() -> None:
    docs = dashboards()
    for name, doc in docs.items():
        (link,) = doc["links"]
        assert link["type"] == "dashboards" and link["keepTime"] and link["includeVars"], (name, link)
        others = [d for n, d in docs.items() if n != name]
        assert others and all(set(link["tags"]) <= set(d["tags"]) for d in others), name


def test_slo_thresholds_come_from_prometheus_not_constants() -> None:
    """The share and TTA stat panels take their threshold from a query of an SLO series the probe exports
    (Grafana's "Config from query results"); the lag panel draws the run's bound as a series."""
    doc = dashboards()["ingestion-latency.json"]
    panels = {p["title"]: p for p in doc["panels"]}
    for title, series in (("Share of canaries within target", "ingestbench_slo_objective_ratio"),
                          ("TTA percentiles over the time range", "ingestbench_slo_target_seconds")):
        (transform,) = panels[title]["transformations"]
        assert transform["id"] == "configFromData", title
        ref = transform["options"]["configRefId"]
        (target,) = [t for t in panels[title]["targets"] if t["refId"] == ref]
        assert series in target["expr"], (title, target)
        assert [m["handlerKey"] for m in transform["options"]["mappings"]] == ["threshold1"]
    lag = panels["Schedule lag p99"]
    assert "thresholds" not in lag["fieldConfig"]["defaults"]
    assert any("ingestbench_loadgen_lag_bound_seconds" in t["expr"] for t in lag["targets"])


def _anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's) gives a heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_section_in_the_docs() -> None:
    docs = (ROOT / "docs" / "alerts.md").read_text()
    anchors = {_anchor(h) for h in re.findall(r"^##+ (.+)$", docs, flags=re.M)}
    alerts = [r for path in (PROM / "rules").glob("*.yml") for g in yaml.safe_load(path.read_text())["groups"]
              for r in g["rules"] if "alert" in r]
    assert alerts
    for rule in alerts:
        url = rule["annotations"].get("runbook_url", "")
        assert url == f"docs/alerts.md#{rule['alert'].lower()}", (rule["alert"], url)
        assert url.split("#")[1] in anchors, (rule["alert"], sorted(anchors))
