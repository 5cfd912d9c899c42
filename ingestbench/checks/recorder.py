"""``samples.jsonl``: one JSON object per decided observation, appended and flushed as it is decided.

A killed run leaves a readable file: :func:`ingestbench.records.observation.load_samples` skips a torn last line. The
file holds facts only and is the source of truth for judging a run again later (``checks.judge.judge_run``):
tiers and windows are not in it, the judge places every canary on the complete rate timeline each time.

Each line is :meth:`Observation.to_record`: ``canary_id, path, outcome, sent_ns, sent_unix_ms, acked_ns,
seen_ns, last_miss_ns, prior_poll_ns, duplicates, error``: the raw monotonic ``*_ns`` times the probe
measured (TTA and its bounds are differences of them) and the wall-clock send time. About 270 bytes a line,
so a million canaries judge in about a second.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType
from typing import IO

import orjson

from ingestbench.records.observation import Observation

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"


class SamplesWriter:
    """Appends observations to a JSON-lines file, flushing (and optionally fsyncing) each line."""

    def __init__(self, path: str | Path, *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._fh: IO[bytes] | None = self.path.open("ab")
        self.written = 0

    def write(self, obs: Observation) -> None:
        if self._fh is None:
            raise ValueError(f"{self.path} is closed")
        self._fh.write(orjson.dumps(obs.to_record()) + b"\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())
        self.written += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> SamplesWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
