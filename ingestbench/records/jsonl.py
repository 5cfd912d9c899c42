"""JSON and JSON-lines files that cross process boundaries.

Writers append one object per line and flush; a reader takes complete lines only, so a line torn by a crash
(or still being written) is never parsed half-way. Whole files are replaced atomically (temp file + rename),
so a reader, or a crash, never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object written with :func:`write_json_atomic`; empty when the file is missing or not one."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def write_json_atomic(path: Path, doc: Any) -> None:
    """Replace ``path`` with ``doc`` as indented JSON, atomically."""
    _replace(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")


def write_jsonl_atomic(path: Path, records: Iterable[Any]) -> None:
    """Replace ``path`` with one JSON object per line, atomically."""
    _replace(path, b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically."""
    _replace(path, data)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
