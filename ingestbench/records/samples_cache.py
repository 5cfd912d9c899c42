"""The column cache of a ``samples.jsonl``: judged once, read again in milliseconds.

Once a run is judged, its columns are kept beside the file (``samples.columns.npz``, written by ``run`` and
``report``), stamped with the size and modification time of the ``samples.jsonl`` they came from and with the
cache's own layout version: judging the run again (``gate``, another SLO) reads them in milliseconds, and a file
that changed since, or a cache of another version, is parsed again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingestbench.records.samples import ARRAYS, CHUNK_BYTES, SampleColumns, parse_sample_columns

CACHE_NAME = "samples.columns.npz"
# The cache's layout: bump it whenever a column, its dtype or a code table changes. A cache of another version
# (an older ingestbench wrote it) is not read: the samples are parsed again, and the cache rewritten.
CACHE_VERSION = 2


def read_sample_columns(path: str | Path, *, with_ids: bool = False,
                        chunk_bytes: int = CHUNK_BYTES) -> SampleColumns:
    """Every observation of a ``samples.jsonl`` as columns (empty when the file does not exist); from its
    column cache when that is up to date and the ids are not needed."""
    path = Path(path)
    if not with_ids:
        cached = _read_cache(path)
        if cached is not None:
            return cached
    return parse_sample_columns(path, with_ids=with_ids, chunk_bytes=chunk_bytes)


def cache_path(samples_path: Path) -> Path:
    return samples_path.with_name(CACHE_NAME)


def write_cache(columns: SampleColumns, samples_path: str | Path) -> None:
    """Keep ``columns`` beside ``samples_path``, stamped with that file's size and modification time."""
    samples_path = Path(samples_path)
    if not samples_path.exists():
        return
    stat = samples_path.stat()
    tmp = samples_path.with_name(f".{CACHE_NAME}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, **{name: getattr(columns, name) for name in ARRAYS},
                 stamp=np.array([stat.st_size, stat.st_mtime_ns], dtype=np.int64),
                 version=np.array(CACHE_VERSION, dtype=np.int64),
                 error_names=np.array(columns.error_names or ("",)))
    tmp.replace(cache_path(samples_path))


def _read_cache(samples_path: Path) -> SampleColumns | None:
    try:
        stat = samples_path.stat()
        with np.load(cache_path(samples_path), allow_pickle=False) as npz:
            if "version" not in npz.files or int(npz["version"]) != CACHE_VERSION:
                return None  # another layout: parse the samples again
            if npz["stamp"].tolist() != [stat.st_size, stat.st_mtime_ns]:
                return None  # the samples changed since: parse them again
            out = SampleColumns(error_names=tuple(str(n) for n in npz["error_names"]))
            for name in ARRAYS:
                setattr(out, name, npz[name])
            return out
    except (OSError, KeyError, ValueError):
        return None
