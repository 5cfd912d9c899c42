"""``--connect``: a preflight that goes one step past ``--check`` without any load. One authenticated write of one
canary, looked up until it is visible; one profile written and read back. Each step is timed, and a failure
says what failed in a user's words: a rejected key as such ("write key rejected by HOST: 401"), a host that
cannot be reached as such, a canary not visible within the wait as such.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from ingestbench.checks.canary import CANARY_ID, CANARY_SENT_MS, CanaryFactory, EventSource, Uuid7
from ingestbench.checks.http import client_session, describe, execute
from ingestbench.records.tls import TlsPlan
from ingestbench.targets.base import HttpRequest, TargetError
from ingestbench.targets.contract import ProfileStore, TokenAuth, Writer
from ingestbench.targets.roles import Roles

REJECTED = (401, 403)


@dataclass(frozen=True)
class Step:
    what: str  # "write", "read back", "profile"
    ok: bool
    seconds: float | None
    detail: str

    def line(self) -> str:
        took = f" in {self.seconds:.3f} s" if self.seconds is not None else ""
        return f"{'ok' if self.ok else 'FAILED'}: {self.what}{took}: {self.detail}"


def host_of(req: HttpRequest) -> str:
    return urlsplit(req.url).netloc


async def connect(roles: Roles, tls: TlsPlan, events: EventSource, *, wait_s: float, poll_s: float,
                  timeout_s: float) -> list[Step]:
    """The steps, in order; a failed write ends them (nothing to read back)."""
    rng = random.Random()
    canary_id, event = CanaryFactory(events, seed=rng.getrandbits(32)).make(int(time.time() * 1000))
    steps: list[Step] = []
    async with client_session(tls) as session:
        steps.append(await _send(session, roles.writer.ingest([event]), "write", "write key", roles.writer,
                                 timeout_s, f"canary {canary_id} accepted"))
        if not steps[-1].ok:
            return steps
        if roles.reader is not None:
            steps.append(await _read_back(session, roles, canary_id, wait_s=wait_s, poll_s=poll_s,
                                          timeout_s=timeout_s))
        if roles.profiles is not None:
            user = f"ingestbench-connect-{rng.getrandbits(32):08x}"
            profile_id = Uuid7(seed=rng.getrandbits(32)).new(int(time.time() * 1000))
            store = roles.profiles
            req = store.write_profile(user, {CANARY_ID: profile_id, CANARY_SENT_MS: int(time.time() * 1000)})
            written = await _send(session, req, "profile write", "write key", store, timeout_s, f"user {user}")
            steps.append(written)
            if written.ok:
                steps.append(await _profile_back(session, roles, user, profile_id, wait_s=wait_s, poll_s=poll_s,
                                                 timeout_s=timeout_s))
    return steps


async def _send(session: aiohttp.ClientSession, req: HttpRequest, what: str, key: str, target: Writer | ProfileStore,
                timeout_s: float, ok_detail: str) -> Step:
    started = time.monotonic()
    try:
        status, headers, body = await execute(session, req, timeout_s)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Step(what, False, None, f"{host_of(req)} cannot be reached: {describe(exc)}")
    took = time.monotonic() - started
    result = target.parse_ingest(status, headers, body)
    if result.ok:
        return Step(what, True, took, ok_detail)
    if status in REJECTED:
        return Step(what, False, took, f"{key} rejected by {host_of(req)}: {status}")
    return Step(what, False, took, f"{host_of(req)} answered {result.kind}: HTTP {status}")


async def _read_back(session: aiohttp.ClientSession, roles: Roles, canary_id: str, *, wait_s: float,
                     poll_s: float, timeout_s: float) -> Step:
    reader = roles.reader
    assert reader is not None
    started = time.monotonic()
    last = "no answer yet"
    while time.monotonic() - started <= wait_s:
        req = reader.query_canaries([canary_id])
        try:
            if isinstance(reader, TokenAuth) and (token := reader.token_request()) is not None:
                status, _, body = await execute(session, token, timeout_s)
                if status in REJECTED:
                    return Step("read back", False, None, f"read credentials rejected by {host_of(token)}: {status}")
                reader.take_token(status, body)
            status, _, body = await execute(session, req, timeout_s)
            if status in REJECTED:
                return Step("read back", False, None, f"read key rejected by {host_of(req)}: {status}")
            if any(r.canary_id == canary_id for r in reader.parse_query(status, body)):
                took = time.monotonic() - started
                return Step("read back", True, took, f"canary visible through {roles.reader_kind}")
            last = "not visible yet"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Step("read back", False, None, f"{host_of(req)} cannot be reached: {describe(exc)}")
        except (TargetError, ValueError) as exc:
            last = describe(exc)
        await asyncio.sleep(poll_s)
    return Step("read back", False, None, f"canary not visible within {wait_s:g} s ({last})")


async def _profile_back(session: aiohttp.ClientSession, roles: Roles, user: str, profile_id: str, *,
                        wait_s: float, poll_s: float, timeout_s: float) -> Step:
    store = roles.profiles
    assert store is not None
    started = time.monotonic()
    while time.monotonic() - started <= wait_s:
        req = store.read_profile(user)
        try:
            status, _, body = await execute(session, req, timeout_s)
            if status in REJECTED:
                return Step("profile read", False, None, f"read key rejected by {host_of(req)}: {status}")
            profile = store.parse_profile(status, body)
            if profile.found and profile.properties.get(CANARY_ID) == profile_id:
                return Step("profile read", True, time.monotonic() - started, "profile read back")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Step("profile read", False, None, f"{host_of(req)} cannot be reached: {describe(exc)}")
        except TargetError:
            pass
        await asyncio.sleep(poll_s)
    return Step("profile read", False, None, f"profile not read back within {wait_s:g} s")
