"""``ingestbench run --replicates N``: the same plan run N times, one after another, each with a fresh embedded
target, its own run id (``<set id>-r1`` ...), its own results directory inside the set's, and its own verdict;
then the set is summarised (:mod:`ingestbench.results.replicates`). Ctrl-C stops the replicate that is running
and the set: what ran is summarised, and the set is inconclusive.

    <out>/<set id>/replicates.json, replicates.md
    <out>/<set id>/<set id>-r1/  (run.json, report.md, ... as any run)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ingestbench.orchestrate.run import Run, RunOptions, open_set
from ingestbench.records.plan import Plan
from ingestbench.records.run_record import RunRecord
from ingestbench.results import replicates
from ingestbench.results.finish import Finished


@dataclass(frozen=True)
class ReplicatesDone:
    path: Path
    summary: replicates.ReplicateSet
    finished: tuple[Finished, ...]

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def run_replicates(plan: Plan, options: RunOptions, *, scenario_text: str, count: int,
                   erratic_spread: float = replicates.ERRATIC_SPREAD) -> ReplicatesDone:
    set_dir, inner = open_set(options, plan.run_id)
    done: list[Finished] = []
    records: list[RunRecord] = []
    for i in range(1, count + 1):
        run_id = f"{plan.run_id}-r{i}"
        print(f"ingestbench: replicate {i} of {count}: {run_id}", file=sys.stderr)
        one = Run(replace(plan, run_id=run_id, probe=replace(plan.probe, run_id=run_id)), inner,
                  scenario_text=scenario_text)
        finished = one.execute()
        done.append(finished)
        records.append(finished.record)
        print(f"ingestbench: replicate {i} of {count}: {finished.verdict.reason}", file=sys.stderr)
        if one.supervisor is not None and one.supervisor.interrupted:
            break
    summary = replicates.summarize(records, requested=count, erratic_spread=erratic_spread)
    replicates.write(set_dir, summary)
    return ReplicatesDone(set_dir, summary, tuple(done))
