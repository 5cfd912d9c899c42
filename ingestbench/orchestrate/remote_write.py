"""Where a run pushes its metrics (``ingestbench run --remote-write URL``) and with which credentials.

A run on machines that no Prometheus can scrape pushes instead: the coordinator reads every ``/metrics``
endpoint of the run on loopback and sends the samples to a Prometheus remote-write endpoint
(:mod:`ingestbench.orchestrate.pusher`). The URL comes from ``--remote-write`` or ``INGESTBENCH_REMOTE_WRITE``;
credentials only from the environment (``INGESTBENCH_REMOTE_WRITE_USERNAME`` and ``..._PASSWORD`` for basic
auth, or ``..._BEARER_TOKEN``), never from the URL, and they are never printed or written to the results.

>>> rw = remote_write_settings("https://prom.example/api/v1/write", None,
...                            environ={"INGESTBENCH_REMOTE_WRITE_BEARER_TOKEN": "s3cret"})
>>> rw.describe(), "s3cret" in repr(rw)
('pushing the metrics every 5 s to https://prom.example/api/v1/write (bearer token)', False)
>>> remote_write_settings("http://user:pw@prom.example/api/v1/write", None, environ={})
Traceback (most recent call last):
...
ingestbench.records.config.ConfigError: remote-write: the URL must not carry credentials (user:password@): \
set INGESTBENCH_REMOTE_WRITE_USERNAME and INGESTBENCH_REMOTE_WRITE_PASSWORD, or INGESTBENCH_REMOTE_WRITE_BEARER_TOKEN
"""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingestbench.records.config import ConfigError, check_number, positive, resolve

USERNAME, PASSWORD = "INGESTBENCH_REMOTE_WRITE_USERNAME", "INGESTBENCH_REMOTE_WRITE_PASSWORD"
BEARER_TOKEN = "INGESTBENCH_REMOTE_WRITE_BEARER_TOKEN"
DEFAULT_INTERVAL_S = 5.0
LIBRARY = "prometheus_remote_writer"
EXTRA = "pip install 'ingestbench[remote-write]'"


@dataclass(frozen=True)
class RemoteWrite:
    """The endpoint, how often to push, and the credentials (kept out of ``repr``: nothing prints them)."""

    url: str
    interval_s: float = DEFAULT_INTERVAL_S
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)

    def auth(self) -> dict[str, str] | None:
        """The remote-write client's ``auth`` argument, or None without credentials."""
        if self.bearer_token:
            return {"bearer_token": self.bearer_token}
        if self.username is not None and self.password is not None:
            return {"username": self.username, "password": self.password}
        return None

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, and the basic-auth header value made of them: scrubbed from any error text
        before it is kept (a server may echo a header)."""
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode() if self.password else None
        return tuple(s for s in (self.password, basic, self.bearer_token) if s)

    def describe(self) -> str:
        how = "bearer token" if self.bearer_token else "basic auth" if self.username else "no credentials"
        return f"pushing the metrics every {self.interval_s:g} s to {self.url} ({how})"

    def summary(self) -> dict[str, object]:
        """What ``run.json`` records of the setting (no credential: only which kind was used)."""
        auth = "bearer" if self.bearer_token else "basic" if self.username else None
        return {"url": self.url, "interval_s": self.interval_s, "auth": auth}


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host and no credentials; else :class:`ConfigError` naming the fault
    (never echoing a URL that carries a password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number raises ValueError here
    except ValueError as exc:
        raise ConfigError(f"remote-write: not a valid URL ({exc})") from None
    if "@" in parts.netloc:
        raise ConfigError(f"remote-write: the URL must not carry credentials (user:password@): set {USERNAME} and "
                          f"{PASSWORD}, or {BEARER_TOKEN}")
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"remote-write: {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ConfigError(f"remote-write: {url!r} names no host")
    if any(c.isspace() for c in url):
        raise ConfigError(f"remote-write: {url!r} contains white space")
    return url


def remote_write_settings(url: str | None, interval_s: float | None, *,
                          environ: Mapping[str, str]) -> RemoteWrite | None:
    """``--remote-write`` > ``INGESTBENCH_REMOTE_WRITE`` (None: off), ``--remote-write-interval-s`` >
    ``INGESTBENCH_REMOTE_WRITE_INTERVAL_S`` > 5 s, credentials from ``environ``; every fault a one-line
    :class:`ConfigError`."""
    chosen = resolve("remote-write", url, None, str, environ=environ)
    if interval_s is not None:
        check_number("remote-write-interval-s", interval_s, maximum=3600)
    interval = resolve("remote-write-interval-s", interval_s, DEFAULT_INTERVAL_S, positive(float), environ=environ)
    if not chosen:
        return None
    check_url(chosen)
    username, password = environ.get(USERNAME) or None, environ.get(PASSWORD) or None
    token = environ.get(BEARER_TOKEN) or None
    if (username is None) != (password is None):
        raise ConfigError(f"remote-write: basic auth needs both {USERNAME} and {PASSWORD}; only "
                          f"{USERNAME if username else PASSWORD} is set")
    if token and username:
        raise ConfigError(f"remote-write: set either {USERNAME}/{PASSWORD} or {BEARER_TOKEN}, not both")
    if importlib.util.find_spec(LIBRARY) is None:
        raise ConfigError(f"remote-write: the remote-write client is not installed: {EXTRA}")
    return RemoteWrite(chosen, interval, username, password, token)
