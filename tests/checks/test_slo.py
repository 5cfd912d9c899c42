"""SLO file loading and validation; every error names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestbench.records.config import ConfigError
from ingestbench.records.slo import DEFAULT_SLO_PATH
from ingestbench.records.slo_file import load_slo, parse_slo


def test_default_file_is_the_vendor_promise() -> None:
    slo = load_slo()
    assert DEFAULT_SLO_PATH.exists()
    low, high, tx = slo.tier("low"), slo.tier("high"), slo.tier("transactional")
    assert (low.path, low.below_eps, low.target_s, low.percentile, low.min_samples) == (
        "analytical", 1000, 30, 95, 20)
    assert (high.at_least_eps, high.target_s) == (1000, 3)
    assert (tx.path, tx.target_s) == ("transactional", 1)
    assert slo.tier_for("analytical", 999.9).name == "low"
    assert slo.tier_for("analytical", 1000).name == "high"
    assert slo.tier_for("analytical", None) is None
    assert slo.tier_for("transactional", None).name == "transactional"
    assert [slo.loss_horizon_s(t) for t in (low, high, tx)] == [300, 30, 10]  # "10x" the target by default
    assert slo.probe_horizon_s("analytical") == 300 and slo.probe_horizon_s("transactional") == 10
    assert low.max_lost.allowed(1000) == 0 and low.max_errored.allowed(1000) == 10


def test_time_scale_scales_durations_not_rates() -> None:
    slo = load_slo(time_scale=0.1)
    high = slo.tier("high")
    assert slo.target_s(high) == pytest.approx(0.3)
    assert slo.warmup_s(high) == pytest.approx(1.0)  # max(3, 10) * 0.1
    assert slo.warmup_s(slo.tier("low")) == pytest.approx(3.0)
    assert slo.loss_horizon_s(high) == pytest.approx(3.0)
    assert slo.with_loss_horizon(7.0).loss_horizon_s(high) == 7.0  # an override is taken as given
    assert slo.tier_for("analytical", 1000).name == "high"
    with pytest.raises(ConfigError, match="time-scale"):
        slo.scaled(0)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slo.toml"
    path.write_text(text)
    return path


def test_defaults_and_top_level_keys(tmp_path: Path) -> None:
    slo = load_slo(write(tmp_path, """
lost_after_s = 50
warmup_min_s = 2
[[tier]]
name = "all"
path = "analytical"
target_s = 5
"""))
    tier = slo.tier("all")
    assert (tier.percentile, tier.min_samples, tier.band()) == (95, 20, "any rate")
    assert slo.loss_horizon_s(tier) == 50  # the older spelling: seconds
    assert slo.warmup_s(tier) == 5


def test_horizons_and_budgets_per_tier_override_the_defaults(tmp_path: Path) -> None:
    slo = load_slo(write(tmp_path, """
lost_after = "4x"
max_lost = "0.5%"
max_errored = 3
[[tier]]
name = "low"
path = "analytical"
below_eps = 1000
target_s = 30
[[tier]]
name = "high"
path = "analytical"
at_least_eps = 1000
target_s = 3
lost_after = 60
max_lost = 2
max_errored = "2.5%"
"""), time_scale=0.5)
    low, high = slo.tier("low"), slo.tier("high")
    assert (slo.loss_horizon_s(low), slo.loss_horizon_s(high)) == (60.0, 30.0)  # scaled
    assert (low.max_lost.allowed(1000), low.max_errored.allowed(1000)) == (5, 3)
    assert (high.max_lost.allowed(1000), high.max_errored.allowed(1000)) == (2, 25)
    assert slo.probe_horizon_s("analytical") == 60.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=0\n', "target_s"),
        ('[[tier]]\nname="a"\npath="analytical"\n', "target_s"),
        ('[[tier]]\nname="a"\npath="olap"\ntarget_s=1\n', "path"),
        ('[[tier]]\npath="analytical"\ntarget_s=1\n', "name"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\npercentile=100\n', "percentile"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\nmin_samples=0\n', "min_samples"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\ntarget=3\n', "target"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s="3"\n', "target_s"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\nat_least_eps=5\nbelow_eps=5\n', "below_eps"),
        ('lost_after_s=-1\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "lost_after_s"),
        ('lost_after="ten"\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "lost_after"),
        ('lost_after="0.5x"\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "lost_after"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=10\nlost_after=5\n', "lost_after"),
        ('max_lost=-1\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "max_lost"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\nmax_errored="lots"\n', "max_errored"),
        ('[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\nmax_errored="120%"\n', "max_errored"),
        ('lost_after=5\nlost_after_s=5\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "lost_after"),
        ('typo=1\n[[tier]]\nname="a"\npath="analytical"\ntarget_s=1\n', "typo"),
        ("x = \n", "not valid TOML"),
        ("", "tier"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key) as info:
        load_slo(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_overlapping_bands_and_duplicate_names_are_rejected() -> None:
    tier = {"path": "analytical", "target_s": 1}
    with pytest.raises(ConfigError, match="overlaps"):
        parse_slo({"tier": [{**tier, "name": "a", "below_eps": 100}, {**tier, "name": "b", "below_eps": 50}]})
    with pytest.raises(ConfigError, match="used twice"):
        parse_slo({"tier": [{**tier, "name": "a", "below_eps": 100},
                            {**tier, "name": "a", "at_least_eps": 100}]})
    ok = parse_slo({"tier": [{**tier, "name": "a", "below_eps": 100}, {**tier, "name": "b", "at_least_eps": 100}]})
    assert [t.name for t in ok.tiers] == ["a", "b"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_slo(tmp_path / "nope.toml")
