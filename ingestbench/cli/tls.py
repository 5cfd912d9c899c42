"""``--ca-file`` and ``--insecure``: how the HTTPS connections of a command trust their servers.

Resolved by :func:`ingestbench.records.tls.resolve_tls` (flag > environment ``INGESTBENCH_CA_FILE``,
``INGESTBENCH_INSECURE=1`` > the scenario's ``[target]`` keys ``ca_file`` and ``tls_verify`` > verified against
the system CAs) into the plan, where children read it.
"""

from __future__ import annotations

import argparse
import os

from ingestbench.records.tls import TlsPlan, resolve_tls


def add_tls_flags(p: argparse.ArgumentParser, *, scenario: bool = True) -> None:
    """``--ca-file`` and ``--insecure``; ``scenario``: the command reads a scenario (its help names the keys)."""
    ca_key, verify_key = ("; scenario [target] ca_file", "; scenario [target] tls_verify = false") if scenario \
        else ("", "")
    p.add_argument("--ca-file", default=None, metavar="PATH",
                   help="trust the CA certificates in this PEM file as well as the system's (added to the default "
                   f"trust, not instead of it) for every https connection (env INGESTBENCH_CA_FILE{ca_key})")
    p.add_argument("--insecure", action="store_true", default=None,
                   help=f"do not verify certificates or host names (env INGESTBENCH_INSECURE=1{verify_key}): "
                   "anyone on the path can read the write key; said on stderr and in a run's results")


def tls_of(args: argparse.Namespace) -> TlsPlan:
    """A command without a scenario (``probe``, ``setup``): its flags > the environment > verified."""
    return resolve_tls(args.ca_file, args.insecure, environ=os.environ)
