"""More pending canaries than one query may carry: the reader splits them, every canary is decided."""

import asyncio

import aiohttp
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingestbench.checks.analytical import CanaryReader, CanaryWriter
from ingestbench.checks.canary import CanaryFactory
from ingestbench.checks.clock import SystemClock
from ingestbench.checks.comparator import Comparator
from ingestbench.loadgen.events import EventFactory
from ingestbench.targets.contract import Limits
from ingestbench.targets.pipeline import PipelineTarget


class CappedTarget(PipelineTarget):
    limits = Limits(max_query_ids=3)


async def _run() -> tuple[list[int], list[str]]:
    sizes: list[int] = []

    async def query(request: web.Request) -> web.Response:
        ids = orjson.loads(await request.read())["canary_ids"]
        sizes.append(len(ids))
        if len(ids) > 3:
            return web.json_response({"error": "too many"}, status=413)
        return web.json_response({"rows": [{"canary_id": i} for i in ids]})

    app = web.Application()
    app.router.add_post("/query", query)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    clock = SystemClock()
    cmp = Comparator(path="analytical", lost_after_s=60)
    for i in range(8):
        cmp.sent(f"c{i}", sent_ns=clock.monotonic_ns(), sent_unix_ms=clock.unix_ms())
    decided: list[str] = []
    async with aiohttp.ClientSession() as session:
        reader = CanaryReader(target=CappedTarget(str(server.make_url("/"))), session=session, comparator=cmp,
                        clock=clock, sink=lambda o: decided.append(o.canary_id))
        await reader.poll_once()
    await server.close()
    return sizes, decided


def test_pending_beyond_the_cap_is_split_over_queries():
    sizes, decided = asyncio.run(_run())
    assert sizes == [3, 3, 2]
    assert sorted(decided) == [f"c{i}" for i in range(8)]


async def _write(batch_size: int) -> list[tuple[str, int]]:
    """Where the writer's requests went and how many events each carried."""
    seen: list[tuple[str, int]] = []

    async def ingest(request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        seen.append((request.path, len(doc["events"]) if "events" in doc else 1))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/event/ingest", ingest)
    app.router.add_post("/event/ingest/batch", ingest)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    clock = SystemClock()
    cmp = Comparator(path="analytical", lost_after_s=60)
    async with aiohttp.ClientSession() as session:
        writer = CanaryWriter(target=PipelineTarget(str(server.make_url("/"))), session=session, comparator=cmp,
                              canaries=CanaryFactory(EventFactory(seed=1), seed=1), clock=clock, sink=lambda o: None,
                              batch_size=batch_size)
        for _ in range(3):
            await writer.send_one()
    await server.close()
    assert cmp.pending_count == 3 and writer.sent == 3
    return seen


def test_canaries_ride_the_loads_endpoint_and_batch_size():
    assert asyncio.run(_write(10)) == [("/event/ingest/batch", 10)] * 3
    assert asyncio.run(_write(1)) == [("/event/ingest", 1)] * 3
