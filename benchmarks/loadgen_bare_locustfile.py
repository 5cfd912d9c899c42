"""Baseline generator for the loadgen benchmark: a bare FastHttpUser posting one fixed event, no pacing."""

from __future__ import annotations

import orjson
from locust import FastHttpUser, constant, task

from loadgen.events import EventFactory

BODY = orjson.dumps(EventFactory(seed=1).next_event())
HEADERS = {"Content-Type": "application/json"}


class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def post(self) -> None:
        self.client.post("/event/ingest?locationEnrichment=false", data=BODY, headers=HEADERS)  # type: ignore[arg-type]
