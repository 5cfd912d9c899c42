"""Every PromQL expression the shipped dashboards and alert rules evaluate, and Grafana's variable substitution.

Dashboards: each panel target, each variable query (``label_values(selector, label)``) and each annotation.
Rules: each rule of ``dashboards/prometheus/rules/*.yml``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards" / "grafana" / "dashboards"
RULES = ROOT / "dashboards" / "prometheus" / "rules"
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")  # not $1: label_replace's group reference, left alone


@dataclass(frozen=True)
class Expr:
    where: str
    expr: str
    instant: bool = False


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def panel_exprs(name: str, doc: dict[str, Any]) -> list[Expr]:
    out = []
    for panel in doc["panels"]:
        for target in panel.get("targets", []):
            out.append(Expr(f"{name}: {panel['title']!r} {target.get('refId', '')}".strip(), target["expr"],
                            bool(target.get("instant"))))
    return out


def annotation_exprs(name: str, doc: dict[str, Any]) -> list[Expr]:
    return [Expr(f"{name}: annotation {a['name']!r}", a["expr"]) for a in doc["annotations"]["list"] if "expr" in a]


def variable_queries(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, selector, label)`` of each query variable, in dashboard order (later ones use earlier ones)."""
    out = []
    for var in doc["templating"]["list"]:
        if var["type"] == "query":
            match = LABEL_VALUES.match(var["query"])
            assert match, f"variable {var['name']}: not a label_values() query: {var['query']}"
            out.append((var["name"], match["selector"], match["label"]))
    return out


def rule_exprs() -> list[Expr]:
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out.append(Expr(f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]))
    return out


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace ``$name`` / ``${name}`` as Grafana does; an unknown variable is an error, not left in place."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"variable ${name} has no value (in {expr})")
        return values[name]

    return VARIABLE.sub(one, expr)


def regex_of(values: list[str]) -> str:
    """Several selected values, as Grafana formats them for a Prometheus ``=~`` matcher."""
    return "(" + "|".join(re.escape(v) for v in sorted(values)) + ")"
