"""Baseline generator for the loadgen benchmark: a bare FastHttpUser posting one fixed body, no pacing.

``LOADGEN_BENCH_BATCH`` (read here, a benchmark edge) picks the body: 1 = one event to the single endpoint
(default), N = a batch of N events to the batch endpoint, serialised once.
"""

from __future__ import annotations

import os

import orjson
from locust import FastHttpUser, constant, task

from ingestbench.loadgen.events import EventFactory

BATCH = int(os.environ.get("LOADGEN_BENCH_BATCH", "1"))
_EVENTS = EventFactory(seed=1).batch(BATCH)
BODY = orjson.dumps(_EVENTS[0]) if BATCH == 1 else orjson.dumps({"events": _EVENTS})
PATH = "/event/ingest" if BATCH == 1 else "/event/ingest/batch"  # the paths PipelineTarget sends to
HEADERS = {"Content-Type": "application/json"}


class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def post(self) -> None:
        self.client.post(PATH, data=BODY, headers=HEADERS)  # type: ignore[arg-type]
