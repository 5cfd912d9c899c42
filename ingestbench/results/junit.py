"""``junit.xml``: one test case per tier (and one per invalid load step), failures carry the reason."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ingestbench.records.verdicts import FAIL, PASS, TierVerdict
from ingestbench.results.rundir import RunFiles


def render(files: RunFiles) -> str:
    run = files.run
    suite = ET.Element("testsuite", name=f"ingestbench.{run.scenario.name}")
    failures = errors = 0
    cases: list[ET.Element] = []
    for tier in run.tiers:
        case = ET.Element("testcase", classname="ingestbench.tier", name=tier.tier,
                          time=f"{(tier.p95_s or 0) if tier.p95_s != float('inf') else 0:.3f}")
        if tier.status == FAIL:
            failures += 1
            ET.SubElement(case, "failure", message=tier.reason, type="slo").text = _detail(tier)
        elif tier.status != PASS:
            errors += 1
            ET.SubElement(case, "error", message=tier.reason, type=tier.status).text = _detail(tier)
        cases.append(case)
    for step in run.steps:
        case = ET.Element("testcase", classname="ingestbench.load_step",
                          name=f"step {step.step} at {step.target_eps:g} events/s")
        if not step.valid:
            errors += 1
            ET.SubElement(case, "error", message=step.reason or "step not reached", type="invalid")
        cases.append(case)
    for reason in run.invalid_reasons:
        case = ET.Element("testcase", classname="ingestbench.run", name="run validity")
        errors += 1
        ET.SubElement(case, "error", message=reason, type="invalid")
        cases.append(case)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _detail(tier: TierVerdict) -> str:
    doc = tier.to_dict()
    keys = ("canaries", "n", "p50_s", "p95_s", "p99_s", "max_s", "ci_low_s", "ci_high_s", "target_s", "lost", "late",
            "errored", "undecided", "duplicates", "windows")
    return ", ".join(f"{k}={doc.get(k)}" for k in keys)
