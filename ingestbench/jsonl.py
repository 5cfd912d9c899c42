"""JSON-lines files that another process may still be appending to.

Writers here append one object per line and flush; a reader takes complete lines only, so a line torn by a
crash (or still being written) is never parsed half-way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


class LineTail:
    """The complete lines appended to ``path`` since the previous call (none while it does not exist)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0

    def read_lines(self) -> list[bytes]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        return [line for line in data[: end + 1].splitlines() if line.strip()]

    def read_objects(self) -> list[dict[str, Any]]:
        return parse_objects(self.read_lines())


def parse_objects(lines: list[bytes]) -> list[dict[str, Any]]:
    """The JSON objects among ``lines``; anything unreadable is skipped."""
    out = []
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete, readable object of a JSON-lines file (a torn last line is skipped)."""
    return LineTail(path).read_objects()
