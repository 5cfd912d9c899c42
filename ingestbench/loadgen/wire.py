"""A lean HTTP/1.1 keep-alive connection on a gevent socket: the generator's request path.

A paced single-event request used to spend most of its generator CPU in the general-purpose client stack
(URL parsing, header objects, a cookie jar, a timeout object and a connection pool per request). A load
generator sends the same few request shapes over and over, so here the request head (request line and
headers) is built once per ``(method, path, headers)``; a request is that head, its ``Content-Length`` and
the body, written with one ``sendall``. The response parser reads the status line and finds the framing
headers (``Content-Length``, ``Transfer-Encoding: chunked``, ``Connection: close``) in the header block;
other headers are parsed only when someone reads them (:class:`LazyHeaders`: a 429's ``Retry-After``).

A request on a connection that sat idle for more than ``STALE_AFTER_S`` and that the server closed before
answering with a single byte (its keep-alive timeout ran out) is sent once more on a new connection; any
other failure is the caller's to count::

    conn = HttpConnection("http://127.0.0.1:8080", connect_timeout_s=5, timeout_s=10)
    status, headers, body = conn.request("POST", "/event/ingest", {"Content-Type": "application/json"},
                                         b"{...}", now_s=time.monotonic())
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from gevent import socket as gsocket
from gevent import ssl as gssl

from ingestbench.records.tls import TlsPlan, client_context

STALE_AFTER_S = 1.0
VERIFIED = TlsPlan()  # certificates and host names checked against the system CAs
RECV_BYTES = 65536
_NO_BODY = frozenset((204, 304))


class ConnectionClosed(ConnectionError):
    """The server closed (or reset) the connection before the response was complete; ``nothing_read`` when
    not one byte of the response had arrived."""

    def __init__(self, message: str, *, nothing_read: bool):
        super().__init__(message)
        self.nothing_read = nothing_read


class BadResponse(ConnectionError):
    """The bytes that came back are not an HTTP/1.x response."""


class Response(NamedTuple):
    """Status, headers (parsed on first use) and body of one response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class LazyHeaders(Mapping[str, str]):
    """Response headers from the raw header block, parsed into a dict only when first read.

    Names keep the server's spelling; a repeated header keeps its last value. A 2xx answer to an ingest is
    never looked at, so most responses never pay for this.
    """

    __slots__ = ("_block", "_parsed")

    def __init__(self, block: bytes):
        self._block = block
        self._parsed: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._parsed is None:
            parsed: dict[str, str] = {}
            for line in self._block.decode("latin-1").split("\r\n")[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    parsed[name.strip()] = value.strip()
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, key: str) -> str:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())


class HttpConnection:
    """One keep-alive connection to ``base_url`` (``http`` or ``https``; a path in it prefixes every request).

    HTTPS verifies the server's certificate and host name (against the system CAs, plus ``tls.ca_file``)
    before the first byte of a request is written, so a write key in the headers only ever goes to a server
    that proved who it is; ``TlsPlan(verify=False)`` (``--insecure``) turns that off.
    """

    def __init__(self, base_url: str, *, connect_timeout_s: float = 5.0, timeout_s: float = 10.0,
                 tls: TlsPlan = VERIFIED):
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self._tls: Any = _context(tls) if url.scheme == "https" else None
        self._host_header = url.netloc.rpartition("@")[2]
        self._prefix = url.path.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._sock: Any = None
        self._buf = b""
        self._last_used_s = 0.0
        self._heads: dict[tuple[str, str, int], tuple[Mapping[str, str], bytes]] = {}

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buf = b""

    def head(self, method: str, path: str, headers: Mapping[str, str]) -> bytes:
        """The request line and headers up to ``Content-Length``, built once per shape.

        Keyed by the headers object's identity (targets hand out one long-lived mapping); the cache keeps a
        reference to it, so an id is never reused for another mapping while cached.
        """
        key = (method, path, id(headers))
        cached = self._heads.get(key)
        if cached is not None and cached[0] is headers:
            return cached[1]
        lines = [f"{method} {self._prefix}{path} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._heads[key] = (headers, head)
        return head

    def request(self, method: str, path: str, headers: Mapping[str, str], body: bytes, *,
                now_s: float) -> Response:
        """Send one request and read its response; raises ``OSError`` (timeouts included) on failure."""
        data = b"%b%d\r\n\r\n%b" % (self.head(method, path, headers), len(body), body)
        reused = self._sock is not None
        stale = reused and now_s - self._last_used_s > STALE_AFTER_S
        head_only = method == "HEAD"
        try:
            try:
                response = self._exchange(data, head_only=head_only)
            except ConnectionClosed as exc:
                if not (stale and exc.nothing_read):
                    raise
                self.close()  # the server had closed it while idle: one more try on a new connection
                response = self._exchange(data, head_only=head_only)
        except BaseException:
            self.close()
            raise
        self._last_used_s = now_s
        return response

    def _exchange(self, data: bytes, *, head_only: bool) -> Response:
        sock = self._sock if self._sock is not None else self._connect()
        try:
            sent = sock.send(data)  # one syscall for a request that fits the socket buffer (sendall asks the
            if sent < len(data):  # kernel for the buffer size first, on every call)
                sock.sendall(memoryview(data)[sent:])
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ConnectionClosed(f"connection closed while sending: {exc}", nothing_read=True) from exc
        return self._read_response(sock, head_only=head_only)

    def _connect(self) -> Any:
        sock = gsocket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        sock.settimeout(self.timeout_s)
        self._sock, self._buf = sock, b""
        return sock

    def _recv(self, sock: Any, buf: bytes) -> bytes:
        try:
            chunk: bytes = sock.recv(RECV_BYTES)
        except ConnectionResetError as exc:
            raise ConnectionClosed(f"connection reset: {exc}", nothing_read=not buf) from exc
        if not chunk:
            raise ConnectionClosed("connection closed by the server before the response was complete",
                                   nothing_read=not buf)
        return buf + chunk if buf else chunk

    def _read_response(self, sock: Any, *, head_only: bool) -> Response:
        buf = self._buf
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                buf = self._recv(sock, buf)
                end = buf.find(b"\r\n\r\n")
            block, buf = buf[:end], buf[end + 4:]
            if not block.startswith(b"HTTP/1.") or len(block) < 12 or not block[9:12].isdigit():
                raise BadResponse(f"not an HTTP/1.x response: {block[:40]!r}")
            status = int(block[9:12])
            if status >= 200:
                break
            # 1xx informational: its header block is followed by the real response
        lower = block.lower()
        if head_only or status in _NO_BODY:
            body = b""
        elif b"\ntransfer-encoding:" in lower and b"chunked" in _header(lower, b"\ntransfer-encoding:"):
            body, buf = self._read_chunked(sock, buf)
        else:
            length_value = _header(lower, b"\ncontent-length:")
            if length_value:
                length = int(length_value)
                while len(buf) < length:
                    buf = self._recv(sock, buf)
                body, buf = buf[:length], buf[length:]
            else:  # no framing: the body runs until the server closes
                body, buf = self._read_to_close(sock, buf), b""
                lower += b"\nconnection: close"
        if _header(lower, b"\nconnection:") == b"close" or (lower.startswith(b"http/1.0")
                                                            and b"keep-alive" not in lower):
            self.close()
        else:
            self._buf = buf
        return Response(status, LazyHeaders(block), body)

    def _read_chunked(self, sock: Any, buf: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            line_end = buf.find(b"\r\n")
            while line_end < 0:
                buf = self._recv(sock, buf)
                line_end = buf.find(b"\r\n")
            size = int(buf[:line_end].split(b";", 1)[0], 16)
            buf = buf[line_end + 2:]
            if size == 0:  # the last chunk, then optional trailers and an empty line
                while True:
                    if buf.startswith(b"\r\n"):
                        return b"".join(parts), buf[2:]
                    end = buf.find(b"\r\n\r\n")
                    if end >= 0:
                        return b"".join(parts), buf[end + 4:]
                    buf = self._recv(sock, buf)
            while len(buf) < size + 2:
                buf = self._recv(sock, buf)
            parts.append(buf[:size])
            buf = buf[size + 2:]

    def _read_to_close(self, sock: Any, buf: bytes) -> bytes:
        parts = [buf]
        while True:
            chunk = sock.recv(RECV_BYTES)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)


@functools.lru_cache(maxsize=4)
def _context(tls: TlsPlan) -> Any:
    """One gevent TLS context per setting, shared by every connection (loading the trust store is not free)."""
    return client_context(tls, gssl.create_default_context)


def _header(lower_block: bytes, name: bytes) -> bytes:
    """The (lower-cased, stripped) value of header ``name`` (given as ``b"\\nname:"``), b"" if absent."""
    start = lower_block.find(name)
    if start < 0:
        return b""
    start += len(name)
    end = lower_block.find(b"\r", start)
    return lower_block[start:end if end >= 0 else len(lower_block)].strip()
