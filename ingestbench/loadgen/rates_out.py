"""The rate-timeline file's writer: JSON lines, one per second and one per step, each the ``to_dict`` of a
:mod:`ingestbench.records.timeline` row (which reads them back: :func:`~ingestbench.records.timeline.read_timeline`).

Every line is flushed as soon as it is written, so a crash loses at most the line being written.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson
from hdrh.histogram import HdrHistogram


class RatesWriter:
    """A :class:`ingestbench.loadgen.merger.TimelineSink` appending JSON lines to ``path`` (parents created)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] | None = self.path.open("wb")

    def second(self, row: dict[str, Any], lag_us: HdrHistogram) -> None:
        self._write(row)

    def step(self, row: dict[str, Any]) -> None:
        self._write(row)

    def generator(self, row: dict[str, Any]) -> None:
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
