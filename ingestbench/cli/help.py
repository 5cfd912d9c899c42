"""What ``--help`` shows a user: a description, an example and the exit codes of every command, global options
that work before and after the command, flags that take seconds named so (``--interval-s``; the older name kept,
hidden), and no flag that only a run's children use.
"""

from __future__ import annotations

import argparse
from typing import Any

from ingestbench.targets.registry import names

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXIT_CODES = ("exit codes: 0 every judged tier passed · 1 an SLO failed · 2 bad usage or configuration (nothing "
              "started) · 3 the result is invalid: nothing can be concluded from it (the reasons are printed)")
EXIT_CODES_PLAIN = "exit codes: 0 done · 2 bad usage or configuration"


def log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def add_global_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """``--log-level``: on the top-level parser with its default, on each command without one (so that a value
    given after the command is kept and one given before it is not reset)."""
    p.add_argument("--log-level", type=log_level, metavar="LEVEL", default="INFO" if top else argparse.SUPPRESS,
                   help="how much ingestbench logs to stderr: DEBUG, INFO, WARNING or ERROR (default INFO)")


def command(sub: Any, name: str, *, summary: str, description: str, examples: tuple[str, ...],
            exits: str = EXIT_CODES) -> argparse.ArgumentParser:
    """A command's parser: ``summary`` in the list of commands; the description, examples and exit codes in its
    own ``--help``."""
    text = description.strip() + "\n\nexamples:\n" + "\n".join(f"  {e}" for e in examples) + f"\n\n{exits}"
    p: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=text,
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_global_options(p, top=False)
    return p


def seconds(p: argparse.ArgumentParser, name: str, help: str) -> None:
    """``--NAME-s SECONDS``, and ``--NAME`` as a hidden alias (the name it had before)."""
    dest = name.replace("-", "_") + "_s"
    p.add_argument(f"--{name}-s", dest=dest, type=float, default=None, metavar="SECONDS", help=help)
    p.add_argument(f"--{name}", dest=dest, type=float, default=None, help=argparse.SUPPRESS)


def internal(p: argparse.ArgumentParser, *flags: str) -> None:
    """Flags a run gives its children (``--plan``, ``--ready-file``): accepted, never shown."""
    for flag in flags:
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)


def kinds() -> str:
    """The target kinds installed here, for a ``--target`` help (names only: no plugin is loaded to list them)."""
    return ", ".join(names())
