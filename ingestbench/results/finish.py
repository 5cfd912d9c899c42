"""The end of every run, and of ``ingestbench report``: judge a results directory from its files, record the
verdict in ``run.json``, write ``judged.jsonl`` and the reports, and hand back what to print.

``run`` finishes its own directory when its children have stopped; ``report`` finishes one again later (also
one whose run was killed: its status becomes ``incomplete`` and it is judged as one that did not finish). Both
take the same path, so the same files give the same verdicts, reports and exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestbench.checks.judge import RunVerdict
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.run_record import INCOMPLETE, RunRecord
from ingestbench.results.judging import judge_files, slo_for, with_verdict, write_judged
from ingestbench.results.report_md import summary
from ingestbench.results.reports import write_reports
from ingestbench.results.rundir import RUN_JSON, RunFiles


@dataclass(frozen=True)
class Finished:
    """A judged results directory: its exit code, the reports written, and the summary to print."""

    path: Path
    verdict: RunVerdict
    record: RunRecord  # run.json as written
    written: tuple[str, ...]
    summary: str  # the Markdown report's result line and tables (the whole report is in report.md)

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code


def finish(path: Path, *, amend: Callable[[RunRecord, RunFiles], RunRecord] | None = None) -> Finished:
    """Judge the directory at ``path`` exactly as ``ingestbench gate`` would and write what it concludes.
    ``amend`` adds what only the caller knows to the judged run record (a run: when it finished)."""
    files = RunFiles.load(path, with_ids=True)
    verdict = judge_files(files, slo_for(files, None))  # a killed run says so among its invalid reasons
    run = with_verdict(files.run, verdict, files)
    if not run.ended:
        run = run.with_(status=INCOMPLETE)  # still judged as one that did not finish
    if amend is not None:
        run = amend(run, files)
    files.run = run
    write_json_atomic(files.path / RUN_JSON, run.to_dict())
    write_judged(files, verdict)
    written = write_reports(files)
    return Finished(files.path, verdict, run, tuple(written), summary(files))
