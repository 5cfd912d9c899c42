"""``junit.xml``: one test case per tier (and one per invalid load step), failures carry the reason."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from ingestbench.rundir import RunFiles


def render(files: RunFiles) -> str:
    run = files.run
    suite = ET.Element("testsuite", name=f"ingestbench.{run.get('scenario', {}).get('name', 'run')}")
    failures = errors = 0
    cases: list[ET.Element] = []
    for tier in run.get("tiers", []):
        case = ET.Element("testcase", classname="ingestbench.tier", name=str(tier.get("tier")),
                          time=f"{(tier.get('p95_s') or 0):.3f}")
        status = tier.get("status")
        if status == "fail":
            failures += 1
            ET.SubElement(case, "failure", message=str(tier.get("reason")), type="slo").text = _detail(tier)
        elif status != "pass":
            errors += 1
            ET.SubElement(case, "error", message=str(tier.get("reason")), type=str(status)).text = _detail(tier)
        cases.append(case)
    for step in run.get("steps", []):
        case = ET.Element("testcase", classname="ingestbench.load_step",
                          name=f"step {step.get('step')} at {step.get('target_eps')} events/s")
        if not step.get("valid"):
            errors += 1
            ET.SubElement(case, "error", message=str(step.get("reason") or "step not reached"), type="invalid")
        cases.append(case)
    for reason in run.get("invalid_reasons", []):
        case = ET.Element("testcase", classname="ingestbench.run", name="run validity")
        errors += 1
        ET.SubElement(case, "error", message=str(reason), type="invalid")
        cases.append(case)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _detail(tier: dict[str, Any]) -> str:
    keys = ("canaries", "n", "p50_s", "p95_s", "p99_s", "max_s", "ci_low_s", "ci_high_s", "target_s", "lost", "late",
            "errored", "undecided", "duplicates", "windows")
    return ", ".join(f"{k}={tier.get(k)}" for k in keys)
