"""The README's scenario and SLO reference is complete and true: its example blocks parse as a scenario and as an
SLO file, and name every key the parsers accept (a key added to a table without its line in the README fails)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.records.compare_rules import METRICS, RULE_KEYS
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
    replay = toml_block("[load]                            # replay a traffic shape instead of steps")["load"]
    assert set(doc["load"]) | set(replay) == set(LoadConfig.__dataclass_fields__)
    replayed = parse_scenario({"load": replay}, name="replay", path=ROOT / "ingestbench" / "scenarios" / "r.toml")
    assert replayed.load.replay == "shapes/day.csv" and len(replayed.load.steps) == 98
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
    (metric,) = set(doc["compare"]) - set(RULE_KEYS)
    assert set(doc["compare"]) - {metric} == set(doc["compare"][metric]) == set(RULE_KEYS)
    comment = next(line for line in README.splitlines() if line.startswith(f"[compare.{metric}]"))
    assert all(m in comment.split() for m in METRICS), comment  # every metric named


# The README: every run option that takes a value can also be set as INGESTBENCH_<OPTION> (a target option as
# INGESTBENCH_TARGET_<KEY>, tags as INGESTBENCH_TAGS). A bad value in each variable makes `run --check` refuse,
# which shows the variable is read.
ENV_SETTINGS = {"TIME_SCALE": "x", "PROCESSES": "x", "SEED": "x", "SCENARIO": "no-such-scenario",
                "SLO": "/no/such/slo.toml", "TARGET": "no-such-target", "URL": "ftp://x", "READER": "no-such-reader",
                "CA_FILE": "/no/such/ca.pem", "RUN_ID": "a/b", "TAGS": "no-equals-sign", "INSECURE": "maybe",
                "TARGET_NO_SUCH_OPTION": "1", "REMOTE_WRITE": "ftp://x", "REMOTE_WRITE_INTERVAL_S": "-5",
                "REPLAY": "/no/such/shape.csv", "REPLAY_COMPRESS": "-3"}


@pytest.mark.parametrize("name", sorted(ENV_SETTINGS))
def test_a_run_option_set_in_the_environment_is_read(name: str, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for key in [k for k in os.environ if k.startswith("INGESTBENCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)
    assert main(["run", "--check"]) == 0  # nothing set: the defaults are fine
    capsys.readouterr()
    monkeypatch.setenv(f"INGESTBENCH_{name}", ENV_SETTINGS[name])
    assert main(["run", "--check"]) == 2
    err = capsys.readouterr().err
    assert ENV_SETTINGS[name] in err or name.removeprefix("TARGET_").lower() in err.lower(), err
