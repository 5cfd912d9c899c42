"""``ingestbench targets``: every target kind this installation knows, with its options and secrets.

What it prints comes from each target's spec (its entry point in the ``ingestbench.targets`` group), the
same spec ``run`` and ``probe`` check options against; a plugin installed beside ingestbench is listed too.

    ingestbench targets              # every kind
    ingestbench targets clickhouse   # one kind

Exit code: 0, or 2 for an unknown kind.
"""

from __future__ import annotations

import argparse
from typing import Any

from ingestbench.cli.help import command
from ingestbench.records.exit_codes import ExitCode
from ingestbench.targets.registry import spec_of, specs
from ingestbench.targets.spec import TargetSpec


def register(sub: Any) -> None:
    p = command(sub, "targets", summary="list the target kinds with their options and secrets",
                description="List every target kind this installation knows (a plugin installed beside "
                "ingestbench too) with the roles it can play, its options (for --target-opt or the scenario's "
                "[target] table) and the environment variables of its secrets.",
                examples=("ingestbench targets", "ingestbench targets clickhouse"),
                exits="exit codes: 0 listed · 2 an unknown kind")
    p.add_argument("kind", nargs="?", default=None, help="show only this kind")
    p.set_defaults(func=run)


def describe(spec: TargetSpec) -> list[str]:
    """A kind as lines of text: summary, roles, options (type, default, help), secrets (variable, help)."""
    lines = [f"{spec.kind}: {spec.summary}", f"  roles: {', '.join(spec.roles)}"]
    if spec.options:
        lines.append("  options (--target-opt KEY=VALUE, [target] in a scenario, INGESTBENCH_TARGET_<KEY>):")
        for o in spec.options:
            default = f", default {o.default}" if o.default is not None else ""
            lines.append(f"    {o.name} ({o.type}{default}): {o.help}")
    if spec.secrets:
        lines.append("  secrets (environment variables only):")
        for s in spec.secrets:
            need = f" [needed to {' and '.join(s.needed_by)}]" if s.needed_by else ""
            lines.append(f"    {s.env}: {s.help}{need}")
    return lines


def run(args: argparse.Namespace) -> int:
    chosen = [spec_of(args.kind)] if args.kind else [specs()[k] for k in sorted(specs())]
    print("\n\n".join("\n".join(describe(s)) for s in chosen))
    return int(ExitCode.OK)
