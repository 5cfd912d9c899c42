"""Replaying a traffic shape: rows become flat load steps (a step function, the last row as long as the interval
before it), and every fault of the file is one line naming the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestbench.cli import main
from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.records.config import ConfigError
from ingestbench.records.load import LoadConfig
from ingestbench.records.replay import MAX_ROWS, read_shape
from ingestbench.records.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent.parent
DAY = ROOT / "ingestbench" / "scenarios" / "shapes" / "day.csv"


def shape(tmp_path: Path, text: str, name: str = "shape.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_hold_until_the_next_row_and_the_last_as_long_as_the_interval_before_it(tmp_path):
    f = shape(tmp_path, "second,events_per_s\n0,100\n10,250.5\n30,0\n40,900\n")
    steps = read_shape(f)
    assert [(s.rate_eps, s.duration_s, s.end_rate_eps) for s in steps] == [
        (100, 10, None), (250.5, 20, None), (0, 10, None), (900, 10, None)]


def test_compression_divides_seconds_and_never_rates_and_seconds_are_shifted_to_start_at_0(tmp_path):
    f = shape(tmp_path, "events_per_s,second\n150,1718000000\n900,1718000900\n")  # columns in any order
    steps = read_shape(f, compress=90)
    assert [(s.rate_eps, s.duration_s) for s in steps] == [(150, 10), (900, 10)]


def test_jsonl_is_read_like_csv(tmp_path):
    rows = [{"second": 0, "events_per_s": 10}, {"second": 5, "events_per_s": 20}]
    f = shape(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n\n", "shape.jsonl")
    assert [(s.rate_eps, s.duration_s) for s in read_shape(f)] == [(10, 5), (20, 5)]


@pytest.mark.parametrize("text,message", [
    ("second,rate\n0,1\n1,2\n", "shape.csv:2: missing column events_per_s"),
    ("second,events_per_s,host\n0,1,a\n1,2,b\n", "shape.csv:2: extra column host"),
    ("second,events_per_s\n0,1\n1,lots\n", "shape.csv:3: events_per_s must be a number, got 'lots'"),
    ("second,events_per_s\n0,1\n1,nan\n", "shape.csv:3: events_per_s must be a finite number"),
    ("second,events_per_s\n0,1\n1,-5\n", "shape.csv:3: events_per_s must be >= 0, got '-5'"),
    ("second,events_per_s\n0,1\n10,2\n10,3\n", "shape.csv:4: second 10 does not follow second 10 (line 3)"),
    ("second,events_per_s\n0,1\n10,2\n5,3\n", "shape.csv:4: second 5 does not follow second 10"),
    ("second,events_per_s\n0,1\n1,2,3\n", "shape.csv:3: 3 values for the 2 columns"),
    ("second,events_per_s\n0,1\n", "shape.csv: 1 row(s); a shape needs at least 2"),
    ("", "shape.csv: empty file"),
])
def test_a_bad_csv_is_refused_naming_the_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        read_shape(shape(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value), err.value


@pytest.mark.parametrize("line,message", [
    ('{"second": 0}', "shape.jsonl:2: missing column events_per_s"),
    ('[0, 1]', "shape.jsonl:2: not a JSON object like"),
    ('{"second": 0, "events_per_s": true}', "shape.jsonl:2: events_per_s must be a number, got True"),
    ('{"second": 0, ', "shape.jsonl:2: not a JSON object ("),
])
def test_a_bad_jsonl_line_is_refused_naming_it(tmp_path, line, message):
    f = shape(tmp_path, '{"second": -5, "events_per_s": 1}\n' + line + "\n", "shape.jsonl")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        read_shape(f)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.csv: cannot read the replay file \(FileNotFoundError"):
        read_shape(tmp_path / "nope.csv")


def test_too_many_rows_are_refused(tmp_path):
    rows = "".join(f"{i},1\n" for i in range(MAX_ROWS + 1))
    with pytest.raises(ConfigError, match=rf"shape.csv:{MAX_ROWS + 2}: more than {MAX_ROWS} rows"):
        read_shape(shape(tmp_path, "second,events_per_s\n" + rows))
    assert len(read_shape(shape(tmp_path, "second,events_per_s\n" + rows[: rows.rindex("\n", 0, -1) + 1]))) == MAX_ROWS


def test_a_step_under_a_second_says_how_far_to_compress(tmp_path):
    f = shape(tmp_path, "second,events_per_s\n0,1\n900,2\n1200,3\n2100,4\n")
    assert len(read_shape(f, compress=300)) == 4  # the 300 s row lasts 1 s
    with pytest.raises(ConfigError, match=r"shape.csv:3: the step from second 900 lasts 0.5 s at compression 300 "
                                          r"and time scale 0.5, under 1 s: compress less \(at most 150\)"):
        read_shape(f, compress=300, time_scale=0.5)


def test_the_example_day(tmp_path):
    sc = load_scenario("replay-day")
    steps = sc.load.steps
    assert sc.load.replay == "shapes/day.csv" and len(steps) == 98
    assert sum(s.duration_s for s in steps) == pytest.approx(300)  # a day in five minutes
    rates = [s.rate_eps for s in steps]
    assert min(rates) >= 140 and max(rates[:36]) < 2700 and max(rates) == 6000
    assert 2300 < max(rates[32:40]) < 2700  # the 09:00 peak
    spike = rates.index(6000)
    assert steps[spike].duration_s == pytest.approx(300 / 288) and rates[spike + 1] < 2000
    assert LoadConfig.from_dict(sc.load.to_dict()) == sc.load  # the plan carries steps, not the file


def test_a_scenario_replay_is_relative_to_it_and_excludes_steps(tmp_path):
    shape(tmp_path, "second,events_per_s\n0,5\n10,7\n", "s.csv")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "sc.toml").write_text('[load]\nreplay = "../s.csv"\nreplay_compress = 2\nbatch_size = 5\n')
    sc = load_scenario(sub / "sc.toml")
    assert [(s.rate_eps, s.duration_s) for s in sc.load.steps] == [(5, 5), (7, 5)] and sc.load.batch_size == 5
    for text, message in [
        ('[load]\nreplay = "../s.csv"\nsteps = [{rate_eps = 1, duration_s = 1}]\n', "load.steps and load.replay"),
        ('[load]\nreplay_compress = 2\nsteps = [{rate_eps = 1, duration_s = 1}]\n', "load.replay_compress needs"),
        ('[load]\nreplay = "../s.csv"\nreplay_compress = 0\n', "load.replay_compress must be > 0"),
        ('[load]\nreplay = 5\n', "load.replay must be the path of a shape file"),
        ('[load]\nreplay = "missing.csv"\n', "missing.csv: cannot read the replay file"),
        ('[load]\nbatch_size = 5\n', "load.steps (or load.replay) is required"),
    ]:
        (sub / "bad.toml").write_text(text)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_scenario(sub / "bad.toml")


def test_the_run_flag_replaces_the_steps_and_keeps_the_other_load_keys(tmp_path):
    f = shape(tmp_path, "second,events_per_s\n0,5\n100,7\n")
    plan = resolve_run(RunFlags(scenario="quick", replay=str(f), replay_compress=10), {}).plan
    quick = load_scenario("quick").load
    assert [(s.rate_eps, s.duration_s) for s in plan.load.steps] == [(5, 1.0), (7, 1.0)]  # x time scale 0.1
    assert plan.load.batch_size == quick.batch_size and plan.load.seed == quick.seed
    assert plan.load.replay == str(f) and plan.load.replay_compress == 10
    env = {"INGESTBENCH_REPLAY": str(f), "INGESTBENCH_REPLAY_COMPRESS": "20"}
    with pytest.raises(ConfigError, match=r"lasts 0.5 s at compression 20 and time scale 0.1"):
        resolve_run(RunFlags(scenario="quick"), env)
    with pytest.raises(ConfigError, match="--replay-compress needs --replay"):
        resolve_run(RunFlags(scenario="quick", replay_compress=2), {})
    # the scenario's own replay is read again at the run's time scale
    with pytest.raises(ConfigError, match=r"day.csv:74: the step from second 64800 lasts 0.520833 s"):
        resolve_run(RunFlags(scenario="replay-day", time_scale=0.5), {})


def test_check_prints_the_replay(tmp_path, capsys):
    f = shape(tmp_path, "second,events_per_s\n0,5\n100,700\n200,9\n")
    assert main(["run", "--scenario", "quick", "--replay", str(f), "--replay-compress", "10", "--check"]) == 0
    out = capsys.readouterr().out
    assert f"replay of {f} (compressed 10x): 3 steps, 5..700 events/s, 3 s of load at time scale 0.1" in out, out
    assert main(["run", "--scenario", "quick", "--replay", str(tmp_path / "no.csv"), "--check"]) == 2
    assert "no.csv: cannot read the replay file" in capsys.readouterr().err
