"""``ingestbench setup``: create what a target needs before a run (for ClickHouse: database, table, Buffer).

    ingestbench setup --target clickhouse --url http://127.0.0.1:8123 --target-opt buffer=1,6,1000,1000000,1,100000000

It prints every statement it runs and, at the end, what to use next (for ClickHouse the ``insert_into`` to
pass to ``ingestbench run``). Running it again changes nothing that is already as asked. Secrets come from the
environment variables the target names (``INGESTBENCH_CLICKHOUSE_USER``, ``INGESTBENCH_CLICKHOUSE_PASSWORD``).
Exit codes: 0 done · 2 bad usage, configuration, or a statement the server refused (its message is printed).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.error
import urllib.request
from typing import Any

from ingestbench.cli.help import command, kinds
from ingestbench.cli.tls import add_tls_flags, tls_of
from ingestbench.records.config import ConfigError, resolve, target_options
from ingestbench.records.tls import INSECURE_NOTE, client_context
from ingestbench.targets.base import HttpRequest, TargetError
from ingestbench.targets.contract import Provisioner
from ingestbench.targets.registry import make_target

TIMEOUT_S = 30.0


def register(sub: Any) -> None:
    p = command(sub, "setup", summary="create what a target needs (ClickHouse: database, table, Buffer table)",
                description="Create what a target needs before a run (for ClickHouse: the database, the table "
                "and, if asked, a Buffer table in front of it). It prints every statement it runs and, at the end, "
                "what to use next (for ClickHouse the insert_into option for `ingestbench run`). Running it again "
                "changes nothing that is already as asked. Secrets come from the environment variables the target "
                "names (`ingestbench targets`).",
                examples=("ingestbench setup --target clickhouse --url http://127.0.0.1:8123 --target-opt "
                          "buffer=1,6,1000,1000000,1,100000000",),
                exits="exit codes: 0 done · 2 bad usage, configuration, or a statement the server refused (its "
                "message is printed)")
    p.add_argument("--target", default=None, metavar="KIND", help=f"target kind: {kinds()} (env "
                   "INGESTBENCH_TARGET)")
    p.add_argument("--url", default=None, help="target base URL (env INGESTBENCH_URL)")
    p.add_argument("--target-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="a target option (repeatable; env INGESTBENCH_TARGET_<KEY>)")
    add_tls_flags(p, scenario=False)
    p.set_defaults(func=run)


def execute(req: HttpRequest, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """Run one request; an HTTP error status is an answer like any other, not an exception."""
    request = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers), method=req.method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def run(args: argparse.Namespace) -> int:
    kind = resolve("target", args.target, None, str)
    url = resolve("url", args.url, None, str)
    if not kind or not url:
        raise ConfigError("target: setup needs --target and --url")
    target = make_target(kind, url, options=target_options(args.target_opt, environ=os.environ),
                         environ=os.environ)
    if not isinstance(target, Provisioner):
        raise ConfigError(f"target: {kind!r} has nothing to set up")
    tls = tls_of(args)
    if not tls.verify:
        print(f"ingestbench: note: {INSECURE_NOTE}", file=sys.stderr)
    context = client_context(tls)
    conversation = target.setup()
    try:
        step = next(conversation)
        while True:
            if step.show:
                print(f"-- {step.purpose}\n{step.show};")
            try:
                answer = execute(step.request, context)
            except OSError as exc:
                raise ConfigError(f"url: {step.purpose}: cannot reach {url} ({exc})") from None
            step = conversation.send(answer)
    except StopIteration as done:
        lines: list[str] = done.value or []
    except TargetError as exc:
        raise ConfigError(str(exc)) from None
    print("\n".join(lines))
    return 0
