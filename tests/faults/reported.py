"""What a fault run reported, read back for the target-fault tests: outcomes, errors, the report's "what went
wrong" episodes placed against the fake's own fault window, and the checks every case shares."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.faults.faulty_target import FaultyTarget
from tests.faults.runs import FaultRun, gate
from tests.servers import PipelineProcess


@dataclass
class Case:
    run: FaultRun
    fake: FaultyTarget | None = None
    pipeline: PipelineProcess | None = None
    fault_at: float | None = None  # monotonic time the test applied a fault to a real pipeline
    stored: Counter[str] = field(default_factory=Counter)  # canary id -> events stored (pipeline cases)



def outcomes(run: FaultRun) -> dict[str, dict[str, Any]]:
    return {r["canary_id"]: r for r in run.judged()}


def errors(run: FaultRun) -> dict[str, str]:
    return {s["canary_id"]: s.get("error") or "" for s in run.jsonl("samples.jsonl") if s["outcome"] == "errored"}


def episode_rows(run: FaultRun) -> list[tuple[float, float, str, str]]:
    """The report's "what went wrong, and when" table."""
    text = run.report().split("## What went wrong, and when", 1)
    assert len(text) == 2, "the report has no 'what went wrong' section"
    rows = []
    for line in text[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].replace(".", "").lstrip("-").isdigit():
            rows.append((float(cells[0]), float(cells[1]), cells[2], cells[3]))
    return rows


def assert_ended_cleanly(case: Case, code: int) -> dict[str, Any]:
    """Ended by itself with ``code``, no traceback anywhere, ``gate`` agrees; returns run.json."""
    run = case.run
    assert run.code == code, run.output[-3000:]
    assert "Traceback" not in run.output
    for log in (run.run_dir / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log
    again = gate(run.run_dir)
    assert again.returncode == code, again.stdout + again.stderr
    return run.doc


def assert_step_invalid_for(doc: dict[str, Any], *words: str) -> None:
    (step,) = doc["steps"]
    assert step["valid"] is False, step
    assert all(w in step["reason"] for w in words), step["reason"]
    assert any("was not reached" in r for r in doc["invalid_reasons"]), doc["invalid_reasons"]


def assert_refused_canaries_are_errored(case: Case, error_text: str) -> None:
    """Exactly the canaries the fake failed are errored, each with the error it met, and none is lost."""
    assert case.fake is not None
    hit = set(case.fake.canaries_hit)
    errored = errors(case.run)
    assert hit and set(errored) == hit, (len(hit), len(errored))
    assert all(error_text in e for e in errored.values()), Counter(errored.values())
    judged = outcomes(case.run)
    assert not [c for c, r in judged.items() if r["outcome"] in ("lost", "late")]


LOAD_TIMEOUT_S = 10.0  # a load request sent in a fault's window has failed by this long after it


def fault_window(case: Case) -> tuple[float, float, float]:
    """The fake's fault window in the report's time (seconds after the load started, from the rate timeline;
    the fake's clock starts at the first load request it saw), and the slack the comparison needs on this
    machine now: the rate timeline's whole second, plus the longest a canary took from its send time to
    reaching the fake in this run (measured: a busy machine delays requests by that much)."""
    assert case.fake is not None and case.fake.t0_unix_s is not None
    (fault,) = case.fake.faults
    first = case.run.seconds()[0]
    zero = case.fake.t0_unix_s - (first["unix_s"] - first["t_s"] - 1.0)
    sent = {s["canary_id"]: s["sent_unix_ms"] / 1000.0 for s in case.run.jsonl("samples.jsonl")}
    delay = max(at - sent[c] for c, at in case.fake.arrived_unix_s.items() if c in sent)
    return zero + fault.start_s, zero + fault.end_s, 1.0 + max(delay, 0.0)


def assert_fault_reported_at(case: Case, where: str, text: str) -> None:
    """The report places the fault where the fake had it: its first sign inside the window (give or take the
    measured slack), its last no later than a request sent in the window can fail."""
    rows = [r for r in episode_rows(case.run) if r[2] == where and text in r[3]]
    assert rows, episode_rows(case.run)
    start, end = rows[0][0], rows[-1][1]
    begin, finish, slack = fault_window(case)
    assert begin - slack <= start <= finish + slack, (rows, begin, finish, slack)
    assert end <= finish + slack + (LOAD_TIMEOUT_S if where == "load" else 0.0), (rows, begin, finish, slack)
