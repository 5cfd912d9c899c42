"""``judged.jsonl``: one writer and one reader, through the record type."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from ingestbench.records.verdicts import JUDGED_COLUMNS, JudgedRow, read_judged_rows, write_judged_rows


def _slice(ids: list[str], tta: list[float]) -> dict[str, object]:
    n = len(ids)
    return {"canary_id": pl.Series(ids), "path": pl.Series(["analytical"] * n),
            "tier": pl.Series(["high", None][:n]), "window": pl.Series(["steady"] * n),
            "rate_eps": np.full(n, 1100.0), "outcome": pl.Series(["available"] * n), "tta_s": np.array(tta)}


def test_slices_written_read_back_as_rows_with_nan_as_null(tmp_path):
    path = tmp_path / "judged.jsonl"
    write_judged_rows(path, [_slice(["a", "b"], [0.25, math.nan]), _slice(["c"], [1.5])])
    rows = list(read_judged_rows(path))
    assert rows == [JudgedRow("a", "analytical", "high", "steady", 1100.0, "available", 0.25),
                    JudgedRow("b", "analytical", None, "steady", 1100.0, "available", None),
                    JudgedRow("c", "analytical", "high", "steady", 1100.0, "available", 1.5)]
    with path.open("ab") as fh:  # a crash mid-line: the torn line is skipped, the rest kept
        fh.write(b'{"canary_id": "d", "pa')
    assert len(list(read_judged_rows(path))) == 3


def test_a_slice_without_the_records_columns_is_refused_and_nothing_is_replaced(tmp_path):
    path = tmp_path / "judged.jsonl"
    write_judged_rows(path, [_slice(["a"], [0.1])])
    bad = _slice(["b"], [0.2])
    del bad["tta_s"]
    with pytest.raises(ValueError, match="tta_s"):
        write_judged_rows(path, [bad])
    assert [r.canary_id for r in read_judged_rows(path)] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judged.jsonl"]  # no temporary file left behind
    assert JUDGED_COLUMNS[-1] == "tta_s"
