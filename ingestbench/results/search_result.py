"""What a search's steps conclude, per tier: the rates from which and up to which the promise held, with the
passing and failing rates around each bound and what limited it; ``search.json``.

A lower bound is the lowest passing rate with the highest failing rate below it (or the tier's band edge, or the
search's lowest rate, when the tier held there). An upper bound is the highest passing rate with the nearest
rate above it at which the tier failed with its load delivered (the **target** was the limit), or at which the
generator could not send the load (then the target's capacity is not known, and the bound is "at least"), or
the band's edge or the search's highest rate.

Exit code, by precedence: 3 when a tier could not be concluded (nothing judged in its band, a side left open, a
failure between passing rates, or the search was interrupted); 1 when a tier's SLO never held at any rate tried;
0 when every searched tier has a range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.verdicts import FAIL, PASS
from ingestbench.results.search import (
    EDGE_MARGIN,
    GENERATOR,
    SEARCH_JSON,
    TARGET,
    Search,
    SearchConfig,
    SearchStep,
    SearchTier,
    as_dict,
)

RANGE, NEVER, INCONCLUSIVE = "range", "never", "inconclusive"


@dataclass(frozen=True)
class Bound:
    """One side of a tier's range: the rate reported, the evidence around it, and what set it."""

    eps: float | None  # the reported bound (always a rate at which the tier passed); None when unknown
    passes_at: float | None
    fails_at: float | None  # the nearest rate beyond it that failed or could not be delivered
    limit: str  # target | generator | band | search | unknown
    text: str


@dataclass(frozen=True)
class TierResult:
    tier: str
    percentile: float
    target_s: float
    band: str
    status: str  # range | never | inconclusive
    holds_from_eps: float | None
    holds_up_to_eps: float | None
    lower: Bound
    upper: Bound
    summary: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    search_id: str
    scenario: str
    time_scale: float
    config: SearchConfig
    tiers: tuple[TierResult, ...]
    steps: tuple[SearchStep, ...]
    stopped: str
    exit_code: int
    reason: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dict(as_dict(self))


def r(v: float | None) -> str:
    return "?" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.3g}"


def _band(t: SearchTier) -> str:
    if t.low_eps <= 0 and math.isinf(t.high_eps):
        return "any rate"
    if math.isinf(t.high_eps):
        return f">= {t.low_eps:g}/s"
    return f"< {t.high_eps:g}/s" if t.low_eps <= 0 else f"{t.low_eps:g}-{t.high_eps:g}/s"


def _step_at(steps: tuple[SearchStep, ...], rate: float) -> SearchStep | None:
    return next((s for s in reversed(steps) if math.isclose(s.rate_eps, rate, rel_tol=1e-9)), None)


def _lower(search: Search, t: SearchTier, passes: list[float], fails: list[float]) -> Bound:
    p_min = min(passes)
    below = [f for f in fails if f < p_min]
    if below:
        return Bound(p_min, p_min, max(below), TARGET, f"fails at {r(max(below))}, passes at {r(p_min)}")
    low_edge = max(search.config.min_eps, t.low_eps * EDGE_MARGIN if t.low_eps > 0 else 0.0)
    if p_min <= low_edge * (1 + 1e-9):
        if t.low_eps > 0 and t.low_eps * EDGE_MARGIN >= search.config.min_eps:
            return Bound(p_min, p_min, None, "band", f"from its band's edge {r(t.low_eps)}: passes at {r(p_min)}")
        return Bound(p_min, p_min, None, "search", f"from the lowest rate tried, {r(p_min)}: lower rates untried")
    return Bound(None, p_min, None, "unknown", f"passes at {r(p_min)}; lower rates in its band were not decided")


def _upper(search: Search, t: SearchTier, passes: list[float], fails: list[float]) -> Bound:
    p_max = max(passes)
    above = [f for f in fails if f > p_max]
    ceiling = search.ceiling()
    cap = ceiling.rate_eps if ceiling is not None and ceiling.rate_eps > p_max else None
    if above and (cap is None or min(above) <= cap):
        f = min(above)
        step = _step_at(search.steps, f)
        why = "the target refused part of the load" if step is not None and step.delivered == TARGET else (
            f"p{t.percentile:g} {_secs(step.judged_s.get(t.name))} > {t.target_s:g} s with the load delivered"
            if step is not None else "failed")
        return Bound(p_max, p_max, f, TARGET, f"passes at {r(p_max)}, fails at {r(f)} ({why}): the target was the "
                     "limit")
    if cap is not None and ceiling is not None:
        return Bound(p_max, p_max, cap, GENERATOR,
                     f"at least {r(p_max)}: at {r(cap)} the generator could not send the load ({ceiling.reason}); "
                     "the generator was the limit, not the target, whose capacity there is not known")
    high_edge = min(search.config.max_eps, t.high_eps / EDGE_MARGIN)
    if p_max >= high_edge * (1 - 1e-9):
        if t.high_eps / EDGE_MARGIN <= search.config.max_eps:
            return Bound(p_max, p_max, None, "band", f"up to its band's edge {r(t.high_eps)}: passes at {r(p_max)}")
        return Bound(p_max, p_max, None, "search", f"at least {r(p_max)}, the highest rate tried (--max-eps)")
    return Bound(None, p_max, None, "unknown", f"passes at {r(p_max)}; higher rates were not decided")


def _secs(v: float | None) -> str:
    return "not measured" if v is None else "lost canaries" if math.isinf(v) else f"{v:.3g} s"


def tier_result(search: Search, t: SearchTier) -> TierResult:
    obs = sorted((s.rate_eps, s.outcomes[t.name]) for s in search.steps if t.name in s.outcomes)
    passes = [rate for rate, o in obs if o == PASS]
    fails = [rate for rate, o in obs if o == FAIL]
    head = f"tier {t.name} (p{t.percentile:g} <= {t.target_s:g} s, {_band(t)})"
    if not passes:
        unknown = Bound(None, None, None, "unknown", "never passed")
        ceiling = search.ceiling()
        high_edge = min(search.config.max_eps, t.high_eps / EDGE_MARGIN)
        covered = fails and (max(fails) >= high_edge * (1 - 1e-9) or ceiling is not None)
        unsent = (f"; the generator could not send {r(ceiling.rate_eps)} events/s ({ceiling.reason})"
                  if ceiling is not None else "")
        if covered:
            text = (f"{head}: never held: failed at every rate tried ({r(min(fails))} to {r(max(fails))} events/s)"
                    + unsent)
            return TierResult(t.name, t.percentile, t.target_s, _band(t), NEVER, None, None, unknown, unknown, text)
        text = (f"{head}: not concluded: " + (f"failed at {r(min(fails))} to {r(max(fails))} events/s and the search "
                "stopped before higher rates" if fails else "no step in its band was judged") + unsent)
        return TierResult(t.name, t.percentile, t.target_s, _band(t), INCONCLUSIVE, None, None, unknown, unknown,
                          text)
    lower, upper = _lower(search, t, passes, fails), _upper(search, t, passes, fails)
    between = [f for f in fails if min(passes) < f < max(passes)]
    notes = tuple(f"failed at {r(f)} events/s, between rates where it held: the range is not one interval"
                  for f in between)
    precision = search.config.precision
    notes += tuple(f"{name} bound bracket {r(b.passes_at)}..{r(b.fails_at)} is wider than --precision "
                   f"{precision:.0%}" for name, b in (("lower", lower), ("upper", upper))
                   if b.fails_at and b.passes_at and abs(b.fails_at / b.passes_at - 1) > precision * (1 + 1e-9))
    status = RANGE if lower.eps is not None and upper.eps is not None and not between else INCONCLUSIVE
    if status == RANGE:
        least = "at least " if upper.limit in (GENERATOR, "search") else ""
        text = (f"{head}: holds from {r(lower.eps)} to {least}{r(upper.eps)} events/s (lower: {lower.text}; "
                f"upper: {upper.text})")
    else:
        text = f"{head}: not concluded (lower: {lower.text}; upper: {upper.text})"
    return TierResult(t.name, t.percentile, t.target_s, _band(t), status, lower.eps, upper.eps, lower, upper, text,
                      notes)


def summarize(search: Search, *, search_id: str, scenario: str, time_scale: float) -> SearchResult:
    tiers = tuple(tier_result(search, t) for t in search.tiers)
    notes = tuple(search.stuck())
    if search.stopped == "interrupted":
        code, reason = ExitCode.INVALID, "the search was interrupted: what ran is summarised"
    elif any(t.status == INCONCLUSIVE for t in tiers):
        bad = next(t for t in tiers if t.status == INCONCLUSIVE)
        code, reason = ExitCode.INVALID, bad.summary
    elif any(t.status == NEVER for t in tiers):
        code, reason = ExitCode.SLO_FAILED, next(t for t in tiers if t.status == NEVER).summary
    else:
        code, reason = ExitCode.OK, f"a range was found for every searched tier ({len(search.steps)} steps)"
    if search.stopped == "budget":
        notes += ("the time budget (--budget-s) ended the search: brackets may be wider than --precision",)
    return SearchResult(search_id, scenario, time_scale, search.config, tiers, search.steps, search.stopped,
                        int(code), reason, notes)


def write_json(path: Path, result: SearchResult) -> None:
    write_json_atomic(path / SEARCH_JSON, result.to_dict())
