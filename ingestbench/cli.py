"""The ``ingestbench`` command line: one subcommand per module in :data:`COMMANDS`.

Each command module exposes ``register(subparsers)`` which adds its parser and sets ``func`` to a callable
taking the parsed namespace and returning an exit code. Exit codes are the CI interface:
0 pass · 1 an SLO failed · 2 bad usage or config · 3 the run is invalid.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from ingestbench import __version__
from ingestbench.config import ConfigError
from records.exit_codes import ExitCode

COMMANDS = [
    "ingestbench.cmd_pipeline",
    "ingestbench.cmd_probe",
    "ingestbench.cmd_run",
    "ingestbench.cmd_results",
]


def one_line(message: str) -> str:
    """A message for the terminal, on one line whatever it quotes: a key or value read from a file or the
    command line may hold line breaks or control characters (``\\x1e`` counts as a line break too); those are
    shown escaped, as Python writes them in a string literal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ingestbench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ingestbench {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
