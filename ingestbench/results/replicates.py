"""A set of replicates (``ingestbench run --replicates N``): the same scenario run N times, each judged on its
own, summarised per tier: how many replicates passed, how far their judged percentiles spread, and whether
that spread makes the tier *erratic*.

A tier is erratic when its replicates' judged percentile (p95 unless the SLO says otherwise) spans more than
``erratic_spread`` of the tier's target: (max - min) / target. Then whether a single run passes is a matter of
luck, and the set says so (exit code 3, inconclusive) instead of passing or failing it. How 0.25 was chosen
(README, "Replicates"): identical replicates of ``quick`` on the embedded pipeline spread by at most 0.072 of
the target on a quiet 2-core machine and 0.163 with the machine saturated by other work (both the
transactional tier, whose few milliseconds move most under CPU contention); 0.25 is above both, while a target
whose delay alternates between replicates spreads by 0.7 of it.

Verdict of the set, by precedence: 3 when a replicate is invalid (named) or a tier is erratic; 1 when a tier
failed in any replicate (a promise that holds in k < N runs does not hold); 0 when every tier passed in every
replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.run_record import RunRecord
from ingestbench.records.verdicts import PASS

ERRATIC_SPREAD = 0.25
SUMMARY_JSON = "replicates.json"
SUMMARY_MD = "replicates.md"


@dataclass(frozen=True)
class TierSpread:
    tier: str
    percentile: float
    target_s: float
    passed: int
    judged: int  # replicates in which the tier had a verdict
    values_s: tuple[float | None, ...]  # the judged percentile per replicate (None: not measured)
    p50_s: tuple[float | None, ...]
    spread: float | None  # (max - min) of values_s / target_s
    erratic: bool
    status: str  # pass | fail | erratic


@dataclass(frozen=True)
class ReplicateSet:
    run_ids: tuple[str, ...]
    tiers: tuple[TierSpread, ...]
    invalid: tuple[str, ...]  # "<run id>: <first reason>" of each invalid replicate
    erratic_spread: float
    exit_code: int
    reason: str
    requested: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _spread(values: Sequence[float | None], target_s: float) -> float | None:
    known = [v for v in values if v is not None]
    if len(known) < 2 or target_s <= 0:
        return None
    return (max(known) - min(known)) / target_s


def summarize(runs: Sequence[RunRecord], *, requested: int, erratic_spread: float = ERRATIC_SPREAD) -> ReplicateSet:
    """The set's verdict from its replicates' judged run records (in the order they ran)."""
    invalid = tuple(f"{r.run_id}: {r.invalid_reasons[0] if r.invalid_reasons else r.status}" for r in runs
                    if r.exit_code == int(ExitCode.INVALID) or not r.tiers)
    names = list(dict.fromkeys(t.tier for r in runs for t in r.tiers))
    tiers = []
    for name in names:
        per = [next((t for t in r.tiers if t.tier == name), None) for r in runs]
        first = next(t for t in per if t is not None)
        values = tuple(t.judged_s if t is not None else None for t in per)
        spread = _spread(values, first.target_s)
        erratic = spread is not None and spread > erratic_spread
        passed = sum(1 for t in per if t is not None and t.status == PASS)
        judged = sum(1 for t in per if t is not None)
        status = "erratic" if erratic else ("pass" if passed == len(runs) else "fail")
        tiers.append(TierSpread(tier=name, percentile=first.percentile, target_s=first.target_s, passed=passed,
                                judged=judged, values_s=values, p50_s=tuple(t.p50_s if t else None for t in per),
                                spread=None if spread is None else round(spread, 4), erratic=erratic,
                                status=status))
    notes: tuple[str, ...] = ()
    if len(runs) < requested:
        notes = (f"only {len(runs)} of the {requested} replicates ran (interrupted)",)
    if invalid or len(runs) < requested:
        code, reason = ExitCode.INVALID, (f"replicate {invalid[0]}" if invalid else notes[0])
    elif any(t.erratic for t in tiers):
        bad = next(t for t in tiers if t.erratic)
        code = ExitCode.INVALID
        reason = (f"tier {bad.tier} is erratic: its p{bad.percentile:g} spread over {_fmt(bad.spread)} of its "
                  f"{bad.target_s:g} s target across replicates (> {erratic_spread:g}): a single run passes or "
                  "fails it by luck")
    elif any(t.status == "fail" for t in tiers):
        bad = next(t for t in tiers if t.status == "fail")
        code, reason = ExitCode.SLO_FAILED, f"tier {bad.tier}: {bad.passed} of {len(runs)} replicates passed"
    else:
        code, reason = ExitCode.OK, f"every tier passed in all {len(runs)} replicates"
    return ReplicateSet(run_ids=tuple(r.run_id for r in runs), tiers=tuple(tiers), invalid=invalid,
                        erratic_spread=erratic_spread, exit_code=int(code), reason=reason, requested=requested,
                        notes=notes)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def markdown(s: ReplicateSet) -> str:
    n = len(s.run_ids)
    lines = [f"# ingestbench replicates ({n} of {s.requested})", "",
             f"**Result: {ExitCode(s.exit_code).meaning}** (exit code {s.exit_code}). {s.reason}.", ""]
    lines += [f"- **invalid replicate:** {r}" for r in s.invalid]
    lines += [f"- note: {note}" for note in s.notes]
    lines += ["", "| tier | passed | judged percentile per replicate s | spread / target | p50 per replicate s | "
              "target s | result |", "|---|---|---|---|---|---|---|"]
    for t in s.tiers:
        values = " · ".join(_fmt(v) for v in t.values_s)
        p50 = " · ".join(_fmt(v) for v in t.p50_s)
        result = {"pass": "✅ pass", "fail": "❌ fail", "erratic": "⚠️ erratic"}[t.status]
        lines.append(f"| {t.tier} | {t.passed} of {n} replicates passed | p{t.percentile:g}: {values} | "
                     f"{_fmt(t.spread)} | {p50} | {t.target_s:g} | {result} |")
    lines += ["", f"A tier is erratic when its judged percentile spreads over more than {s.erratic_spread:g} of its "
              "target across replicates. Each replicate's own report is in its directory: "
              + ", ".join(f"`{r}/`" for r in s.run_ids) + "."]
    return "\n".join(lines) + "\n"


def write(set_dir: Path, s: ReplicateSet) -> None:
    write_json_atomic(set_dir / SUMMARY_JSON, s.to_dict())
    (set_dir / SUMMARY_MD).write_text(markdown(s), encoding="utf-8")
