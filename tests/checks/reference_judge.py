"""An independent oracle for the judge: a run's records in, structured verdicts out.

It shares no code and no text with the product (``tests/checks/test_oracle_independent.py`` parses it to make
sure): its own promise and record reading (:mod:`tests.checks.reference_records`), its own placement
(:mod:`tests.checks.reference_tiering`) and exact quantiles (:mod:`tests.checks.reference_quantiles`). It says
nothing in words: a tier's outcome is its status, counts, percentiles and interval, a run's its status, exit
code, and the causes that make it invalid as ``(kind, detail)`` pairs. The rules, from the README:

- One record per canary and path: a ``late`` record wins; an ``undecided`` one gives way to any later one;
  otherwise the first stands.
- A canary seen after its horizon was lost (``late``). The horizon is its tier's when it was sent steady;
  otherwise the longest of its path's tiers.
- Judged values: steady canaries that were available (their TTA) or lost (infinite). TTA is the midpoint of
  the gap it became visible in: from the last miss (or the send) to the answer that found it, or from the
  poll before the first look-up when that look-up found it.
- Losses (late ones included) and errors count in every window against the tier's budgets.
- Status: no steady value in a tier nobody expected is ``unjudged`` (``fail`` over budget); fewer than the
  tier's minimum is ``insufficient`` (``fail`` over budget); otherwise ``pass`` when the percentile is within
  the target and no budget is exceeded, else ``fail``. A verdict is conclusive when the 95 % interval lies on
  its side of the target (a pass needs an upper bound at or under it; a fail a lower bound over it).
- Exit code: 3 (invalid: a problem, an invalid step, an insufficient tier, an undecided canary, no tier to
  judge, every ingest errored, or only unjudged tiers) over 1 (a tier failed) over 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.checks.reference_quantiles import ci_ranks, percentile
from tests.checks.reference_records import Promise
from tests.checks.reference_tiering import STEADY, Timeline

OK, SLO_FAILED, INVALID = 0, 1, 3
PASS, FAIL, INSUFFICIENT, UNJUDGED, VOID = "pass", "fail", "insufficient", "unjudged", "invalid"
REPORTED = (50, 90, 95, 99)


@dataclass(frozen=True)
class TierOutcome:
    tier: str
    status: str
    canaries: int
    n: int
    available: int
    lost: int
    late: int
    errored: int
    undecided: int
    excluded: int
    duplicates: int
    allowed_lost: int
    allowed_errored: int
    windows: dict[str, dict[str, int]]
    percentiles: dict[int, float | None]
    max_s: float | None
    judged_s: float | None
    ci: tuple[float | None, float | None]
    ci_ranks: tuple[int | None, int | None]
    conclusive: bool
    target_s: float
    loss_horizon_s: float


@dataclass(frozen=True)
class RunOutcome:
    tiers: tuple[TierOutcome, ...]
    causes: tuple[tuple[str, Any], ...]
    untiered: int
    undecided: int
    status: str
    exit_code: int
    placed: dict[tuple[str, str], tuple[str | None, str, str, float | None]] = field(default_factory=dict)

    def tier(self, name: str) -> TierOutcome:
        return next(t for t in self.tiers if t.tier == name)


def one_per_canary(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for s in samples:
        key = (s["path"], s["canary_id"])
        if key not in kept or s["outcome"] == "late" or kept[key]["outcome"] == "undecided":
            kept[key] = s
    return list(kept.values())


def _seconds(ns: int) -> float:
    return ns / 1e9


def seen_after(s: dict[str, Any]) -> float | None:
    """Upper bound of the TTA: the answer that found it, minus the send."""
    return None if s.get("seen_ns") is None else _seconds(s["seen_ns"] - s["sent_ns"])


def tta(s: dict[str, Any]) -> float:
    high = seen_after(s)
    assert high is not None
    if s.get("last_miss_ns") is None and s.get("prior_poll_ns") is not None:
        return (_seconds(s["prior_poll_ns"] - s["sent_ns"]) + high) / 2
    low = 0.0 if s.get("last_miss_ns") is None else max(0.0, _seconds(s["last_miss_ns"] - s["sent_ns"]))
    return (low + high) / 2


@dataclass
class _Canary:
    sample: dict[str, Any]
    tier: int | None
    rate: float | None
    window: str
    outcome: str


def _place(samples: list[dict[str, Any]], promise: Promise, timeline: Timeline) -> list[_Canary]:
    out = []
    for s in one_per_canary(samples):
        tier, rate, window = timeline.place(s["path"], s["sent_unix_ms"] / 1000.0)
        horizon = promise.horizon(promise.bands[tier]) if tier is not None and window == STEADY \
            else promise.longest_horizon(s["path"])
        outcome = s["outcome"]
        high = seen_after(s)
        if outcome == "available" and high is not None and high > horizon:
            outcome = "late"
        out.append(_Canary(s, tier, rate, window, outcome))
    return out


def judge_tier(promise: Promise, index: int, mine: list[_Canary], *, expected: bool) -> TierOutcome:
    band = promise.bands[index]
    by_outcome = Counter(c.outcome for c in mine)
    windows: dict[str, dict[str, int]] = {}
    for c in mine:
        windows.setdefault(c.window, {}).setdefault(c.outcome, 0)
        windows[c.window][c.outcome] += 1
    values = sorted(tta(c.sample) if c.outcome == "available" else math.inf
                    for c in mine if c.window == STEADY and c.outcome in ("available", "lost", "late"))
    n, pct, target = len(values), band.percentile, promise.target(band)
    lost, errored = by_outcome["lost"] + by_outcome["late"], by_outcome["errored"]
    allowed_lost, allowed_errored = band.lost_budget.of(len(mine)), band.error_budget.of(len(mine))
    over_budget = lost > allowed_lost or errored > allowed_errored
    judged = percentile(values, pct)
    lo, hi = ci_ranks(n, pct)
    ci = (values[lo - 1] if lo else None, values[hi - 1] if hi else None)
    conclusive = True
    if n == 0 and not expected:
        status = FAIL if over_budget else UNJUDGED
    elif n < band.min_samples:
        status = FAIL if over_budget else INSUFFICIENT
    else:
        assert judged is not None
        within = judged <= target
        status = PASS if within and not over_budget else FAIL
        conclusive = (ci[1] is not None and ci[1] <= target) if within else (ci[0] is not None and ci[0] > target)
    return TierOutcome(
        tier=band.name, status=status, canaries=len(mine), n=n, available=by_outcome["available"], lost=lost,
        late=by_outcome["late"], errored=errored, undecided=by_outcome["undecided"],
        excluded=sum(1 for c in mine if c.window != STEADY),
        duplicates=sum(int(c.sample.get("duplicates") or 0) for c in mine),
        allowed_lost=allowed_lost, allowed_errored=allowed_errored, windows=windows,
        percentiles={q: percentile(values, q) for q in REPORTED}, max_s=values[-1] if values else None,
        judged_s=judged, ci=ci, ci_ranks=(lo, hi), conclusive=conclusive, target_s=target,
        loss_horizon_s=promise.horizon(band))


def judge(samples: Sequence[dict[str, Any]], promise: Promise, *, points: Sequence[dict[str, Any]] = (),
          declared: float | None = None, window: float | None = None, steps: Sequence[dict[str, Any]] = (),
          problems: Sequence[str] = (), expected: Sequence[str] = ()) -> RunOutcome:
    """Judge a run's samples (dicts, as in ``samples.jsonl``) against ``promise`` on a rate timeline
    (``points``, as :func:`~tests.checks.reference_records.read_rates` gives them) or a ``declared`` rate."""
    timeline = Timeline(promise, list(points), declared=declared,
                        window=promise.rate_window if window is None else window)
    canaries = _place(list(samples), promise, timeline)
    by_tier: dict[int, list[_Canary]] = {}
    for c in canaries:
        if c.tier is not None:
            by_tier.setdefault(c.tier, []).append(c)
    tiers = tuple(judge_tier(promise, i, by_tier.get(i, []), expected=b.name in expected)
                  for i, b in enumerate(promise.bands) if i in by_tier or b.name in expected)
    causes: list[tuple[str, Any]] = [("problem", p) for p in problems]
    causes += [("step", s["step"]) for s in steps if not s["valid"]]
    causes += [("insufficient", t.tier) for t in tiers if t.status == INSUFFICIENT]
    undecided = sum(1 for c in canaries if c.outcome == "undecided")
    if undecided:
        causes.append(("undecided", undecided))
    untiered = sum(1 for c in canaries if c.tier is None)
    if not tiers:
        causes.append(("nothing", untiered))
    elif canaries and all(c.outcome == "errored" for c in canaries):
        causes.append(("all errored", len(canaries)))
    failed = any(t.status == FAIL for t in tiers)
    if causes:
        status, code = VOID, INVALID
    elif failed:
        status, code = FAIL, SLO_FAILED
    elif all(t.status == UNJUDGED for t in tiers):
        causes.append(("unjudged", len(tiers)))
        status, code = VOID, INVALID
    else:
        status, code = PASS, OK
    placed = {(c.sample["path"], c.sample["canary_id"]):
              (None if c.tier is None else promise.bands[c.tier].name, c.window, c.outcome, c.rate)
              for c in canaries}
    return RunOutcome(tiers, tuple(causes), untiered, undecided, status, code, placed)
