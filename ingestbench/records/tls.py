"""How every HTTPS client of a run trusts the servers it talks to: one setting, resolved once into the plan.

Certificates and host names are verified by default, against the system's trust store. ``ca_file`` adds a
private CA (a PEM file of one or more certificates) to that trust: a server whose certificate it signed is
trusted as well as the public ones. ``verify = False`` turns both checks off (``--insecure``); the run says
so wherever it reports. The generator, the probe, the readers, the TLS preflight and ``ingestbench setup``
all build their context with :func:`client_context`, so they agree::

    tls = tls_settings(ca_file="certs/ca.pem", verify=None, what="--ca-file")
    ctx = client_context(tls)  # ssl.SSLContext: system CAs + certs/ca.pem, host names checked
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestbench.records.config import ConfigError, resolve

INSECURE_NOTE = ("TLS verification is off (--insecure or [target] tls_verify = false): certificates and host names "
                 "of https targets are not checked, so anyone on the path can read the write key and alter results")


@dataclass(frozen=True)
class TlsPlan:
    """``verify``: check certificates and host names; ``ca_file``: an absolute path to PEM certificates trusted
    in addition to the system's (None: the system's only)."""

    verify: bool = True
    ca_file: str | None = None

    @classmethod
    def from_dict(cls, doc: Any) -> TlsPlan:
        if not isinstance(doc, dict):
            return cls()
        return cls(verify=bool(doc.get("verify", True)), ca_file=doc.get("ca_file"))

    def describe(self) -> str:
        if not self.verify:
            return "TLS verification off (--insecure)"
        if self.ca_file:
            return f"TLS verified against the system CAs and {self.ca_file}"
        return "TLS verified against the system CAs"


def client_context(tls: TlsPlan, create: Callable[[], Any] = ssl.create_default_context) -> Any:
    """A client context for ``tls``; ``create`` makes the default one (``gevent.ssl.create_default_context`` for
    gevent sockets). Raises :class:`ConfigError` naming the CA file when it cannot be read."""
    ctx = create()
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if tls.ca_file:
        try:
            ctx.load_verify_locations(cafile=tls.ca_file)
        except FileNotFoundError:
            raise ConfigError(f"ca-file: {tls.ca_file}: no such file") from None
        except ssl.SSLError as exc:
            raise ConfigError(f"ca-file: {tls.ca_file}: not PEM certificates ({exc.reason or exc})") from None
        except OSError as exc:
            raise ConfigError(f"ca-file: {tls.ca_file}: cannot read it ({exc.strerror or exc})") from None
    return ctx


def tls_settings(*, ca_file: str | None, verify: bool | None, what: str = "ca-file",
                 base: Path | None = None) -> TlsPlan:
    """The resolved setting: ``ca_file`` (relative to ``base`` when given: a scenario's directory) checked now,
    so a missing or unreadable file is a one-line error naming it (``what`` is where it came from).
    ``verify`` False ignores the CA file (nothing is checked)."""
    if verify is False:
        return TlsPlan(verify=False)
    if not ca_file:
        return TlsPlan()
    path = Path(ca_file).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    path = path.resolve()
    if path.is_dir():
        raise ConfigError(f"{what}: {path} is a directory, not a PEM file")
    tls = TlsPlan(ca_file=str(path))
    try:
        client_context(tls)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("ca-file:", f"{what}:", 1)) from None
    return tls


def _yes(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no")


def resolve_tls(ca_file: str | None, insecure: bool | None, *, environ: Mapping[str, str],
                table: Mapping[str, Any] | None = None, base: Path | None = None) -> TlsPlan:
    """``--ca-file``/``--insecure`` (None: not given) > ``INGESTBENCH_CA_FILE``/``INGESTBENCH_INSECURE`` > the
    scenario's ``[target]`` keys ``ca_file`` (relative to ``base``, the scenario's directory) and
    ``tls_verify`` > verified against the system CAs. A missing or unreadable CA file exits 2 naming it."""
    table = table or {}
    off = resolve("insecure", True if insecure else None, None, _yes, environ=environ)
    verify = (not off) if off is not None else table.get("tls_verify")
    given = ca_file if ca_file is not None else environ.get("INGESTBENCH_CA_FILE")
    what = "--ca-file" if ca_file is not None else "INGESTBENCH_CA_FILE"
    path: str | None = given
    relative_to: Path | None = None
    if given == "":
        raise ConfigError(f"{what}: empty path")
    if given is None:
        what, path, relative_to = "target.ca_file", table.get("ca_file"), base
    return tls_settings(ca_file=path, verify=verify if isinstance(verify, bool) else None, what=what,
                        base=relative_to)
