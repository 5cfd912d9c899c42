"""Hypothesis strategies for whole runs as their files hold them: a promise (TOML document), rate rows, sample
rows, step validity, expected tiers. Values sit on coarse grids (rates in steps of 50 events/s, times in
tenths of a second, TTAs in twentieths) so that band edges, window edges and targets are hit exactly, where a
``<`` written as ``<=`` shows.

:func:`product_inputs` turns a run into what :func:`ingestbench.checks.judge.judge_run` takes; the oracle takes
the rows themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from ingestbench.checks.judge import RateSource
from ingestbench.records.observation import Observation
from ingestbench.records.samples import SampleColumns
from ingestbench.records.slo import Slo
from ingestbench.records.slo_file import parse_slo
from ingestbench.records.timeline import SecondRow, StepRow

S = 1_000_000_000
T0 = 1_800_000_000.0
# deterministic: the same examples on every run, nothing written to a database. The mutation check
# (tests/mutation_check.py) only needs to know that an example fails, not the smallest one: it skips shrinking.
_PHASES = tuple(p for p in Phase if p != Phase.shrink or not os.environ.get("INGESTBENCH_NO_SHRINK"))
PROPERTY = settings(max_examples=120, deadline=None, derandomize=True, database=None, phases=_PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@dataclass
class Run:
    doc: dict[str, Any]
    scale: float
    rate_rows: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    declared: float | None = None
    expected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def slo(self) -> Slo:
        return parse_slo(self.doc).scaled(self.scale)

    @property
    def end_unix_s(self) -> float:
        seconds = [r["unix_s"] for r in self.rate_rows if r.get("type") == "second"]
        return max(seconds) if seconds else T0 + 10.0


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True once in ``n`` draws (Hypothesis favours the first of a list, so the usual case comes first)."""
    return draw(st.sampled_from([False] * (n - 1) + [True]))


@st.composite
def promises(draw: st.DrawFn) -> dict[str, Any]:
    def budgets() -> dict[str, Any]:
        out: dict[str, Any] = {}
        if draw(st.booleans()):
            out["max_lost"] = draw(st.sampled_from([0, 1, 2, "10%", "25%"]))
        if draw(st.booleans()):
            out["max_errored"] = draw(st.sampled_from([0, 1, "1%", "20%"]))
        if draw(st.booleans()):
            out["lost_after"] = draw(st.sampled_from(["1x", "2x", "10x", 60]))
        return out

    def tier(name: str, path: str, **band: float) -> dict[str, Any]:
        return {"name": name, "path": path, **band, "target_s": draw(st.sampled_from([1, 2, 3, 5, 30])),
                "percentile": draw(st.sampled_from([50, 90, 95, 99])),
                "min_samples": draw(st.sampled_from([1, 1, 2, 3, 5, 20])), **budgets()}

    edge = draw(st.sampled_from([500, 1000]))
    tiers = [tier("low", "analytical", below_eps=edge)]
    if draw(st.booleans()):
        tiers.append(tier("mid", "analytical", at_least_eps=edge, below_eps=2 * edge))
        tiers.append(tier("high", "analytical", at_least_eps=2 * edge))
    else:
        tiers.append(tier("high", "analytical", at_least_eps=edge))
    if draw(st.booleans()):
        tiers.append(tier("tx", "transactional"))
    return {**budgets(), "warmup_min_s": draw(st.sampled_from([0, 2, 10])), "tier": tiers}


@st.composite
def rate_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    with_target = draw(st.booleans())
    rows: list[dict[str, Any]] = []
    t = 0
    rates = [0, 200, 450, 500, 950, 1000, 1500, 2000, 2500]
    for step in range(draw(st.integers(0, 3))):
        rate = draw(st.sampled_from(rates))
        shaped = with_target and one_in(draw, 3)  # a ramp or a replay: the asked rate moves every second
        for _ in range(draw(st.integers(1, 12))):
            t += draw(st.sampled_from([1, 1, 1, 1, 1, 1, 1, 2, 4]))  # a gap now and then
            stalled = one_in(draw, 10)
            now = draw(st.sampled_from(rates)) if shaped else rate
            rows.append({"type": "second", "t_s": t, "unix_s": T0 + t,
                         "achieved_eps": float(now + draw(st.sampled_from([0, 0, 50, -50]))),
                         "target_eps": float(now) if with_target else None, "stalled": stalled,
                         "lag_p99_s": draw(st.sampled_from([0.1, 0.9, 2.5])) if stalled else 0.001,
                         **({"regime": draw(st.sampled_from([0, step]))} if shaped else {})})
        rows.append({"type": "step", "step": step, "target_eps": rate, "achieved_eps": rate,
                     "valid": not one_in(draw, 20)})
    return rows


OUTCOME_MIX = (["available"], ["available"] * 20 + ["lost", "late", "errored"],
               ["available"] * 6 + ["lost", "late", "errored", "undecided"])


def sample(draw: st.DrawFn, i: int, end: float, *, outcome: str | None = None, path: str | None = None,
           tta_twentieths: int | None = None, mix: int = 2, tta_cap: int = 1300,
           like: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One canary's records (a lost one may be seen late; any may be written twice, or as undecided first).
    ``mix``: how rough the outcomes are (0: every canary seen); ``tta_cap``: the slowest TTA, in twentieths;
    ``like``: a record whose path and send time the canary shares (so it lands in the same tier and window)."""
    if like is not None:
        at_tenths, path = (like["sent_unix_ms"] - round(T0 * 1000)) // 100, like["path"]
    else:
        at_tenths = draw(st.integers(-30, int((end - T0) * 10) + 30))
    sent_ns = (at_tenths + 100) * (S // 10)
    common = {"canary_id": f"c{i}", "path": path or draw(st.sampled_from(["analytical"] * 4 + ["transactional"])),
              "sent_ns": sent_ns, "sent_unix_ms": round(T0 * 1000) + at_tenths * 100,
              "duplicates": draw(st.sampled_from([0, 0, 0, 1]))}
    kind = outcome or draw(st.sampled_from(OUTCOME_MIX[mix]))
    k = tta_twentieths if tta_twentieths is not None else draw(st.integers(0, tta_cap))
    seen = sent_ns + k * (S // 20)
    miss = draw(st.sampled_from([None, 1, 3, 30]))
    records: list[dict[str, Any]]
    if kind == "available":
        last = None if miss is None else seen - miss * (S // 20)
        prior = sent_ns - draw(st.integers(0, 4)) * (S // 20) if last is None and draw(st.booleans()) else None
        records = [{**common, "outcome": "available", "seen_ns": seen, "last_miss_ns": last, "prior_poll_ns": prior}]
    elif kind in ("lost", "late"):
        records = [{**common, "outcome": "lost"}]
        if kind == "late":
            records.append({**common, "outcome": "late", "seen_ns": seen + 400 * S})
    elif kind == "errored":
        records = [{**common, "outcome": "errored", "error": "server_error: HTTP 503"}]
    else:
        records = [{**common, "outcome": "undecided"}]
    if kind != "undecided" and mix == 2 and one_in(draw, 16):
        records.insert(0, {**common, "outcome": "undecided"})  # written when a probe stopped, decided later
    if one_in(draw, 16):
        records.append(records[-1])  # the same line twice
    return records


@st.composite
def runs(draw: st.DrawFn, *, max_samples: int = 40, near_target: bool = False) -> Run:
    """A run. ``near_target``: one meant to pass, its TTAs spread up to twice the fastest target of the
    promise, so that a tier can pass with slower canaries above its percentile."""
    doc = draw(promises())
    scale = draw(st.sampled_from([0.1, 0.1, 1.0]))
    rows = draw(rate_rows())
    declared = draw(st.sampled_from([None, None, None, 200.0, 1000.0, 2500.0]))
    end = max([r["unix_s"] for r in rows if r["type"] == "second"], default=T0 + 10.0)
    clean = near_target or draw(st.booleans())  # meant to pass: every canary seen, nothing else wrong
    if clean:
        rows = [{**r, "valid": True} if r["type"] == "step" else r for r in rows]
    mix = 0 if clean else draw(st.sampled_from([0, 1, 1, 2]))
    if near_target:
        cap = max(2, round(2 * min(t["target_s"] for t in doc["tier"]) * scale * 20))
    else:
        cap = draw(st.sampled_from([2, 6] if clean else [2, 6, 20, 60, 200, 600, 1300]))
    count = draw(st.integers(5 if clean else 0, max_samples))
    samples = [r for i in range(count) for r in sample(draw, i, end, mix=mix, tta_cap=cap)]
    names = [t["name"] for t in doc["tier"]]
    expected = draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if not clean else []
    problems = ["the probe exited with -9"] if not clean and one_in(draw, 30) else []
    return Run(doc, scale, rows, samples, declared, expected, problems)


def product_inputs(run: Run, samples: list[dict[str, Any]] | None = None,
                   rate_rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``judge_run``'s keyword arguments for a run (optionally with other samples or rate rows)."""
    rows = run.rate_rows if rate_rows is None else rate_rows
    seconds = [r for r in (SecondRow.from_dict(d) for d in rows if d["type"] == "second") if r]
    steps = [r for r in (StepRow.from_dict(d) for d in rows if d["type"] == "step") if r]
    slo = run.slo
    rates = RateSource(declared_rate_eps=run.declared, window_s=slo.rate_window_s) if run.declared is not None \
        else RateSource(points=tuple(s.point for s in seconds), window_s=slo.rate_window_s)
    obs = [Observation.from_record(d) for d in (run.samples if samples is None else samples)]
    return {"observations": SampleColumns.from_observations(obs, with_ids=True), "slo": slo, "rates": rates,
            "steps": steps, "problems": run.problems, "expected": run.expected}
