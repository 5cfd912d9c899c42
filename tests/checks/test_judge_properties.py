"""Invariants of the judge, on Hypothesis-generated runs (:mod:`tests.checks.run_strategies`):

- a lost canary never lowers a percentile;
- a canary seen within every target of its path never turns a passing tier into a failing one;
- a tier's counts add up: every canary written is in one tier or untiered, and within a tier its outcomes,
  its windows and its judged samples account for every canary;
- the order of the lines in ``samples.jsonl`` and ``rates.jsonl`` changes nothing.
"""

from __future__ import annotations

import math
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ingestbench.checks.judge import PASS, RunVerdict, judge_run
from tests.checks.run_strategies import PROPERTY, Run, product_inputs, runs, sample

PERCENTILES = ("p50_s", "p90_s", "p95_s", "p99_s", "max_s", "judged_s")


def judged(run: Run, samples: list[dict[str, Any]] | None = None,
           rate_rows: list[dict[str, Any]] | None = None) -> RunVerdict:
    return judge_run(**product_inputs(run, samples, rate_rows))


@PROPERTY
@given(run=runs(), data=st.data())
def test_a_lost_canary_never_lowers_a_percentile(run: Run, data: st.DataObject) -> None:
    before = judged(run)
    extra = sample(data.draw, 10_000, run.end_unix_s, outcome=data.draw(st.sampled_from(["lost", "late"])))
    after = judged(run, run.samples + extra)
    now = {v.tier: v for v in after.tiers}
    assert {v.tier for v in before.tiers} <= set(now)
    for v in before.tiers:
        w = now[v.tier]
        assert w.lost >= v.lost and w.n >= v.n
        for name in PERCENTILES:
            old, new = getattr(v, name), getattr(w, name)
            if old is not None:
                assert new is not None and new >= old, (v.tier, name, old, new)
    assert sum(w.lost for w in after.tiers) + after.untiered == sum(v.lost for v in before.tiers) + \
        before.untiered + 1


@PROPERTY
@given(run=runs(near_target=True), data=st.data())
def test_a_passing_canary_never_fails_a_tier(run: Run, data: st.DataObject) -> None:
    """A canary seen within the target of its tier: the tiers that passed still pass. It is sent with one of
    the run's canaries (same path, same time), so it lands where that one did: a steady one of a passing
    tier when there is one."""
    before = judged(run)
    assert before.judged is not None
    passing = {v.tier for v in before.tiers if v.status == PASS}
    rows = before.judged.rows()
    twins = [r for r in rows if r.tier in passing and r.window == "steady"] or rows
    twin = data.draw(st.sampled_from(twins))
    tier = twin.tier
    like = next(s for s in run.samples if (s["path"], s["canary_id"]) == (twin.path, twin.canary_id))
    slo = run.slo
    target = min(slo.target_s(t) for t in slo.tiers) if tier is None else slo.target_s(slo.tier(tier))
    within = math.floor(target * 20 + 1e-9)  # the TTA's upper bound, in twentieths of a second
    extra = sample(data.draw, 10_000, run.end_unix_s, outcome="available", like=like,
                   tta_twentieths=data.draw(st.integers(0, within)))
    after = judged(run, run.samples + extra)
    now = {v.tier: v for v in after.tiers}
    for v in before.tiers:
        if v.status == PASS:
            assert now[v.tier].status == PASS, now[v.tier].reason


@PROPERTY
@given(run=runs())
def test_a_tiers_counts_add_up(run: Run) -> None:
    verdict = judged(run)
    written = {(s["path"], s["canary_id"]) for s in run.samples}
    assert sum(v.canaries for v in verdict.tiers) + verdict.untiered == len(written)
    assert verdict.undecided == sum(v.undecided for v in verdict.tiers) + sum(
        1 for r in (verdict.judged.rows() if verdict.judged else []) if r.tier is None and r.outcome == "undecided")
    for v in verdict.tiers:
        assert v.canaries == v.available + v.lost + v.errored + v.undecided
        assert v.late <= v.lost
        by_window = {w: sum(c.values()) for w, c in v.windows.items()}
        assert sum(by_window.values()) == v.canaries
        assert v.excluded == v.canaries - by_window.get("steady", 0)
        steady = v.windows.get("steady", {})
        assert v.n == steady.get("available", 0) + steady.get("lost", 0) + steady.get("late", 0)
        assert v.n + v.excluded + steady.get("errored", 0) + steady.get("undecided", 0) == v.canaries
        for outcome, total in (("available", v.available), ("errored", v.errored), ("undecided", v.undecided),
                               ("late", v.late)):
            assert sum(c.get(outcome, 0) for c in v.windows.values()) == total
        assert (v.lost > v.allowed_lost or v.errored > v.allowed_errored) <= (v.status == "fail")
        if v.n:
            ladder = [v.p50_s, v.p90_s, v.p95_s, v.p99_s, v.max_s]
            assert None not in ladder and ladder == sorted(ladder)  # type: ignore[type-var]


@PROPERTY
@given(run=runs(), shuffle=st.randoms(use_true_random=False))
def test_the_order_of_the_lines_changes_nothing(run: Run, shuffle: random.Random) -> None:
    before = judged(run)
    samples, rates = list(run.samples), list(run.rate_rows)
    shuffle.shuffle(samples)
    seconds = [r for r in rates if r["type"] == "second"]
    shuffle.shuffle(seconds)
    after = judged(run, samples, seconds + [r for r in rates if r["type"] == "step"])
    assert after.tiers == before.tiers
    assert (after.status, after.exit_code, after.reason, after.invalid_reasons, after.untiered, after.undecided) == (
        before.status, before.exit_code, before.reason, before.invalid_reasons, before.untiered, before.undecided)
