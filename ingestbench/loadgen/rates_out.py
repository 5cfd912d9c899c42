"""The rate-timeline file: JSON lines, one per second and one per step (format in :mod:`ingestbench.loadgen.timeline`).

Every line is flushed as soon as it is written, so a crash loses at most the line being written.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson
from hdrh.histogram import HdrHistogram


class RatesWriter:
    """A :class:`ingestbench.loadgen.timeline.TimelineSink` appending JSON lines to ``path`` (parents created)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] | None = self.path.open("wb")

    def second(self, row: dict[str, Any], lag_us: HdrHistogram) -> None:
        self._write(row)

    def step(self, row: dict[str, Any]) -> None:
        self._write(row)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _write(self, row: dict[str, Any]) -> None:
        if self._fh is None:
            raise ValueError(f"rates file {self.path} is closed")
        self._fh.write(orjson.dumps(row) + b"\n")
        self._fh.flush()


def read_rates(path: str | Path) -> list[dict[str, Any]]:
    """All lines of a rates file (for tests and reports)."""
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
