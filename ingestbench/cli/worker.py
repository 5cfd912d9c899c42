"""``ingestbench worker``: one machine's share of a distributed run's load (what it does: :data:`DESCRIPTION`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ingestbench.cli.help import EXIT_CODES_PLAIN, command
from ingestbench.cli.tls import add_tls_flags, tls_of
from ingestbench.records.config import ConfigError, check_number, host_port, resolve

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")

DESCRIPTION = """Generate part of a run's load on this machine: connect to the run started with `ingestbench run
--workers N` at --master HOST:PORT and send this worker's share of its schedule to the target. Everything else
comes from the run over the connection: the scenario's steps, the event shapes and seeds, the target's kind, URL
and options. A worker needs no file; the target's secrets (write keys) come from this machine's environment, under
the names `ingestbench targets` lists, and https targets are verified against this machine's trust store (add a
private CA with --ca-file). The worker ends when the run ends; if it is stopped (SIGTERM, Ctrl-C) it first hands
its share over to the other workers. A worker killed outright makes the run invalid, naming it."""


def register(sub: Any) -> None:
    p = command(sub, "worker", summary="send one machine's share of a run's load (ingestbench run --workers N)",
                description=DESCRIPTION, exits=EXIT_CODES_PLAIN, examples=(
                    "ingestbench worker --master 10.0.0.5:5557",
                    "INGESTBENCH_MASTER=run:5557 ingestbench worker --processes 4"))
    p.add_argument("--master", default=None, metavar="HOST:PORT",
                   help="where the run listens for its workers (env INGESTBENCH_MASTER; the run's --master-bind "
                   "port, default 5557)")
    p.add_argument("--processes", type=int, default=None, metavar="N",
                   help="worker processes on this machine, each a worker of the run (default 1; one per core "
                   "the load needs)")
    add_tls_flags(p, scenario=False)
    p.set_defaults(func=run)


def locust_command(args: argparse.Namespace) -> list[str]:
    """Locust's own worker, with this package's locustfile; nothing of the run is given on the command line."""
    master = resolve("master", args.master, None, str)
    if not master:
        raise ConfigError("--master HOST:PORT (or INGESTBENCH_MASTER) is required: the address of the run started "
                          "with `ingestbench run --workers N`")
    host, port = host_port(master, "--master")
    processes = resolve("processes", args.processes, 1, int)
    check_number("--processes", processes, minimum=1, allow_minimum=True, maximum=1024)
    tls_of(args)  # a bad --ca-file: exit 2 now, not in every process
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", host,
           "--master-port", str(port)]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    if args.ca_file:
        cmd += ["--ca-file", args.ca_file]
    if args.insecure:
        cmd += ["--insecure"]
    return cmd


def run(args: argparse.Namespace) -> int:
    cmd = locust_command(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)  # this process becomes the worker: a signal or kill reaches it, and nothing is orphaned
    return 0  # not reached
