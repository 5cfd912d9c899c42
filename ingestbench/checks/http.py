"""Running a target's sans-IO requests with aiohttp: the probe's one HTTP executor."""

from __future__ import annotations

import aiohttp

from ingestbench.records.tls import TlsPlan, client_context
from ingestbench.targets.base import HttpRequest


def client_session(tls: TlsPlan) -> aiohttp.ClientSession:
    """The probe's session: every https request (canaries, reader, profiles, Prometheus) trusts servers as
    ``tls`` says (verified by default)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(tls)))


async def execute(
    session: aiohttp.ClientSession, req: HttpRequest, timeout_s: float
) -> tuple[int, dict[str, str], bytes]:
    """Run a sans-IO request; returns ``(status, headers, body)``."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with session.request(req.method, req.url, headers=dict(req.headers), data=req.body,
                               timeout=timeout) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
