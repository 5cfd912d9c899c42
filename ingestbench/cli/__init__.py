"""The ingestbench command line: one module of this package per group of subcommands (``COMMANDS``).

Each command module exposes ``register(subparsers)``, which adds its parsers and sets ``func`` to a callable
taking the parsed namespace and returning an exit code. Exit codes are the CI interface:
0 pass · 1 an SLO failed · 2 bad usage or config · 3 the run is invalid.

A command's module is loaded only when that command runs (``--help`` and usage errors load them all): judging
a run with ``gate`` does not pay for the HTTP client, the probe or the pipeline.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from ingestbench import __version__
from ingestbench.cli.help import EXIT_CODES, add_global_options
from ingestbench.records.config import ConfigError
from ingestbench.records.exit_codes import ExitCode

DESCRIPTION = """Prove or disprove an analytics system's ingestion promise: drive events at controlled rates, write
canary events, look them up on the query side, and judge each traffic tier's time to availability against an SLO."""

COMMANDS = {  # subcommand -> the module that registers and runs it
    "pipeline": "ingestbench.cli.pipeline",
    "probe": "ingestbench.cli.probe",
    "run": "ingestbench.cli.run",
    "scenarios": "ingestbench.cli.run",
    "search": "ingestbench.cli.search",
    "report": "ingestbench.cli.results",
    "gate": "ingestbench.cli.results",
    "history": "ingestbench.cli.history",
    "compare": "ingestbench.cli.results",
    "setup": "ingestbench.cli.setup",
    "targets": "ingestbench.cli.targets",
    "worker": "ingestbench.cli.worker",
}


def one_line(message: str) -> str:
    """A message for the terminal, on one line whatever it quotes: a key or value read from a file or the
    command line may hold line breaks or control characters (``\\x1e`` counts as a line break too); those are
    shown escaped, as Python writes them in a string literal.

    >>> one_line("load.steps[0].rate_eps: got 'a\\nb'")
    "load.steps[0].rate_eps: got 'a\\\\nb'"
    """
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {one_line(message)}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` (every command when None)."""
    parser = _Parser(prog="ingestbench", description=DESCRIPTION, epilog=f"{EXIT_CODES}\n\n`ingestbench COMMAND "
                     "--help` tells more of each command.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ingestbench {__version__}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    modules = [COMMANDS[command]] if command in COMMANDS else sorted(set(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` asks for: its first word that is not an option or the option's value."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
        elif word in ("-h", "--help", "--version"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command(argv)
    args = build_parser(command).parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"ingestbench: error: {one_line(str(exc))}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        return 130
