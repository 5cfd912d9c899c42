"""A traffic shape replayed as load: a file of per-second rates, such as a monitoring system exports, read into
ordinary flat load steps (so a plan, and a remote worker, carries steps and never the file).

CSV with the header ``second,events_per_s``, or JSON lines of ``{"second": .., "events_per_s": ..}``
(``.jsonl``/``.ndjson``). Each row's rate holds from its second until the next row's second (a step function,
the way such rates are sampled); the last row lasts as long as the interval before it. The seconds are
shifted so the first row starts at 0 (an export's timestamps work as they are) and divided by the
compression (``replay_compress``: 144 plays a day in 10 minutes; rates are never changed).

Every fault is one line naming the file and the line: an unreadable file, a missing or extra column, a value
that is not a number, a negative rate, seconds that do not strictly increase, fewer than 2 or more than
:data:`MAX_ROWS` rows, and a step shorter than :data:`MIN_STEP_S` once compressed and time-scaled.

>>> import tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "shape.csv"
>>> _ = f.write_text("second,events_per_s\\n3600,150\\n4500,900\\n5400,300\\n")
>>> [(s.rate_eps, s.duration_s) for s in read_shape(f, compress=90)]
[(150.0, 10.0), (900.0, 10.0), (300.0, 10.0)]
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.records.load import LARGEST, LoadStep

COLUMNS = ("second", "events_per_s")
MAX_ROWS = 10_000  # a day at 15 s resolution is 5,760: past this a step check of each row means nothing
MIN_STEP_S = 1.0  # a step shorter than a second has no second of its own in the rate timeline
LARGEST_SECOND = 1e11  # an export's unix timestamps (shifted to start at 0) are welcome
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Row:
    line: int
    second: float
    events_per_s: float


def _value(where: str, key: str, raw: Any, largest: float = LARGEST) -> float:
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: {key} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or abs(value) > largest:
        raise ConfigError(f"{where}: {key} must be a finite number up to {largest:g}, got {raw!r}")
    return value


def _row(where: str, line: int, doc: dict[str, Any]) -> Row:
    missing = [c for c in COLUMNS if c not in doc]
    extra = sorted(set(doc) - set(COLUMNS))
    if missing or extra:
        what = f"missing column {missing[0]}" if missing else f"extra column {extra[0]}"
        raise ConfigError(f"{where}: {what} (the columns are {', '.join(COLUMNS)})")
    rate = _value(where, "events_per_s", doc["events_per_s"])
    if rate < 0:
        raise ConfigError(f"{where}: events_per_s must be >= 0, got {doc['events_per_s']!r}")
    return Row(line, _value(where, "second", doc["second"], LARGEST_SECOND), rate)


def _csv_rows(name: str, text: str) -> list[Row]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{name}: empty file (a header second,events_per_s and a row per rate change)")
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise ConfigError(f"{name}:1: a column is named twice in the header {','.join(header)}")
    rows = []
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        where = f"{name}:{line}"
        if len(cells) != len(header):
            raise ConfigError(f"{where}: {len(cells)} values for the {len(header)} columns of the header")
        rows.append(_row(where, line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
        if len(rows) > MAX_ROWS:
            raise ConfigError(f"{where}: more than {MAX_ROWS} rows; sample the shape more coarsely")
    return rows


def _jsonl_rows(name: str, text: str) -> list[Row]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{name}:{line}"
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not a JSON object ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: not a JSON object like {{\"second\": 0, \"events_per_s\": 150}}")
        rows.append(_row(where, line, doc))
        if len(rows) > MAX_ROWS:
            raise ConfigError(f"{where}: more than {MAX_ROWS} rows; sample the shape more coarsely")
    return rows


def read_rows(path: Path, *, name: str | None = None) -> list[Row]:
    """The rows of a shape file, checked one by one and in order (seconds strictly increasing)."""
    name = name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the replay file ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc})") from None
    rows = _jsonl_rows(name, text) if path.suffix.lower() in JSONL_SUFFIXES else _csv_rows(name, text)
    if len(rows) < 2:
        raise ConfigError(f"{name}: {len(rows)} row(s); a shape needs at least 2 (the last row lasts as long as "
                          "the interval before it)")
    for before, row in itertools.pairwise(rows):
        if not row.second > before.second:
            raise ConfigError(f"{name}:{row.line}: second {row.second:g} does not follow second "
                              f"{before.second:g} (line {before.line}): seconds must strictly increase")
    return rows


def read_shape(path: Path, *, compress: float = 1.0, time_scale: float = 1.0,
               name: str | None = None) -> tuple[LoadStep, ...]:
    """The shape in ``path`` as flat load steps, seconds divided by ``compress``; each step must last at least
    :data:`MIN_STEP_S` once multiplied by ``time_scale`` (the run's)."""
    name = name or str(path)
    rows = read_rows(path, name=name)
    seconds = [r.second for r in rows] + [2 * rows[-1].second - rows[-2].second]
    steps = []
    for i, row in enumerate(rows):
        duration = (seconds[i + 1] - seconds[i]) / compress
        if duration * time_scale < MIN_STEP_S - 1e-9:
            shortest = min(b - a for a, b in itertools.pairwise(seconds))
            raise ConfigError(
                f"{name}:{row.line}: the step from second {row.second:g} lasts {duration * time_scale:g} s at "
                f"compression {compress:g} and time scale {time_scale:g}, under {MIN_STEP_S:g} s: compress "
                f"less (at most {shortest * time_scale / MIN_STEP_S:g})")
        steps.append(LoadStep(rate_eps=row.events_per_s, duration_s=duration))
    return tuple(steps)


def replay_summary(replay: str, steps: tuple[LoadStep, ...], compress: float) -> str:
    """``replay of shapes/day.csv (compressed 144x): 97 steps, 150..6000 events/s``: one line for a listing."""
    rates = [s.rate_eps for s in steps]
    squeeze = f" (compressed {compress:g}x)" if compress != 1 else ""
    return (f"replay of {replay}{squeeze}: {len(steps)} steps, {min(rates):g}..{max(rates):g} events/s")
