import pytest

from ingestbench.records.config import ConfigError
from ingestbench.records.scenario import load_scenario

BUILTIN = ["quick", "threshold-sweep", "soak", "spike"]


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_load(name):
    sc = load_scenario(name)
    assert sc.name == name and sc.load.steps and sc.description


def test_quick_crosses_the_threshold():
    rates = [s.rate_eps for s in load_scenario("quick").load.steps]
    assert min(rates) < 1000 < max(rates)
    assert [s.rate_eps for s in load_scenario("threshold-sweep").load.steps] == [100, 500, 900, 1100, 2000, 5000]


def write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_path_and_defaults(tmp_path):
    sc = load_scenario(write(tmp_path, "[load]\nsteps = [{rate_eps = 10, duration_s = 1}]\n"))
    assert sc.load.batch_size == 1 and sc.load.lag_bound_s == 0.05 and sc.load.min_achieved_ratio == 0.97
    assert sc.load.send_tick_s == 0.01


def test_full_load_table(tmp_path):
    sc = load_scenario(write(tmp_path, """
[load]
batch_size = 50
seed = 9
casing = "TitleCase"
property_count = 3
payload_bytes = 900
nested = false
lag_bound_s = 0.1
min_achieved_ratio = 0.9
send_tick_s = 0
steps = [{rate_eps = 10, duration_s = 1, end_rate_eps = 100}]
"""))
    assert sc.load.send_tick_s == 0.0
    assert sc.load.batch_size == 50 and sc.load.casing == "TitleCase" and sc.load.steps[0].end_rate_eps == 100


@pytest.mark.parametrize("text,message", [
    ("[load]\nsteps = [{rate_eps = 1, duration_s = 1}, {rate_eps = 1, duration_s = 1},"
     " {rate_eps = 0, duration_s = 1}]", "load.steps[2].rate_eps must be > 0"),
    ("[load]\nsteps = [{rate_eps = 1, duration_s = -1}]", "load.steps[0].duration_s must be > 0"),
    ("[load]\nsteps = [{rate_eps = 1}]", "load.steps[0].duration_s is required"),
    ("[load]\nsteps = [{rate_eps = 1, duration_s = 1, rate = 2}]", "load.steps[0].rate is not a known key"),
    ("[load]\nbatchsize = 3\nsteps = [{rate_eps = 1, duration_s = 1}]", "load.batchsize is not a known key"),
    ("[load]\nbatch_size = 0\nsteps = [{rate_eps = 1, duration_s = 1}]", "load.batch_size must be >= 1"),
    ("[load]\nbatch_size = 1.5\nsteps = [{rate_eps = 1, duration_s = 1}]", "load.batch_size must be an integer"),
    ("[load]\ncasing = 'kebab'\nsteps = [{rate_eps = 1, duration_s = 1}]", "load.casing must be one of"),
    ("[load]\nsteps = []", "load.steps must be a non-empty list"),
    ("[load]\nsend_tick_s = 0.5\nsteps = [{rate_eps = 1, duration_s = 1}]", "load.send_tick_s must be <= 0.1"),
    ("[load]\nseed = 1", "load.steps (or load.replay) is required"),
    ("description = 'x'", "[load] table is required"),
    ("[slow]\nx = 1\n[load]\nsteps = [{rate_eps = 1, duration_s = 1}]", "[slow] is not a known table"),
    ("speed = 2\n[load]\nsteps = [{rate_eps = 1, duration_s = 1}]", "speed is not a known top-level key"),
    ("[load\n", "invalid TOML"),
])
def test_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_scenario(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value).strip()


def test_unknown_name_lists_known():
    with pytest.raises(ConfigError, match=r"not found .*quick"):
        load_scenario("nope")


def test_bare_name_found_from_another_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_scenario("quick").name == "quick"


def test_with_load_seed_replaces_or_adds_the_seed():
    from ingestbench.records.scenario import with_load_seed

    text = 'description = "x"\n[load]\nbatch_size = 1\nseed = 42\nsteps = [{rate_eps = 1, duration_s = 1}]\n'
    assert "seed = 7" in with_load_seed(text, 7) and "seed = 42" not in with_load_seed(text, 7)
    no_seed = '[load]\nsteps = [{rate_eps = 1, duration_s = 1}]\n[probe]\ninterval_s = 1.0\n'
    out = with_load_seed(no_seed, 9)
    import tomllib

    doc = tomllib.loads(out)
    assert doc["load"]["seed"] == 9 and doc["probe"]["interval_s"] == 1.0
    with pytest.raises(ConfigError):
        with_load_seed('description = "no load"\n', 1)
