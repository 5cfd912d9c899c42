"""``samples.jsonl`` as columns: the errors survive parsing, the column cache and a torn line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from ingestbench.records.observation import AVAILABLE, ERRORED, Observation
from ingestbench.records.samples import MAX_ERROR_NAMES, OTHER_ERRORS, SampleColumns
from ingestbench.records.samples_cache import CACHE_NAME, CACHE_VERSION, read_sample_columns, write_cache


def _obs(i: int, error: str | None) -> Observation:
    if error is None:
        return Observation(f"c{i}", "analytical", AVAILABLE, sent_ns=i, sent_unix_ms=1_000 + i, seen_ns=i + 10)
    return Observation(f"c{i}", "analytical", ERRORED, sent_ns=i, sent_unix_ms=1_000 + i, error=error)


def _write(path: Path, observations: list[Observation], torn: bool = False) -> None:
    lines = [orjson.dumps(o.to_record()) for o in observations]
    if torn:
        lines.insert(2, b'{"canary_id": "half')
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_every_errored_row_keeps_its_error_through_parsing_chunks_and_the_cache(tmp_path: Path) -> None:
    observations = [_obs(i, None if i % 3 else f"server_error: HTTP 50{i % 2}") for i in range(300)]
    samples = tmp_path / "samples.jsonl"
    _write(samples, observations, torn=True)
    expected = [o.error for o in observations]
    for chunk_bytes in (1 << 20, 2_000):  # one chunk, and many (each with its own table of texts)
        cols = read_sample_columns(samples, chunk_bytes=chunk_bytes)
        assert cols.errors() == expected
        assert cols.first_error == "server_error: HTTP 500"
    write_cache(cols, samples)
    cached = read_sample_columns(samples)
    assert cached.errors() == expected and cached.error_names == cols.error_names
    assert SampleColumns.from_observations(observations).errors() == expected


def test_distinct_error_texts_are_capped_the_rest_share_one_entry(tmp_path: Path) -> None:
    observations = [_obs(i, f"refused #{i}") for i in range(MAX_ERROR_NAMES + 20)]
    samples = tmp_path / "samples.jsonl"
    _write(samples, observations)
    cols = read_sample_columns(samples, chunk_bytes=3_000)
    assert len(cols.error_names) == MAX_ERROR_NAMES and cols.error_names[-1] == OTHER_ERRORS
    errors = cols.errors()
    assert errors[:MAX_ERROR_NAMES - 1] == [o.error for o in observations[:MAX_ERROR_NAMES - 1]]
    assert set(errors[MAX_ERROR_NAMES - 1:]) == {OTHER_ERRORS}
    assert int(np.count_nonzero(cols.outcome == cols.outcome[0])) == len(observations)


def test_a_cache_of_another_layout_is_not_read(tmp_path: Path) -> None:
    """The columns cache carries its layout version: one written by another version is parsed anew, not trusted."""
    samples = tmp_path / "samples.jsonl"
    _write(samples, [_obs(i, None) for i in range(10)])
    cols = read_sample_columns(samples)
    write_cache(cols, samples)
    cache = samples.with_name(CACHE_NAME)
    with np.load(cache) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert int(arrays["version"]) == CACHE_VERSION
    arrays["sent_unix_ms"] = arrays["sent_unix_ms"] + 7  # what an old layout would misread
    np.savez(cache, **{**arrays, "version": np.array(CACHE_VERSION - 1)})
    assert read_sample_columns(samples).sent_unix_ms.tolist() == cols.sent_unix_ms.tolist()  # parsed again
    np.savez(cache, **{**arrays, "version": np.array(CACHE_VERSION)})
    assert read_sample_columns(samples).sent_unix_ms.tolist() == [t + 7 for t in cols.sent_unix_ms.tolist()]
