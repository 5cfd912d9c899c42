"""``--help`` is written for users: every command has a description, an example and its exit codes; no
developer markup; flags that take seconds say so in their names; internal flags are hidden; global options
work before and after the command."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from ingestbench.cli import COMMANDS, build_parser, main
from ingestbench.targets.registry import names

MARKUP = re.compile(r"``|:(class|data|func|mod|meth|attr|exc):`")
# floats that are not durations
NOT_SECONDS = {"time_scale", "declared_rate_eps", "max_regression", "min_change", "erratic_spread",
               "confidence", "min_eps", "max_eps", "factor", "precision", "replay_compress"}


def _sub(command: str) -> argparse.ArgumentParser:
    parser = build_parser(command)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[command]
    return sub


def test_the_top_level_help_is_for_users() -> None:
    text = build_parser().format_help()
    assert not MARKUP.search(text), MARKUP.search(text)
    assert "exit codes:" in text and "module" not in text and "COMMANDS" not in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_commands_help_has_a_description_an_example_and_exit_codes(command: str) -> None:
    sub = _sub(command)
    text = sub.format_help()
    assert not MARKUP.search(text), f"{command} --help shows markup: {MARKUP.search(text)}"
    assert sub.description and len(sub.description.split(".")[0]) > 20, f"{command} has no description"
    assert f"ingestbench {command}" in text.split("examples:")[-1], f"{command} --help has no example"
    assert "exit codes:" in text
    for action in sub._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings:
            continue
        assert action.help and not MARKUP.search(action.help), (command, action.option_strings)
        if action.type is float and action.dest not in NOT_SECONDS:
            assert all(o.endswith("-s") for o in action.option_strings), \
                f"{command} {action.option_strings} takes seconds: its name should end in -s"


@pytest.mark.parametrize("command, hidden", [("probe", "--plan"), ("pipeline", "--plan"),
                                             ("pipeline", "--ready-file"), ("probe", "--interval"),
                                             ("pipeline", "--flush-max-wait")])
def test_internal_flags_and_old_names_are_accepted_but_not_shown(command: str, hidden: str) -> None:
    sub = _sub(command)
    assert hidden not in sub.format_help().replace(f"{hidden}-s", "")
    assert any(hidden in a.option_strings for a in sub._actions)


@pytest.mark.parametrize("command", ["run", "probe", "setup"])
def test_target_lists_the_kinds(command: str) -> None:
    text = _sub(command).format_help()
    assert all(kind in text for kind in names()), text


def test_log_level_before_or_after_the_command_and_only_real_levels(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--log-level", "warning", "targets"], ["targets", "--log-level", "WARNING"]):
        assert build_parser("targets").parse_args(argv).log_level == "WARNING"
    assert build_parser("targets").parse_args(["targets"]).log_level == "INFO"
    with pytest.raises(SystemExit) as raised:
        main(["targets", "--log-level", "loud"])
    assert raised.value.code == 2 and "must be one of DEBUG, INFO, WARNING, ERROR" in capsys.readouterr().err


def test_old_seconds_flags_still_work() -> None:
    done = subprocess.run([sys.executable, "-m", "ingestbench", "probe", "--url", "http://127.0.0.1:9",
                           "--declared-rate-eps", "10", "--interval", "0.5", "--poll-interval-s", "0.1", "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "a canary every 0.5 s, polled every 0.1 s" in done.stdout
