"""``samples.jsonl`` as columns: one numpy array per fact, one entry per canary, whatever the run's size.

Judging a run must cost about what reading its file costs and must not hold a Python object per canary, so
the file is parsed in chunks (``polars``' NDJSON reader, a few MiB at a time) straight into arrays. A chunk
that does not parse as a whole (a line torn by a crash) is read line by line instead, skipping what is not
an observation, as :func:`ingestbench.records.observation.load_samples` does. Missing integers are ``NULL``.

Canary ids are kept as a 64-bit hash (enough to tell a canary's ``lost`` record from its ``late`` one); the
ids themselves are read only when asked (``with_ids``), for ``judged.jsonl``. An errored canary's error is a
code into a table of the distinct error texts (the first ``MAX_ERROR_NAMES``; later new ones share the last
entry), so a run with a million refused canaries still says what they were refused for and when.

Once a run is judged, its columns are kept beside the file (:mod:`ingestbench.records.samples_cache`).

>>> from ingestbench.records.observation import Observation
>>> cols = SampleColumns.from_observations([Observation("c1", "analytical", "available", sent_ns=0,
...     sent_unix_ms=5, seen_ns=2_000_000_000, last_miss_ns=1_000_000_000)])
>>> float(cols.tta_s()[0]), int(cols.outcome[0]) == OUTCOME_CODE["available"]
(1.5, True)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from ingestbench.records.observation import AVAILABLE, ERRORED, LATE, OUTCOMES, PATHS, UNDECIDED, Observation

NULL = np.iinfo(np.int64).min
OUTCOME_CODE = {name: i for i, name in enumerate(OUTCOMES)}
PATH_CODE = {name: i for i, name in enumerate(PATHS)}
CHUNK_BYTES = 8 << 20
BLOCK = 1 << 17  # rows per block of a vectorised computation
ARRAYS = ("id_hash", "path", "outcome", "sent_ns", "sent_unix_ms", "seen_ns", "last_miss_ns", "prior_poll_ns",
          "duplicates", "error_code")  # the columns, one numpy array each
MAX_ERROR_NAMES = 64
OTHER_ERRORS = "other errors"
NO_ERROR = -1
_NS_PER_S = 1e9
_INTS = ("sent_ns", "sent_unix_ms", "seen_ns", "last_miss_ns", "prior_poll_ns")  # the ack does not judge
_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "canary_id": pl.String, "path": pl.Enum(list(PATHS)), "outcome": pl.Enum(list(OUTCOMES)),
    **{k: pl.Int64 for k in _INTS}, "duplicates": pl.Int64, "error": pl.String}


def _empty(dtype: type) -> np.ndarray:
    return np.empty(0, dtype=dtype)


@dataclass
class SampleColumns:
    """The facts of every observation, one array each (``NULL`` where the observation has no value)."""

    id_hash: np.ndarray = field(default_factory=lambda: _empty(np.uint64))
    path: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    outcome: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    sent_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    sent_unix_ms: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    seen_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    last_miss_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    prior_poll_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    duplicates: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    error_code: np.ndarray = field(default_factory=lambda: _empty(np.int16))  # into error_names; -1: none
    error_names: tuple[str, ...] = ()
    canary_id: pl.Series | None = None  # only when read ``with_ids``

    @property
    def first_error(self) -> str | None:
        """The first ``errored`` observation's error, in file order."""
        hits = np.flatnonzero((self.outcome == OUTCOME_CODE[ERRORED]) & (self.error_code != NO_ERROR))
        return self.error_names[self.error_code[hits[0]]] if hits.size else None

    def errors(self) -> list[str | None]:
        """Every row's error text (None without one): for the few rows a report names."""
        return [self.error_names[c] if c != NO_ERROR else None for c in self.error_code.tolist()]

    def __len__(self) -> int:
        return int(self.sent_ns.size)

    def rows(self, start: int, stop: int) -> SampleColumns:
        """Rows ``start`` to ``stop`` as views (no copy; without the ids)."""
        out = SampleColumns(error_names=self.error_names)
        for name in ARRAYS:
            setattr(out, name, getattr(self, name)[start:stop])
        return out

    def take(self, index: np.ndarray) -> SampleColumns:
        """The rows at ``index`` (a boolean mask or positions), as new columns."""
        out = SampleColumns(error_names=self.error_names)
        for name in ARRAYS:
            setattr(out, name, getattr(self, name)[index])
        if self.canary_id is not None:
            out.canary_id = self.canary_id.filter(pl.Series(index)) if np.asarray(index).dtype == bool \
                else self.canary_id.gather(index)
        return out

    # --- the TTA, as Observation defines it (vectorised, a block at a time: temporaries stay small) -----
    def tta_high_s(self) -> np.ndarray:
        """When the first poll that found it answered, minus the send (NaN when never seen)."""
        return self._blocks(SampleColumns._high)

    def tta_low_s(self) -> np.ndarray:
        """The start of the last poll that missed it (0 when the first poll found it; NaN when errored)."""
        return self._blocks(SampleColumns._low)

    def tta_s(self) -> np.ndarray:
        """The unbiased estimate judged for ``available`` canaries (NaN for every other outcome)."""
        return self._blocks(SampleColumns._tta)

    def _blocks(self, part: Callable[[SampleColumns], np.ndarray]) -> np.ndarray:
        out = np.empty(len(self))
        for a in range(0, len(self), BLOCK):
            out[a:a + BLOCK] = part(self.rows(a, a + BLOCK))
        return out

    def _high(self) -> np.ndarray:
        seen = self.seen_ns != NULL
        return np.where(seen, (self.seen_ns - self.sent_ns) / _NS_PER_S, np.nan)

    def _low(self) -> np.ndarray:
        missed = self.last_miss_ns != NULL
        low = np.where(missed, np.maximum(0.0, (self.last_miss_ns - self.sent_ns) / _NS_PER_S), 0.0)
        none = (self.outcome == OUTCOME_CODE[ERRORED]) | (self.outcome == OUTCOME_CODE[UNDECIDED])
        return np.where(none, np.nan, low)

    def _tta(self) -> np.ndarray:
        high, low = self._high(), self._low()
        prior = (self.last_miss_ns == NULL) & (self.prior_poll_ns != NULL)
        from_prior = ((self.prior_poll_ns - self.sent_ns) / _NS_PER_S + high) / 2
        value = np.where(prior, from_prior, (low + high) / 2)
        return np.where(self.outcome == OUTCOME_CODE[AVAILABLE], value, np.nan)

    # --- building ---------------------------------------------------------------------------------
    @classmethod
    def from_observations(cls, observations: Iterable[Observation], *, with_ids: bool = False) -> SampleColumns:
        obs = list(observations)

        def ints(name: str) -> np.ndarray:
            return np.array([NULL if getattr(o, name) is None else getattr(o, name) for o in obs], dtype=np.int64)

        ids = pl.Series("canary_id", [o.canary_id for o in obs], dtype=pl.String)
        codes, names = _error_codes(len(obs), ((i, o.error) for i, o in enumerate(obs) if o.outcome == ERRORED))
        out = cls(id_hash=ids.hash().to_numpy(), path=np.array([PATH_CODE[o.path] for o in obs], dtype=np.int8),
                  outcome=np.array([OUTCOME_CODE[o.outcome] for o in obs], dtype=np.int8),
                  duplicates=np.array([o.duplicates for o in obs], dtype=np.int32),
                  error_code=codes, error_names=names, canary_id=ids if with_ids else None)
        for k in _INTS:
            setattr(out, k, ints(k))
        return out

    @classmethod
    def concat(cls, parts: list[SampleColumns]) -> SampleColumns:
        if not parts:
            return cls()
        names: list[str] = []
        for p in parts:  # one table of error texts; each part's codes mapped into it
            remap = np.array([_name_code(names, n) for n in p.error_names] + [NO_ERROR], dtype=np.int16)
            p.error_code = remap[p.error_code] if p.error_names else p.error_code
        out = cls(error_names=tuple(names))
        for name in ARRAYS:  # one column at a time, dropping the parts' copy: the peak stays near one copy
            setattr(out, name, np.concatenate([getattr(p, name) for p in parts]))
            for p in parts:
                setattr(p, name, _empty(np.int8))
        if parts[0].canary_id is not None:
            out.canary_id = pl.concat([p.canary_id for p in parts if p.canary_id is not None])
        return out


def parse_sample_columns(path: Path, *, with_ids: bool = False, chunk_bytes: int = CHUNK_BYTES) -> SampleColumns:
    """Every observation of a ``samples.jsonl`` as columns, parsed (empty when the file does not exist)."""
    return SampleColumns.concat([_columns(frame, with_ids) for frame in _frames(path, chunk_bytes)])


def _frames(path: Path, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    if not path.exists():
        return
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(chunk_bytes)
            if not chunk:
                return
            chunk += fh.readline()  # to the end of the line the chunk stopped in
            try:
                frame = pl.read_ndjson(io.BytesIO(chunk), schema=_SCHEMA, ignore_errors=True)
            except pl.exceptions.PolarsError:  # a torn or foreign line: this chunk line by line
                frame = _frame_by_line(chunk)
            yield frame.drop_nulls(["canary_id", "path", "outcome", "sent_ns", "sent_unix_ms"])


def _frame_by_line(chunk: bytes) -> pl.DataFrame:
    rows = []
    for line in chunk.splitlines():
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and doc.get("path") in PATH_CODE and doc.get("outcome") in OUTCOME_CODE:
            rows.append({k: doc.get(k) for k in _SCHEMA})
    return pl.DataFrame(rows, schema=_SCHEMA, strict=False) if rows else pl.DataFrame(schema=_SCHEMA)


def _columns(frame: pl.DataFrame, with_ids: bool) -> SampleColumns:
    seen = frame["seen_ns"].is_not_null()
    needs_seen = frame["outcome"].is_in([AVAILABLE, LATE])
    frame = frame.filter(seen | ~needs_seen)  # an available or late record without seen_ns is not one
    errored = np.flatnonzero((frame["outcome"] == ERRORED).to_numpy())
    texts = frame["error"].gather(errored).to_list()
    codes, names = _error_codes(frame.height, zip(errored.tolist(), texts, strict=True))
    out = SampleColumns(
        id_hash=frame["canary_id"].hash().to_numpy(),
        path=frame["path"].to_physical().to_numpy().astype(np.int8),
        outcome=frame["outcome"].to_physical().to_numpy().astype(np.int8),
        duplicates=frame["duplicates"].fill_null(0).to_numpy().astype(np.int32),
        error_code=codes, error_names=names, canary_id=frame["canary_id"] if with_ids else None,
    )
    for k in _INTS:
        setattr(out, k, frame[k].fill_null(NULL).to_numpy())
    return out


def _name_code(names: list[str], name: str) -> int:
    """``name``'s index in ``names``, appended while there is room (then the last entry, ``OTHER_ERRORS``)."""
    try:
        return names.index(name)
    except ValueError:
        pass
    if len(names) < MAX_ERROR_NAMES - 1:
        names.append(name)
        return len(names) - 1
    if len(names) == MAX_ERROR_NAMES - 1:
        names.append(OTHER_ERRORS)
    return MAX_ERROR_NAMES - 1


def _error_codes(n: int, errors: Iterable[tuple[int, str | None]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes for ``n`` rows into a table of distinct error texts, from ``(row, text)`` pairs (``NO_ERROR``
    elsewhere)."""
    names: list[str] = []
    known: dict[str, int] = {}
    codes = np.full(n, NO_ERROR, dtype=np.int16)
    for row, text in errors:
        if text is not None:
            code = known.get(text)
            if code is None:
                code = known[text] = _name_code(names, text)
            codes[row] = code
    return codes, tuple(names)
