"""A tiny blocking HTTP client over one keep-alive connection, for tests against loopback servers."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class Client:
    def __init__(self, url: str, timeout_s: float = 10.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                resp = self._conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post_json(self, path: str, doc: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, body = self.request("POST", path, json.dumps(doc).encode(),
                                    {"Content-Type": "application/json", **(headers or {})})
        return status, (json.loads(body) if body else None)

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self.request("GET", path)
        return status, (json.loads(body) if body else None)

    def stats(self) -> dict[str, int]:
        status, doc = self.get_json("/internal/stats")
        assert status == 200, doc
        return doc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
