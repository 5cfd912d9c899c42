"""A tiny blocking HTTP client over one keep-alive connection, for tests against loopback servers."""

from __future__ import annotations

import http.client
import json
import socket
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


def raw_request(url: str, method: str, path: str, body: bytes, headers: dict[str, str],
                timeout_s: float = 10.0) -> tuple[int, bytes]:
    """One request written byte for byte on its own connection, header values as given (control characters
    too, which http.client refuses to send): the status and the body of the answer."""
    parts = urlsplit(url)
    head = f"{method} {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Length: {len(body)}\r\n" \
           "Connection: close\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout_s) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith((b"HTTP/1.0 ", b"HTTP/1.1 ")), answer[:200]
    return int(status_line.split(b" ", 2)[1]), rest.partition(b"\r\n\r\n")[2]
