"""The remote-write protocol client: ``prometheus-remote-writer`` (protobuf ``WriteRequest``, snappy, HTTP POST),
over a session that trusts servers as every other client of the run does (:func:`~ingestbench.records.tls.
client_context`: the system's CAs plus ``--ca-file``, or nothing checked with ``--insecure``).

The library is an optional dependency (``pip install 'ingestbench[remote-write]'``): its own dependencies weigh
about 35 MB, and only a run that pushes needs it; ``--remote-write`` without it exits 2 saying so.
"""

from __future__ import annotations

import ssl
from typing import Any

from requests import Session
from requests.adapters import HTTPAdapter
from urllib3 import disable_warnings
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from ingestbench.orchestrate.remote_write import EXTRA, RemoteWrite
from ingestbench.records.config import ConfigError
from ingestbench.records.tls import TlsPlan, client_context

TIMEOUT_S = 5.0


class _TrustAdapter(HTTPAdapter):
    """Connections built with the run's TLS context; no retry (the next push is the retry)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=Retry(total=0, raise_on_status=False))

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


class Sender:
    """Sends remote-write time series (``{"metric": labels, "values": [...], "timestamps": [ms, ...]}``) to
    ``settings.url``; :meth:`send` returns the number of HTTP requests made and raises on any failure."""

    def __init__(self, settings: RemoteWrite, tls: TlsPlan):
        try:
            from prometheus_remote_writer import RemoteWriter
        except ImportError:
            raise ConfigError(f"remote-write: the remote-write client is not installed: {EXTRA}") from None
        self._session = Session()
        adapter = _TrustAdapter(client_context(tls))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        if not tls.verify:  # said once for the whole run (--insecure), not at every push
            disable_warnings(InsecureRequestWarning)
        self._writer = RemoteWriter(url=settings.url, auth=settings.auth(), session=self._session,
                                    timeout=TIMEOUT_S, verify=tls.verify, sort_labels=True,
                                    auto_convert_seconds_to_ms=False, user_agent="ingestbench")

    def send(self, items: list[dict[str, Any]]) -> int:
        return int(self._writer.send(items).requests_sent)

    def close(self) -> None:
        self._session.close()
