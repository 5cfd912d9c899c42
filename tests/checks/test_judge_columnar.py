"""The judge gives exactly the independent oracle's verdicts, on the same files.

Thousands of canaries on a timeline with steps across every band, gaps, warm-ups, transitions and generator
stalls (some reaching back further than the seconds before them), sends before and after the load, every
outcome (lost ones seen late, undecided, duplicate lines), TTAs near every horizon. The run is written as
``samples.jsonl`` and ``rates.jsonl``; the product reads them with its readers and judges with
:mod:`ingestbench.checks.judge`, the oracle (``tests/checks/reference_judge.py``, which imports nothing from the
product) reads and judges them on its own.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ingestbench.checks.judge import RateSource, judge_run
from ingestbench.records.samples_cache import read_sample_columns
from ingestbench.records.slo import DEFAULT_SLO_PATH
from ingestbench.records.slo_file import load_slo, parse_slo
from ingestbench.records.timeline import read_timeline
from tests.checks import reference_judge, reference_records
from tests.checks.oracle_compare import assert_agrees

S = 1_000_000_000
T0 = 1_800_000_000.0


def rate_rows(rng: random.Random, *, with_target: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    t = T0
    for step, (rate, seconds) in enumerate(((50, 40), (900, 30), (1500, 30), (3000, 25), (400, 35))):
        for _ in range(seconds):
            t += 1.0
            if rng.random() < 0.02:
                t += 3.0  # a gap in the timeline: a new regime starts after it
            stalled = rng.random() < 0.04  # the generator fell behind, by up to 2.5 s
            rows.append({"type": "second", "t_s": int(t - T0), "unix_s": t,
                         "achieved_eps": rate * rng.uniform(0.97, 1.03),
                         "target_eps": float(rate) if with_target else None, "step": step, "stalled": stalled,
                         "lag_p99_s": rng.choice([0.08, 0.4, 0.95, 2.5]) if stalled else 0.002})
        rows.append({"type": "step", "step": step, "target_eps": rate, "achieved_eps": rate,
                     "valid": step != 3 or not with_target})
    return rows


def sample_rows(rng: random.Random, n: int, t_end: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        at = rng.uniform(T0 - 5.0, t_end + 8.0)  # some before the load started, some after it ended
        sent_ns = int((at - T0) * S) + 10 * S
        path = "transactional" if rng.random() < 0.15 else "analytical"
        kind = rng.choices(["available", "lost", "late", "errored", "undecided"], [80, 6, 4, 6, 4])[0]
        tta = rng.choice([rng.uniform(0.0, 0.5), rng.uniform(0.2, 4.0), rng.uniform(2.5, 40.0)])
        seen = sent_ns + int(tta * S)
        miss = seen - int(rng.uniform(0.0, 0.3) * S) if rng.random() < 0.7 else None
        prior = sent_ns - int(rng.uniform(0.0, 0.3) * S) if miss is None and rng.random() < 0.5 else None
        common = {"canary_id": f"c{i}", "path": path, "sent_ns": sent_ns, "sent_unix_ms": round(at * 1000),
                  "duplicates": rng.choice([0, 0, 0, 1])}
        if kind == "available":
            out.append({**common, "outcome": "available", "seen_ns": seen, "last_miss_ns": miss,
                        "prior_poll_ns": prior})
        elif kind in ("lost", "late"):
            out.append({**common, "outcome": "lost", "last_miss_ns": miss})
            if kind == "late":
                out.append({**common, "outcome": "late", "seen_ns": seen + 60 * S, "last_miss_ns": miss})
        elif kind == "errored":
            out.append({**common, "outcome": "errored", "error": "server_error: HTTP 503"})
        else:
            out.append({**common, "outcome": "undecided"})
        if rng.random() < 0.01:
            out.append(out[-1])  # the same line twice
    rng.shuffle(out)
    return out


BUDGETS = {"max_lost": "5%", "max_errored": 20, "lost_after": "4x", "tier": [
    {"name": "low", "path": "analytical", "below_eps": 1000, "target_s": 30, "percentile": 90},
    {"name": "mid", "path": "analytical", "at_least_eps": 1000, "below_eps": 2000, "target_s": 10,
     "lost_after": 25},
    {"name": "high", "path": "analytical", "at_least_eps": 2000, "target_s": 3, "min_samples": 400},
    {"name": "tx", "path": "transactional", "target_s": 1, "percentile": 99}]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn": ')
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("slo_name", ["default", "budgets"])
@pytest.mark.parametrize("source", ["timeline", "bands", "declared"])
def test_same_verdicts_as_the_oracle(tmp_path: Path, seed: int, slo_name: str, source: str) -> None:
    rng = random.Random(seed)
    if slo_name == "default":
        slo, promise = load_slo(time_scale=0.1), reference_records.read_promise(DEFAULT_SLO_PATH, scale=0.1)
    else:
        slo, promise = parse_slo(BUDGETS).scaled(0.1), reference_records.promise_of(BUDGETS, scale=0.1)
    rates = write_jsonl(tmp_path / "rates.jsonl", rate_rows(rng, with_target=source != "bands"))
    timeline = read_timeline(rates)
    samples = write_jsonl(tmp_path / "samples.jsonl", sample_rows(rng, 3000, timeline.points[-1].unix_s))
    expected = ["low", "high", "transactional"] if slo_name == "default" else ["low", "mid", "high", "tx"]
    source_of = (RateSource(declared_rate_eps=1500.0, window_s=0.5) if source == "declared"
                 else RateSource(points=timeline.points, window_s=0.5))
    product = judge_run(read_sample_columns(samples, with_ids=True), slo=slo, rates=source_of,
                        steps=timeline.steps, expected=expected)
    points, steps = reference_records.read_rates(rates)
    oracle = reference_judge.judge(reference_records.read_samples(samples), promise, steps=steps,
                                   expected=expected, window=0.5,
                                   **({"declared": 1500.0} if source == "declared" else {"points": points}))
    assert_agrees(product, oracle)
    windows = {w for _, w, _, _ in oracle.placed.values()}
    assert windows >= ({"steady"} if source == "declared" else {"steady", "warmup", "transition", "outside", "stall"})
    assert {t.status for t in oracle.tiers} & {"pass", "fail"}  # something was judged
