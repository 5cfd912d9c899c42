"""Peer generator for ``benchmarks/peers.py``: Locust's own pacing, ``FastHttpUser`` + ``constant_throughput``.

Environment (a benchmark edge): ``PEER_BODY_FILE`` (the request body), ``PEER_PATH``, ``PEER_RATE_RPS`` (total
requests/s asked for) and ``PEER_USERS``; each user is paced at ``PEER_RATE_RPS / PEER_USERS`` tasks/s.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

BODY = Path(os.environ["PEER_BODY_FILE"]).read_bytes()
PATH = os.environ.get("PEER_PATH", "/event/ingest")
PER_USER_RPS = float(os.environ["PEER_RATE_RPS"]) / int(os.environ["PEER_USERS"])
HEADERS = {"Content-Type": "application/json"}


class ConstantThroughputUser(FastHttpUser):
    wait_time = constant_throughput(PER_USER_RPS)

    @task
    def post(self) -> None:
        self.client.post(PATH, data=BODY, headers=HEADERS)  # type: ignore[arg-type]
