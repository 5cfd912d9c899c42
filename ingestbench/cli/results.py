"""Commands over finished (or killed) runs: ``report``, ``gate`` and ``compare``.

    ingestbench report results/<run-id>                  # re-render report.md / report.html / junit.xml
    ingestbench gate results/<run-id> --slo strict.toml  # re-judge against another SLO file
    ingestbench compare results/<base> results/<candidate> [--max-regression 0.10]

``compare`` exits 1 on a regression and 3 when either run is invalid (nothing can be concluded from it).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ingestbench.cli.help import command
from ingestbench.records.config import ConfigError
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.numbers import fmt
from ingestbench.results.compare import compare_runs
from ingestbench.results.finish import finish
from ingestbench.results.judging import judge_files, slo_for
from ingestbench.results.rundir import RunFiles


def register(sub: Any) -> None:
    r = command(sub, "report", summary="judge a run's files again and re-render its reports (also a killed run)",
                description="Judge a results directory from its files alone and write its reports again "
                "(report.md, report.html, junit.xml, run.json's verdicts). A run that was killed is judged from "
                "what it recorded, and marked incomplete.", examples=("ingestbench report results/latest",),
                exits="exit codes: 0 reports written · 2 not a results directory")
    r.add_argument("run_dir", metavar="RUN_DIR", help="a run's (or a probe's) results directory")
    r.set_defaults(func=report)
    g = command(sub, "gate", summary="judge a finished run again, optionally against another SLO file",
                description="Judge a results directory from its files alone, print the verdict per tier and "
                "exit as the run did: for the run's own SLO, the same exit code as the command that produced the "
                "directory. With --slo, judge it against another SLO file (a stricter promise, say).",
                examples=("ingestbench gate results/latest", "ingestbench gate results/latest --slo strict.toml"))
    g.add_argument("run_dir", metavar="RUN_DIR", help="a run's (or a probe's) results directory")
    g.add_argument("--slo", default=None, metavar="PATH", help="SLO file (default: the one the run used)")
    g.set_defaults(func=gate)
    c = command(sub, "compare", summary="compare a candidate run with a baseline, per tier",
                description="Show the baseline's, the candidate's and the change of each tier's judged "
                "percentile. A tier regresses when its percentile grew by more than --max-regression and by more "
                "than --min-change of its target.",
                examples=("ingestbench compare results/base results/candidate --max-regression 0.10",),
                exits="exit codes: 0 no regression · 1 a tier regressed · 2 bad usage · 3 a run is invalid, so "
                "the comparison proves nothing")
    c.add_argument("base_dir", metavar="BASE_DIR", help="the baseline run's results directory")
    c.add_argument("candidate_dir", metavar="CANDIDATE_DIR", help="the candidate run's results directory")
    c.add_argument("--max-regression", type=float, default=0.10,
                   help="allowed growth of a judged percentile, as a fraction (default 0.10 = 10%%)")
    c.add_argument("--min-change", type=float, default=0.05,
                   help="ignore growth smaller than this fraction of the tier's target (default 0.05)")
    c.set_defaults(func=compare)


def _load(run_dir: str, *, with_ids: bool = False, samples: bool = True) -> RunFiles:
    try:
        return RunFiles.load(Path(run_dir), with_ids=with_ids, samples=samples)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def report(args: argparse.Namespace) -> int:
    try:
        done = finish(Path(args.run_dir))
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    print(f"wrote {', '.join(str(done.path / w) for w in done.written)}")
    return int(ExitCode.OK)


def gate(args: argparse.Namespace) -> int:
    files = _load(args.run_dir)
    if args.slo is not None and not Path(args.slo).is_file():
        raise ConfigError(f"--slo: file {args.slo} does not exist")
    verdict = judge_files(files, slo_for(files, args.slo), other_slo=args.slo is not None)
    print(f"{'tier':14} {'n':>5} {'p50 s':>8} {'p95 s':>8} {'p99 s':>8} {'target':>7} {'lost':>5} {'err':>4}  result")
    for v in verdict.tiers:
        print(f"{v.tier:14} {v.n:5d} {fmt(v.p50_s):>8} {fmt(v.p95_s):>8} {fmt(v.p99_s):>8} {fmt(v.target_s):>7} "
              f"{v.lost:5d} {v.errored:4d}  {v.status}: {v.reason}")
    for reason in verdict.invalid_reasons:
        print(f"invalid: {reason}")
    print(f"{verdict.status.upper()}: {verdict.reason}")
    print(f"exit code {int(verdict.exit_code)}")
    return int(verdict.exit_code)


def compare(args: argparse.Namespace) -> int:
    if not args.max_regression >= 0:
        raise ConfigError(f"--max-regression must be >= 0, got {args.max_regression}")
    base, cand = _load(args.base_dir, samples=False), _load(args.candidate_dir, samples=False)
    for f in (base, cand):
        if not f.run.tiers:
            raise ConfigError(f"{f.path} has no verdicts yet: run `ingestbench report {f.path}` first")
    rows = compare_runs(base.run.tiers, cand.run.tiers, max_regression=args.max_regression,
                        min_change=args.min_change)
    print(f"{'tier':14} {'pct':>4} {'baseline s':>11} {'candidate s':>12} {'change':>8}  verdict")
    for r in rows:
        change = "–" if r.change is None else ("∞" if math.isinf(r.change) else f"{r.change:+.0%}")
        print(f"{r.tier:14} p{r.percentile:<3g} {fmt(r.base_s):>11} {fmt(r.candidate_s):>12} {change:>8}  "
              f"{'REGRESSION: ' if r.regressed else ''}{r.note}")
    regressed = [r.tier for r in rows if r.regressed]
    invalid = [(role, f) for role, f in (("baseline", base), ("candidate", cand))
               if f.run.exit_code == ExitCode.INVALID]
    for role, f in invalid:
        reasons = f.run.invalid_reasons or ("no reason recorded",)
        print(f"the {role} run is invalid, so this comparison proves nothing: {reasons[0]}", file=sys.stderr)
    if invalid:
        return int(ExitCode.INVALID)
    if regressed:
        print(f"regression in tier {', '.join(regressed)}", file=sys.stderr)
        return int(ExitCode.SLO_FAILED)
    return int(ExitCode.OK)
