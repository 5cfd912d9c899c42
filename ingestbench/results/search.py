"""``ingestbench search``: where a promise holds. Pure decisions over judged steps, no I/O.

For each searched tier the search finds the lowest rate from which its SLO holds (``holds_from_eps``: below it
the tier's promise is not kept, e.g. the high tier's 3 s before batches fill fast enough) and the highest rate at
which it still holds with the load delivered (``holds_up_to_eps``). Each step is a whole run at one rate, judged on
its own; this module only decides which rate comes next and what the steps so far say.

Method: climb from ``min_eps`` by ``factor`` (and to ``max_eps``) until every searched tier has passed and then
failed above that, or the load could not be delivered, or ``max_eps`` is reached; then bisect (geometric midpoint)
the widest bracket until each is within ``precision`` (``upper / lower - 1``). A bound with nothing to bisect is
the tier's band edge (a rate band's end is where another tier's promise starts), the search's own range, or the
load's ceiling: a rate at which the step's load was not delivered is never read as the target's capacity.

A step's load is ``delivered`` (every step check valid), refused by the ``target`` (the step fell short because the
target failed requests while the generator had room: at that rate the promise is not kept), or not sent by the
``generator``: a generator process or its machine was CPU-bound, or its users could not keep up with the schedule
(too few, or held by slow answers: an open-model generator with enough of them sends at any rate) while nothing
was refused. The remedy is more generator (``--processes``, ``[load] max_users_per_process``), and the target's
capacity is not known there. A step that ran into other trouble (the run's own problems, interrupted) decides
nothing; one retry is made at its rate.

>>> bands = (SearchTier("high", 95.0, 0.3, 1000.0, math.inf),)
>>> s = Search(SearchConfig(1000, 8000), bands)
>>> s.next_rate()  # the band is entered just inside its edge: canaries are tiered by the achieved rate
(1020.0, 'climb')
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from ingestbench.checks.quantiles import upper_bound_min_n
from ingestbench.loadgen.step_check import CPU_BOUND
from ingestbench.records.run_record import RunRecord
from ingestbench.records.slo import Slo, Tier
from ingestbench.records.verdicts import FAIL, PASS

DELIVERED, GENERATOR, TARGET, TROUBLE = "delivered", "generator", "target", "trouble"
EDGE_MARGIN = 1.02  # a band's edge is tried this far inside it: canaries are tiered by the achieved rate
STEADY_MARGIN = 1.2  # more canaries than the percentile needs: stalls and transitions take some out
SEARCH_JSON = "search.json"


@dataclass(frozen=True)
class SearchConfig:
    min_eps: float
    max_eps: float
    precision: float = 0.05
    factor: float = 2.0
    budget_s: float | None = None


@dataclass(frozen=True)
class SearchTier:
    """A searched tier: its promise and the band of rates it is judged in (``[low_eps, high_eps)``)."""

    name: str
    percentile: float
    target_s: float  # scaled
    low_eps: float = 0.0
    high_eps: float = math.inf

    @classmethod
    def of(cls, slo: Slo, tier: Tier) -> SearchTier:
        return cls(tier.name, tier.percentile, slo.target_s(tier), tier.at_least_eps or 0.0,
                   math.inf if tier.below_eps is None else tier.below_eps)

    def holds(self, rate_eps: float) -> bool:
        return self.low_eps <= rate_eps < self.high_eps


@dataclass(frozen=True)
class SearchStep:
    """One judged step: a whole run at ``rate_eps``."""

    index: int
    rate_eps: float
    run_id: str
    why: str  # climb | bisect <tier> <side> | edge <tier> | retry
    duration_s: float  # of load, scaled
    delivered: str
    outcomes: dict[str, str]  # tier -> pass | fail (only tiers the step decides)
    judged_s: dict[str, float | None]  # tier -> its judged percentile (None: not measured; inf: lost)
    exit_code: int
    reason: str
    wall_s: float = 0.0


def step_duration_s(slo: Slo, tiers: list[Tier], interval_s: float) -> float:
    """Load long enough for a conclusive percentile in every tier judged at a rate: after the tier's warm-up,
    the canaries its percentile's upper confidence bound needs (72 for a p95), with a margin, and its target
    (canaries sent that close to the end are in transition)."""
    longest = 0.0
    for t in tiers:
        need = max(t.min_samples, upper_bound_min_n(t.percentile / 100.0))
        warm = slo.warmup_s(t) if t.banded else 0.0
        longest = max(longest, warm + math.ceil(need * STEADY_MARGIN + 1) * interval_s + slo.target_s(t))
    return round(longest, 3)


def classify(record: RunRecord, tiers: tuple[SearchTier, ...], rate_eps: float) -> tuple[str, dict[str, str],
                                                                                            dict[str, float | None]]:
    """What a judged step says: was its load delivered (and if not, by whom), and each tier's pass or fail."""
    judged = {t.tier: t.judged_s for t in record.tiers}
    bad = [s for s in record.steps if not s.valid]
    if record.status != "finished" or record.run_problems or not record.steps or any(
            g.lost_at_s is not None for g in record.generators):
        return TROUBLE, {}, judged
    delivered = DELIVERED
    if bad:
        cpu = max([c for s in bad for c in (s.generator_cpu_peak, s.host_cpu_peak) if c is not None], default=0.0)
        delivered = TARGET if cpu < CPU_BOUND and any(s.failed_events for s in bad) else GENERATOR
    outcomes: dict[str, str] = {}
    for verdict in record.tiers:
        mine = next((t for t in tiers if t.name == verdict.tier), None)
        if mine is None or not mine.holds(rate_eps):
            continue
        if delivered == TARGET:  # the target refused part of the load: at this rate its promise is not kept
            outcomes[mine.name] = FAIL
        elif delivered == DELIVERED and verdict.status in (PASS, FAIL):
            outcomes[mine.name] = verdict.status
    return delivered, outcomes, judged


@dataclass(frozen=True)
class Search:
    config: SearchConfig
    tiers: tuple[SearchTier, ...]
    steps: tuple[SearchStep, ...] = ()
    stopped: str = ""  # why no more steps: precision | budget | interrupted | stuck | max-steps

    def with_step(self, step: SearchStep) -> Search:
        return replace(self, steps=(*self.steps, step))

    # --- what the steps say --------------------------------------------------------------------------
    def ceiling(self) -> SearchStep | None:
        """The lowest rate whose load could not be delivered (not the target's doing): nothing above is tried."""
        capped = [s for s in self.steps if s.delivered == GENERATOR]
        return min(capped, key=lambda s: s.rate_eps) if capped else None

    def _observed(self, tier: SearchTier) -> list[tuple[float, str]]:
        return sorted((s.rate_eps, s.outcomes[tier.name]) for s in self.steps if tier.name in s.outcomes)

    def _tried(self, rate: float) -> int:
        return sum(1 for s in self.steps if math.isclose(s.rate_eps, rate, rel_tol=1e-9))

    def _edges(self, tier: SearchTier) -> tuple[float, float]:
        """The lowest and highest rate this tier can be tried at within the search's range."""
        low = max(self.config.min_eps, tier.low_eps * EDGE_MARGIN if tier.low_eps > 0 else 0.0)
        high = min(self.config.max_eps, tier.high_eps / EDGE_MARGIN)
        return low, high

    def _climb_done(self) -> bool:
        tested = [s.rate_eps for s in self.steps]
        if not tested:
            return False
        top = max(tested)
        ceiling = self.ceiling()
        if ceiling is not None or top >= self.config.max_eps * (1 - 1e-9):
            return True
        for tier in self.tiers:
            obs = self._observed(tier)
            passes = [r for r, o in obs if o == PASS]
            topped = top >= self._edges(tier)[1] * (1 - 1e-9)
            failed_above = bool(passes) and any(o == FAIL and r > max(passes) for r, o in obs)
            if not (topped or failed_above):
                return False
        return True

    def _climb_rates(self) -> list[float]:
        """``min_eps`` times powers of ``factor`` up to ``max_eps``, each band entered just inside its lower edge,
        and no rate within :data:`EDGE_MARGIN` of an edge (its canaries could be tiered on either side)."""
        c = self.config
        rates = {min(c.max_eps, c.min_eps * c.factor ** k) for k in range(200)
                 if c.min_eps * c.factor ** (k - 1) < c.max_eps}
        rates |= {low for low, _ in map(self._edges, self.tiers) if c.min_eps < low < c.max_eps}
        return sorted({self._inside(r) for r in rates})

    def _inside(self, rate: float) -> float:
        for tier in self.tiers:
            if tier.low_eps > 0 and tier.low_eps <= rate < tier.low_eps * EDGE_MARGIN:
                return tier.low_eps * EDGE_MARGIN
            if tier.high_eps / EDGE_MARGIN < rate < tier.high_eps:
                return tier.high_eps / EDGE_MARGIN
        return rate

    def next_rate(self) -> tuple[float, str] | None:
        """The next rate to run and why; None when the search is done (or cannot narrow anything more)."""
        if self.stopped:
            return None
        if not self._climb_done():
            top = max((s.rate_eps for s in self.steps), default=0.0)
            ahead = [r for r in self._climb_rates() if r > top * (1 + 1e-9)]
            if ahead:
                return ahead[0], "climb"
        choices = []
        for lo, hi, name, side in (g for t in self.tiers for g in self._gaps(t)):
            if side != "edge" and hi / lo - 1 <= self.config.precision:
                continue
            rate = lo if side == "edge" else _round_inside(math.sqrt(lo * hi), lo, hi)
            if self._tried(rate) < 2:  # twice undecided there: that bracket stays as it is
                why = f"edge {name}" if side == "edge" else f"bisect {name} {side}"
                choices.append((side == "edge", hi / lo, rate, "retry" if self._tried(rate) else why))
        if not choices:
            return None
        _, _, rate, why = max(choices)
        return rate, why

    def stuck(self) -> list[str]:
        """Brackets left wider than the precision because the rate that would narrow them decided nothing twice."""
        out = []
        for lo, hi, name, side in (g for t in self.tiers for g in self._gaps(t)):
            rate = lo if side == "edge" else _round_inside(math.sqrt(lo * hi), lo, hi)
            if (side == "edge" or hi / lo - 1 > self.config.precision) and self._tried(rate) >= 2:
                out.append(f"tier {name}: two steps at {rate:,.0f} events/s decided nothing, so its "
                           f"{'band edge' if side == 'edge' else side + ' bound'} was not narrowed there")
        return out

    def _gaps(self, tier: SearchTier) -> list[tuple[float, float, str, str]]:
        """Brackets of this tier still to narrow: (lower rate, upper rate, tier, side); side "edge" asks for a
        band edge (lower rate) to be tried once."""
        obs = self._observed(tier)
        passes = [r for r, o in obs if o == PASS]
        if not passes:
            return []
        low_edge, high_edge = self._edges(tier)
        p_min, p_max = min(passes), max(passes)
        out = []
        below = [r for r, o in obs if o == FAIL and r < p_min]
        if below:
            out.append((max(below), p_min, tier.name, "lower"))
        elif p_min > low_edge * (1 + 1e-9) and self._tried(low_edge) < 2:
            out.append((low_edge, low_edge, tier.name, "edge"))
        above = [r for r, o in obs if o == FAIL and r > p_max]
        ceiling = self.ceiling()
        cap = min([*above, *([ceiling.rate_eps] if ceiling is not None and ceiling.rate_eps > p_max else [])],
                  default=None)
        if cap is not None:
            out.append((p_max, cap, tier.name, "upper"))
        elif p_max < high_edge * (1 - 1e-9) and self._tried(high_edge) < 2 and (
                ceiling is None or ceiling.rate_eps > high_edge):
            out.append((high_edge, high_edge, tier.name, "edge"))
        return out


def _round_inside(rate: float, lo: float, hi: float) -> float:
    """``rate`` to three significant figures when that stays strictly between ``lo`` and ``hi``."""
    digits = 2 - math.floor(math.log10(rate))
    rounded = round(rate, digits)
    return float(rounded) if lo < rounded < hi else rate


def as_dict(obj: Any) -> Any:
    """JSON-ready: infinities become null."""
    doc = asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj
    if isinstance(doc, dict):
        return {k: as_dict(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [as_dict(v) for v in doc]
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    return doc

