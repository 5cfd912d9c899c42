"""Network plumbing for a run: a free port to give a child, whether a target's port answers, whether its TLS
certificate is one the run trusts (before any request, so no write key goes to a server it does not trust)."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from ingestbench.records.tls import TlsPlan, client_context


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(url: str, timeout_s: float = 5.0) -> bool:
    """Whether a TCP connection to the URL's host and port opens."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tls_problem(url: str, tls: TlsPlan, *more: str | None, timeout_s: float = 5.0) -> str | None:
    """The first problem :func:`tls_handshake` finds with ``url`` and then each of ``more`` (None: skipped)."""
    for each in dict.fromkeys(u for u in (url, *more) if u):
        problem = tls_handshake(each, tls, timeout_s)
        if problem:
            return problem
    return None


def tls_handshake(url: str, tls: TlsPlan, timeout_s: float = 5.0) -> str | None:
    """For an https URL: open a TCP connection and do the TLS handshake exactly as the run's clients will
    (``tls``), then close it. No HTTP request is sent, so no header (no write key) leaves this machine. None when
    the handshake succeeds, when verification is off, or for plain http; else what went wrong, naming the host:
    ``TLS: certificate verify failed for 127.0.0.1:8443: self-signed certificate``."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not tls.verify:
        return None
    host, port = parts.hostname or "", parts.port or 443
    where = f"{host}:{port}"
    ctx = client_context(tls)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock, \
                ctx.wrap_socket(sock, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"TLS: certificate verify failed for {where}: {exc.verify_message or exc.reason}"
    except ssl.SSLError as exc:
        return f"TLS: handshake with {where} failed: {exc.reason or exc}"
    except OSError as exc:
        return f"TLS: cannot connect to {where}: {exc.strerror or exc}"
