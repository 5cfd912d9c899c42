"""The columnar judge gives exactly the verdicts the object-by-object judge gave, on the same inputs.

Thousands of canaries on a timeline with steps across both bands, gaps, warm-ups, transitions and generator
stalls, sends
before and after the load, every outcome (lost ones seen late, undecided, duplicate lines), TTAs near every
horizon; judged by :mod:`ingestbench.checks.judge` and by the oracle in ``tests/checks/reference_judge.py``.
"""

from __future__ import annotations

import random

import pytest

from ingestbench.checks.judge import RateSource, judge_run
from ingestbench.records.observation import Observation
from ingestbench.records.samples import SampleColumns
from ingestbench.records.slo_file import load_slo, parse_slo
from ingestbench.records.timeline import RatePoint, StepRow
from tests.checks import reference_judge

S = 1_000_000_000
T0 = 1_800_000_000.0


def timeline(rng: random.Random, *, with_target: bool) -> list[RatePoint]:
    points, t = [], T0
    for rate, seconds in ((50, 40), (900, 30), (1500, 30), (3000, 25), (400, 35)):
        for _ in range(seconds):
            t += 1.0
            if rng.random() < 0.02:
                t += 3.0  # a gap in the timeline: a new regime starts after it
            behind = rng.choice([0.08, 0.4, 0.95]) if rng.random() < 0.04 else 0.0  # the generator stalled
            points.append(RatePoint(t, rate * rng.uniform(0.97, 1.03), float(rate) if with_target else None,
                                    behind))
    return points


def observations(rng: random.Random, n: int, t_end: float) -> list[Observation]:
    out: list[Observation] = []
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
            out.append(Observation(outcome="available", seen_ns=seen, last_miss_ns=miss, prior_poll_ns=prior,
                                   **common))
        elif kind in ("lost", "late"):
            out.append(Observation(outcome="lost", last_miss_ns=miss, **common))
            if kind == "late":
                out.append(Observation(outcome="late", seen_ns=seen + 60 * S, last_miss_ns=miss, **common))
        elif kind == "errored":
            out.append(Observation(outcome="errored", error="server_error: HTTP 503", **common))
        else:
            out.append(Observation(outcome="undecided", **common))
        if rng.random() < 0.01:
            out.append(out[-1])  # the same line twice
    rng.shuffle(out)
    return out


SLOS = {
    "default": load_slo(time_scale=0.1),
    "budgets": parse_slo({"max_lost": "5%", "max_errored": 20, "lost_after": "4x", "tier": [
        {"name": "low", "path": "analytical", "below_eps": 1000, "target_s": 30, "percentile": 90},
        {"name": "mid", "path": "analytical", "at_least_eps": 1000, "below_eps": 2000, "target_s": 10,
         "lost_after": 25},
        {"name": "high", "path": "analytical", "at_least_eps": 2000, "target_s": 3, "min_samples": 400},
        {"name": "tx", "path": "transactional", "target_s": 1, "percentile": 99}]}).scaled(0.1),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("slo_name", sorted(SLOS))
@pytest.mark.parametrize("source", ["timeline", "bands", "declared"])
def test_same_verdicts_as_the_object_judge(seed: int, slo_name: str, source: str) -> None:
    rng = random.Random(seed)
    slo = SLOS[slo_name]
    points = timeline(rng, with_target=source != "bands")
    rates = (RateSource(declared_rate_eps=1500.0, window_s=0.5) if source == "declared"
             else RateSource(points=tuple(points), window_s=0.5))
    obs = observations(rng, 3000, points[-1].unix_s)
    steps = [StepRow(step=0, target_eps=50, achieved_eps=50, valid=True)]
    expected = ["low", "high", "transactional"] if slo_name == "default" else ["low", "mid", "high", "tx"]
    new = judge_run(SampleColumns.from_observations(obs, with_ids=True), slo=slo, rates=rates, steps=steps,
                    expected=expected)
    old = reference_judge.judge_run(obs, slo=slo, rates=rates, steps=steps, expected=expected)
    assert new.tiers == old.tiers
    assert (new.invalid_reasons, new.untiered, new.undecided, new.status, new.reason, new.exit_code) == (
        old.invalid_reasons, old.untiered, old.undecided, old.status, old.reason, old.exit_code)
    assert new.judged is not None
    placed = {(r.path, r.canary_id): (r.tier, r.window, r.outcome) for r in new.judged.rows()}
    assert placed == {(j.obs.path, j.obs.canary_id): (j.tier, j.window, j.outcome) for j in old.judged}
    rates_new = {(r.path, r.canary_id): r.rate_eps for r in new.judged.rows()}
    for j in old.judged:  # a mean of the same points, summed in another order: equal to the last few bits
        assert rates_new[(j.obs.path, j.obs.canary_id)] == pytest.approx(j.rate_eps, rel=1e-9)
    windows = {w for _, w, _ in placed.values()}
    assert windows >= ({"steady"} if source == "declared" else {"steady", "warmup", "transition", "outside", "stall"})
