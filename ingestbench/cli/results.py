"""Commands over finished (or killed) runs: ``report``, ``gate`` and ``compare``.

    ingestbench report results/<run-id>                  # re-render report.md / report.html / junit.xml
    ingestbench gate results/<run-id> --slo strict.toml  # re-judge against another SLO file
    ingestbench compare results/<base> results/<candidate> [--markdown PATH] [--junit PATH]

``compare`` exits 1 on a regression and 3 when nothing can be concluded (an invalid run on either side,
different scenarios, a tier judged on one side only); docs/compare.md has the method.
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
from ingestbench.records.slo_file import load_slo
from ingestbench.results import compare_render
from ingestbench.results.ab_inputs import load_side
from ingestbench.results.ab_stats import SEED
from ingestbench.results.compare import compare_sides
from ingestbench.results.finish import finish
from ingestbench.results.judging import judge_files, slo_for
from ingestbench.results.rundir import SLO_COPY, RunFiles


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
    c = command(sub, "compare", summary="compare a candidate with a baseline (A/B), per tier and metric",
                description="Compare a candidate with a baseline: each tier's TTA p50/p95/p99 and lost and "
                "errored shares, each load step's achieved rate and the observed target's CPU and memory, each "
                "with its change, a bootstrap (or score) interval and the confidence that it got worse. BASE and "
                "CANDIDATE are each a run's results directory or a directory of several runs of one scenario (a "
                "replicate set). A change is a regression when it is worse with at least --confidence and by "
                "at least --min-change (the SLO file's [compare] table; docs/compare.md).",
                examples=("ingestbench compare results/base results/candidate",
                          "ingestbench compare base-runs/ candidate-runs/ --markdown compare.md --junit compare.xml"),
                exits="exit codes: 0 no regression · 1 something regressed · 2 bad usage · 3 cannot be compared "
                "(an invalid run, different scenarios, a tier judged on one side only)")
    c.add_argument("base_dir", metavar="BASE", help="the baseline: a run's results directory, or a directory of runs")
    c.add_argument("candidate_dir", metavar="CANDIDATE", help="the candidate: the same")
    c.add_argument("--slo", default=None, metavar="PATH",
                   help="SLO file whose [compare] table sets the rules (default: the candidate's copy)")
    c.add_argument("--confidence", type=float, default=None,
                   help="confidence needed that a change is worse, for every metric (default 0.9)")
    c.add_argument("--min-change", type=float, default=None,
                   help="smallest relative change that counts, for every relative metric (default 0.05)")
    c.add_argument("--max-regression", type=float, default=None,
                   help="deprecated: the --min-change of the TTA percentiles (p50, p95, p99) only")
    c.add_argument("--markdown", default=None, metavar="PATH", help="also write the comparison as Markdown")
    c.add_argument("--junit", default=None, metavar="PATH", help="also write a JUnit XML file (a case per metric)")
    c.add_argument("--seed", type=int, default=SEED, help=f"the bootstrap's seed (default {SEED})")
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
    for name in ("confidence", "min_change", "max_regression"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value >= 0 and (name != "confidence" or
                                                                             0.5 <= value < 1)):
            bound = "in [0.5, 1)" if name == "confidence" else ">= 0"
            raise ConfigError(f"--{name.replace('_', '-')} must be {bound}, got {value}")
    base, cand = load_side(Path(args.base_dir)), load_side(Path(args.candidate_dir))
    if args.slo is not None and not Path(args.slo).is_file():
        raise ConfigError(f"--slo: file {args.slo} does not exist")
    slo_path = Path(args.slo) if args.slo is not None else cand.runs[0].files.path / SLO_COPY
    rules = load_slo(slo_path if slo_path.is_file() else None).compare
    rules = rules.with_defaults(confidence=args.confidence, min_change=args.min_change)
    if args.max_regression is not None:
        print("--max-regression is deprecated: it sets min_change of p50, p95 and p99 (use [compare] in the SLO "
              "file, or --min-change)", file=sys.stderr)
        rules = rules.with_defaults(min_change=args.max_regression, metrics=("p50", "p95", "p99"))
    result = compare_sides(base, cand, rules, seed=args.seed)
    source = slo_path if slo_path.is_file() else "the defaults"
    heading = (f"baseline {base.path} ({len(base.runs)} run{'s' * (len(base.runs) > 1)}) · candidate {cand.path} "
               f"({len(cand.runs)} run{'s' * (len(cand.runs) > 1)}) · rules from {source}")
    print(compare_render.terminal(result, heading).rstrip("\n"))  # ends its line: stderr's summary follows
    if args.markdown:
        Path(args.markdown).write_text(compare_render.markdown(result, heading), encoding="utf-8")
    if args.junit:
        Path(args.junit).write_text(compare_render.junit(result), encoding="utf-8")
    if result.problems or result.regressions:
        print(compare_render.summary(result), file=sys.stderr)
    if result.problems:
        return int(ExitCode.INVALID)
    return int(ExitCode.SLO_FAILED) if result.regressions else int(ExitCode.OK)
