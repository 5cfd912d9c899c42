"""The README's scenario and SLO reference is complete and true: its example blocks parse as a scenario and as an
SLO file, and name every key the parsers accept (a key added to a table without its line in the README fails)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ingestbench.records.load import LoadConfig, LoadStep
from ingestbench.records.scenario import TOP_LEVEL_KEYS, PipelineTable, ProbeTable, parse_scenario
from ingestbench.records.slo_file import _TIER_KEYS, _TOP_KEYS, parse_slo

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def toml_block(first_line: str) -> dict:
    """The README's TOML code block that begins with ``first_line``, parsed."""
    (block,) = re.findall(rf"^```toml\n({re.escape(first_line)}.*?)^```", README, re.M | re.S)
    return tomllib.loads(block)


def test_the_scenario_reference_parses_and_names_every_key() -> None:
    doc = toml_block('description = "what this run shows"')
    assert set(doc) - {"load", "pipeline", "probe", "target"} == TOP_LEVEL_KEYS
    assert set(doc["load"]) == set(LoadConfig.__dataclass_fields__)
    assert set().union(*doc["load"]["steps"]) == set(LoadStep.__dataclass_fields__)  # end_rate_eps: a ramp
    assert set(doc["pipeline"]) == set(PipelineTable.__dataclass_fields__)
    assert set(doc["probe"]) == set(ProbeTable.__dataclass_fields__)
    assert {"kind", "url"} <= set(doc["target"])
    doc.pop("slo")  # names a file of the reader's own
    scenario = parse_scenario(doc, name="readme", path=ROOT / "readme.toml")
    assert scenario.load.steps[1].end_rate_eps == 3000


def test_the_slo_reference_parses_and_names_every_key() -> None:
    doc = toml_block('lost_after = "10x"')
    assert set(doc) == _TOP_KEYS - {"lost_after_s"}  # lost_after_s: the older spelling of lost_after, in seconds
    (tier,) = doc["tier"]
    documented = set(tier) | {"below_eps", "max_lost", "max_errored"}  # in the comments: band and budgets
    assert documented == _TIER_KEYS
    assert parse_slo(doc).tiers[0].name == "high"
