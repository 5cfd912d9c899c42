"""The generator's lean HTTP/1.1 client against real servers on loopback: framing, keep-alive, failures."""

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from aiohttp import web

from ingestbench.loadgen.wire import ConnectionClosed, HttpConnection, LazyHeaders
from ingestbench.orchestrate.net import free_port
from tests.loadgen.locust_run import serve

pytestmark = pytest.mark.server
JSON = {"Content-Type": "application/json"}


async def _echo(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    path = request.path.removeprefix("/base")
    if path == "/no-content":
        return web.Response(status=204)
    if path == "/chunked":
        resp = web.StreamResponse(status=200)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"ab", b"", b"cdef" * 1000):
            if part:
                await resp.write(part)
        await resp.write_eof()
        return resp
    if path == "/throttle":
        return web.Response(status=429, headers={"Retry-After": "2"}, text="slow down")
    if path == "/close":
        return web.Response(status=200, body=b"bye", headers={"Connection": "close"})
    seen = f"{request.method} {request.path_qs} {request.headers.get('Content-Type')} " \
           f"{request.headers.get('Host')} {len(body)}"
    return web.Response(status=200, text=seen)


def test_requests_share_one_connection_and_are_framed_right():
    with serve(_echo) as url:
        conn = HttpConnection(url + "/base/")
        r1 = conn.request("POST", "/event/ingest", JSON, b"x" * 420, now_s=0.0)
        sock = conn._sock
        r2 = conn.request("POST", "/no-content", JSON, b"{}", now_s=0.1)
        r3 = conn.request("POST", "/chunked", JSON, b"", now_s=0.2)
        r4 = conn.request("POST", "/event/ingest?x=1", JSON, b"y" * 100_000, now_s=0.3)
        assert conn._sock is sock  # keep-alive: every request on the same socket
        conn.close()
    host = url.removeprefix("http://")
    assert (r1.status, r1.body) == (200, f"POST /base/event/ingest application/json {host} 420".encode())
    assert (r2.status, r2.body) == (204, b"")
    assert (r3.status, r3.body) == (200, b"ab" + b"cdef" * 1000)
    assert r4.body.endswith(b" 100000")


def test_lazy_headers_and_connection_close():
    with serve(_echo) as url:
        conn = HttpConnection(url)
        throttled = conn.request("POST", "/throttle", JSON, b"{}", now_s=0.0)
        closing = conn.request("POST", "/close", JSON, b"{}", now_s=0.0)
        assert conn._sock is None  # the server said close: a new connection next time
        again = conn.request("POST", "/no-content", JSON, b"{}", now_s=0.0)
        conn.close()
    assert throttled.status == 429 and throttled.headers["Retry-After"] == "2" and throttled.body == b"slow down"
    assert closing.body == b"bye" and again.status == 204
    assert dict(LazyHeaders(b"HTTP/1.1 200 OK\r\nA: 1\r\nb:2")) == {"A": "1", "b": "2"}


def _raw_server(script):
    """A one-thread TCP server on loopback running ``script(conn)`` per accepted connection (at most 4)."""
    port = free_port()
    srv = socket.create_server(("127.0.0.1", port))
    srv.settimeout(10)

    def run():
        with srv:
            for _ in range(4):
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    script(conn)

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{port}", srv


def _answer_then_close(conn):
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    time.sleep(0.05)  # then the keep-alive timeout runs out and the server closes


def test_a_connection_the_server_closed_while_idle_is_retried_once():
    url, srv = _raw_server(_answer_then_close)
    conn = HttpConnection(url)
    assert conn.request("POST", "/", JSON, b"{}", now_s=0.0).status == 204
    time.sleep(0.2)
    assert conn.request("POST", "/", JSON, b"{}", now_s=5.0).status == 204  # idle 5 s: sent again on a new one
    time.sleep(0.2)
    with pytest.raises(ConnectionClosed):  # busy connection (idle 0.1 s): a close is a failure to count
        conn.request("POST", "/", JSON, b"{}", now_s=5.1)
    conn.close()
    srv.close()


def test_refused_and_garbage_are_errors():
    conn = HttpConnection(f"http://127.0.0.1:{free_port()}", connect_timeout_s=1)
    with pytest.raises(ConnectionRefusedError):
        conn.request("POST", "/", JSON, b"{}", now_s=0.0)

    def garbage(c):
        c.recv(65536)
        c.sendall(b"SSH-2.0-nope\r\n\r\n")

    url, srv = _raw_server(garbage)
    with pytest.raises(ConnectionError, match="not an HTTP/1"):
        HttpConnection(url).request("POST", "/", JSON, b"{}", now_s=0.0)
    srv.close()
    with pytest.raises(ValueError):
        HttpConnection("ftp://example")


def test_https_without_certificate_verification(tmp_path):
    """Like Locust's FastHttpUser default: a staging host's self-signed certificate is accepted."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl; CI installs it)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app, access_log=None)

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        conn = HttpConnection(f"https://127.0.0.1:{port}")
        assert conn.request("POST", "/no-content", JSON, b"{}", now_s=0.0).status == 204
        assert conn.request("POST", "/chunked", JSON, b"", now_s=0.1).body.startswith(b"abcdef")
        conn.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
