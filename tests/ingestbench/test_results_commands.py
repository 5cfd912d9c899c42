"""report / gate / compare over synthetic results directories (no servers)."""

import json
import xml.etree.ElementTree as ET

from ingestbench.cli import main
from tests.ingestbench.synthetic import make_run_dir


def test_report_renders_a_killed_run(tmp_path, capsys):
    run = make_run_dir(tmp_path / "r1", status="running")
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "| low |" in md and "| high |" in md and "| transactional |" in md
    assert "did not finish" in md  # a killed run says so
    html = (run / "report.html").read_text()
    assert html.count("<svg") >= 4 and "http://" not in html.split("</head>")[0]
    suite = ET.fromstring((run / "junit.xml").read_text())
    names = [c.get("name") for c in suite.iter("testcase")]
    assert {"low", "high", "transactional"} <= set(names)


def test_gate_rejudges_against_a_stricter_slo(tmp_path, capsys):
    run = make_run_dir(tmp_path / "r1", status="finished", high_tta_s=0.2)
    assert main(["gate", str(run)]) == 0
    strict = tmp_path / "strict.toml"
    strict.write_text('[[tier]]\nname = "high"\npath = "analytical"\nat_least_eps = 1000\ntarget_s = 0.5\n'
                      '[[tier]]\nname = "low"\npath = "analytical"\nbelow_eps = 1000\ntarget_s = 1\n')
    # time scale 0.1: targets 0.05 s and 0.1 s, far below what the samples show
    assert main(["gate", str(run), "--slo", str(strict)]) == 1
    out = capsys.readouterr().out
    assert "fail" in out and "exit code 1" in out


def test_gate_with_missing_slo_file_is_usage_error(tmp_path):
    run = make_run_dir(tmp_path / "r1")
    assert main(["gate", str(run), "--slo", str(tmp_path / "nope.toml")]) == 2


def test_compare_flags_regression_not_same_setup(tmp_path, capsys):
    long = ((200, 60), (1500, 60))  # enough canaries per tier for an upper 95 % bound on the p95
    base = make_run_dir(tmp_path / "base", high_tta_s=0.2, seed=1, status="finished", steps=long)
    same = make_run_dir(tmp_path / "same", high_tta_s=0.2, seed=2, status="finished", steps=long)
    worse = make_run_dir(tmp_path / "worse", high_tta_s=0.6, seed=3, status="finished", steps=long)
    killed = make_run_dir(tmp_path / "killed", high_tta_s=0.2, seed=4, status="running", steps=long)
    for d in (base, same, worse, killed):
        assert main(["report", str(d)]) == 0
    assert main(["compare", str(base), str(same)]) == 0
    assert main(["compare", str(base), str(worse)]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert main(["compare", str(base), str(killed)]) == 3  # an invalid candidate proves nothing
    assert "the candidate run" in capsys.readouterr().err


def test_report_on_missing_dir_is_usage_error(tmp_path):
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_run_json_after_report_keeps_nothing_secret(tmp_path):
    run = make_run_dir(tmp_path / "r1")
    main(["report", str(run)])
    assert "write_key" not in json.dumps(json.loads((run / "run.json").read_text()))
