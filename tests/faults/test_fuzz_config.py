"""Bad input through the command line: fuzzed scenario files, SLO files and options.

Every case goes through the real ``ingestbench`` entry point (the console script's, looked up by name, so
it holds wherever the code lives) with ``run --check``, which validates everything a run would and starts
nothing. The rules, for every case: the command returns 0 or 2 and raises nothing (a traceback shown to a
user fails the case); a refusal is exactly one line on stderr naming the key or option that is wrong; an
accepted plan is finite. ``probe`` and ``pipeline`` would start working on valid options, so they get only
values that must be refused, each in its own process with a time limit.

Cases: scenario files 3,000, SLO files 2,000, scenario ``[target]`` tables 1,500, ``run`` options 1,500,
``probe``/``pipeline`` options 60.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.faults.config_docs import BASE_SCENARIO, BASE_SLO, dumps, mutated
from tests.faults.config_oracle import Mutation, scenario_expected, slo_expected, target_expected
from tests.faults.fuzzcount import DECIDED, completed, count, fuzz_cases
from tests.faults.runs import ROOT

pytestmark = pytest.mark.slow

CLI: Callable[[list[str]], int] = entry_points(group="console_scripts")["ingestbench"].load()


def cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line in this process: exit code, stdout, stderr. Any exception but SystemExit is a
    traceback a user would see, and propagates."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = CLI(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_refused_in_one_line(code: int, out: str, err: str, *names: str) -> None:
    assert code in (0, 2), (code, out, err)
    if code == 0:
        assert "ok: nothing started" in out and "inf s" not in out and "nan s" not in out, out
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    if names:  # a name is shown with its unprintable characters escaped, so that the message stays one line
        shown = ["".join(c if c.isprintable() else repr(c)[1:-1] for c in n) for n in names]
        shown += [repr(n)[1:-1] for n in names]  # or quoted as Python writes it
        assert any(n in lines[0] for n in shown), (names, lines[0])


def assert_answer(code: int, out: str, err: str, text: str, expect: bool | None, names: list[str],
                  workdir: Path) -> None:
    """The answer ``run --check`` gave for a changed file (``text``): what the rules decide when they do
    (``expect``), and either way a refusal is one line naming one of ``names`` (the file's own path, which
    holds words such as "slo" or "scenario", does not count), or saying the file is not TOML when it is not."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert code == 2 and len(err.strip().splitlines()) == 1 and "TOML" in err, (code, err)
        return
    if expect is not None:
        assert code == (0 if expect else 2), (expect, names, code, err, text[:600])
    DECIDED["must accept" if expect else "must refuse" if expect is False else "either"] += 1
    assert_refused_in_one_line(code, out, err.replace(str(workdir), "<dir>"), *names)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fuzz-config")
    (d / "slo.toml").write_text(dumps(BASE_SLO))
    (d / "base.toml").write_text(dumps(BASE_SCENARIO))
    return d


def test_the_base_documents_are_valid(workdir: Path) -> None:
    code, out, err = cli(["run", "--check", "--scenario", str(workdir / "base.toml"), "--slo",
                          str(workdir / "slo.toml")])
    assert code == 0, err
    assert "judged tiers: low, high, transactional" in out


def check_mutated_file(workdir: Path, data: st.DataObject, base: dict[str, Any], which: str) -> None:
    """Write ``base`` with one change as the ``which`` file (``scenario`` or ``slo``) and ``run --check`` it
    with the other file valid: the answer the rules decide, a refusal naming the changed key."""
    doc, named, change = mutated(base, data)
    path = workdir / f"fuzzed-{which}.toml"
    text = dumps(doc)
    path.write_text(text)
    files = {"scenario": str(workdir / "base.toml"), "slo": str(workdir / "slo.toml"), which: str(path)}
    code, out, err = cli(["run", "--check", "--scenario", files["scenario"], "--slo", files["slo"]])
    expect = scenario_expected(change) if which == "scenario" else slo_expected(change, base)
    names = [named]
    if which == "slo" and len(change.path) == 3 and change.path[2] in ("path", "below_eps", "at_least_eps"):
        names.append(f"tier {base['tier'][change.path[1]]['name']!r}")  # tiers that overlap are named
    assert_answer(code, out, err, text, expect, names, workdir)


@fuzz_cases(3000)
@given(data=st.data())
@completed
def test_fuzzed_scenario_files(workdir: Path, data: st.DataObject) -> None:
    check_mutated_file(workdir, data, BASE_SCENARIO, "scenario")


@fuzz_cases(2000)
@given(data=st.data())
@completed
def test_fuzzed_slo_files(workdir: Path, data: st.DataObject) -> None:
    check_mutated_file(workdir, data, BASE_SLO, "slo")


# A write-here/read-there [target] table: a generic HTTP writer with a query side, and a ClickHouse reader.
BASE_TARGET: dict[str, Any] = {
    "writer": {"kind": "http", "url": "http://127.0.0.1:9", "path": "/ingest", "envelope": "batch",
               "accepted": "200,204", "max_batch_events": "100", "query_path": "/query", "rows_path": "rows",
               "max_query_ids": "500", "min_poll_interval_s": "0.5"},
    "reader": {"kind": "clickhouse", "url": "http://127.0.0.1:8123", "database": "analytics", "table": "events",
               "canary_column": "canary_id"},
}


@fuzz_cases(1500)
@given(data=st.data())
@completed
def test_fuzzed_target_tables(workdir: Path, data: st.DataObject) -> None:
    doc, first, change = mutated({"target": BASE_TARGET}, data)
    named, changes = [first], [change]
    if isinstance(doc.get("target"), dict):  # one more change inside the writer or the reader half the time
        for half in ("writer", "reader"):
            if isinstance(doc["target"].get(half), dict) and doc["target"][half] and data.draw(st.booleans()):
                doc["target"][half], inner, change = mutated(doc["target"][half], data)
                named += [inner]
                changes += [Mutation(("target", half, *change.path), change.how, change.value)]
    path = workdir / "fuzzed-target.toml"
    text = dumps({**BASE_SCENARIO, **doc})
    path.write_text(text)
    code, out, err = cli(["run", "--check", "--scenario", str(path), "--slo", str(workdir / "slo.toml")])
    for c in changes:  # the kind decides which options exist: a refusal may name an option the new kind lacks
        if c.path[-1] == "kind" and len(c.path) == 3:
            named += [f"{c.path[1]}: unknown target", *(f"{k!r} is not an option" for k in BASE_TARGET[c.path[1]])]
    standing = [c for i, c in enumerate(changes)  # a later change to the same key (or its table) replaces it
                if not any(later.path == c.path[:len(later.path)] for later in changes[i + 1:])]
    verdicts = [target_expected(c) for c in standing]
    expect = False if False in verdicts else (True if all(verdicts) else None)
    assert_answer(code, out, err, text, expect, named, workdir)


@fuzz_cases(300)
@given(text=st.text(max_size=300))
@completed
def test_any_text_as_a_scenario_or_slo_file(workdir: Path, text: str) -> None:
    path = workdir / "text.toml"
    path.write_text(text)
    for argv in (["--scenario", str(path), "--slo", str(workdir / "slo.toml")],
                 ["--scenario", str(workdir / "base.toml"), "--slo", str(path)]):
        code, out, err = cli(["run", "--check", *argv])
        assert_refused_in_one_line(code, out, err)


RUN_OPTIONS = {
    "--scenario": st.sampled_from(["quick", "spike", "soak", "nope", "", "/", "x.toml", "../quick"]),
    "--target": st.sampled_from(["pipeline", "PIPELINE", "", "nope", "pipeline ", "http", "clickhouse", "posthog"]),
    "--url": st.sampled_from(["http://127.0.0.1:1", "https://127.0.0.1:1", "ftp://x", "", "127.0.0.1:8080",
                              "http://"]),
    "--slo": st.sampled_from(["records/slo_default.toml", "nope.toml", "", "scenarios"]),
    "--time-scale": st.sampled_from(["0.1", "1", "0", "-1", "nan", "inf", "-inf", "1e999", "1e-320", "x", "1e308"]),
    "--processes": st.sampled_from(["1", "2", "0", "-3", "1.5", "x", "99999999999999999999"]),
    "--seed": st.sampled_from(["1", "-1", "x", "1.5", str(2**70)]),
    "--out": st.sampled_from(["results", ""]),
    "--target-opt": st.sampled_from(["table=events", "=x", "x", "", "nope=1", "max_batch=0", "database=a b"]),
    "--reader": st.sampled_from(["pipeline", "clickhouse", "nope", ""]),
    "--reader-url": st.sampled_from(["http://127.0.0.1:1", "", "x"]),
    "--reader-opt": st.sampled_from(["database=x", "=", "x"]),
}


@fuzz_cases(1500)
@given(chosen=st.dictionaries(st.sampled_from(sorted(RUN_OPTIONS)), st.text(max_size=6), max_size=5),
       data=st.data(), extra=st.lists(st.sampled_from(["--bogus", "-x", "--time-scale", "--", "--check=1",
                                                       "--no-progress", "--processes"]), max_size=2))
@completed
def test_fuzzed_run_options(chosen: dict[str, str], data: st.DataObject, extra: list[str]) -> None:
    argv = ["run", "--check"]
    for opt in chosen:
        value = data.draw(st.one_of(RUN_OPTIONS[opt], st.text(max_size=6)))
        argv += [opt, value] if not value.startswith("-") else [f"{opt}={value}"]
    argv += extra
    code, out, err = cli(argv)
    names = [o.lstrip("-") for o in chosen] + [e.split("=")[0].lstrip("-") for e in extra]
    assert_refused_in_one_line(code, out, err, *names)


@fuzz_cases(60, hypothesis=False)
def test_probe_and_pipeline_refuse_bad_option_values_in_one_line(tmp_path: Path) -> None:
    """Every value here must be refused before anything starts; each runs in its own process, bounded."""
    probe = ["probe", "--url", "http://127.0.0.1:9", "--declared-rate-eps", "10", "--duration", "1",
             "--out", str(tmp_path / "probe")]
    cases = []
    for opt in ("--duration", "--declared-rate-eps", "--interval", "--poll-interval", "--lost-after", "--drain",
                "--timeout", "--time-scale", "--batch-size", "--metrics-port"):
        for bad in ("nan", "inf", "-1", "x"):
            cases.append(([*probe, opt, bad], opt))
    for opt in ("--port", "--flush-rows", "--flush-max-wait", "--max-body-bytes", "--max-batch"):
        for bad in ("nan", "inf", "-1", "0", "1e999") if opt != "--port" else ("-1", "65536", "x"):
            cases.append((["pipeline", "--port", "0", opt, bad], opt))

    def one(case: tuple[list[str], str]) -> tuple[list[str], str, int, str]:
        argv, opt = case
        done = subprocess.run([sys.executable, "-m", "ingestbench", *argv], capture_output=True, text=True,
                              cwd=ROOT, timeout=30)
        return argv, opt, done.returncode, done.stderr

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, cases))
    for argv, opt, code, err in results:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (argv, code, err)
        assert re.search(re.escape(opt.lstrip("-")), lines[0]), (argv, lines[0])
        count(test_probe_and_pipeline_refuse_bad_option_values_in_one_line, 1)

