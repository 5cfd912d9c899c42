"""``--ca-file`` and ``--insecure``: how the run's HTTPS connections trust their servers, resolved once.

Precedence as everywhere: flag > environment (``INGESTBENCH_CA_FILE``, ``INGESTBENCH_INSECURE=1``) > the
scenario's ``[target]`` keys ``ca_file`` (relative to the scenario file) and ``tls_verify`` > verified against
the system CAs. The result goes into the plan (:class:`~ingestbench.records.tls.TlsPlan`); children read it
there and nowhere else.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestbench.records.config import ConfigError, resolve
from ingestbench.records.tls import TlsPlan, tls_settings

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


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


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected 1/0, true/false, yes/no")


def tls_from_args(args: argparse.Namespace, environ: Mapping[str, str], table: Mapping[str, Any] | None = None,
                  base: Path | None = None) -> TlsPlan:
    """The TLS setting from ``--ca-file``/``--insecure`` > environment > the scenario's ``[target]`` table
    (``base``: the scenario's directory, for a relative ``ca_file``). A missing or unreadable CA file exits 2
    naming it."""
    table = table or {}
    insecure = resolve("insecure", True if args.insecure else None, None, _flag, environ=environ)
    verify = (not insecure) if insecure is not None else table.get("tls_verify")
    flag_or_env = args.ca_file if args.ca_file is not None else environ.get("INGESTBENCH_CA_FILE")
    if flag_or_env is not None:
        what, ca_file, relative_to = ("--ca-file" if args.ca_file is not None else "INGESTBENCH_CA_FILE",
                                      flag_or_env, None)
    else:
        what, ca_file, relative_to = "target.ca_file", table.get("ca_file"), base
    if flag_or_env == "":
        raise ConfigError(f"{what}: empty path")
    return tls_settings(ca_file=ca_file, verify=verify if isinstance(verify, bool) else None, what=what,
                        base=relative_to)
