"""A run's results directory: what is in it and how to read it back, also after a crash.

::

    results/<run-id>/
      run.json        schema-versioned record (written at start with status "running", rewritten at the end)
      samples.jsonl   one observation per line, appended as decided (checks.recorder): facts only
      judged.jsonl    every canary with the tier, window and outcome the judge gave it (rewritten by report)
      probe.json   the probe's own record: what it sent, what it could not decide, its verdict
      rates.jsonl     the load generator's per-second rate timeline and per-step validity checks (records.timeline)
      slo.toml        the SLO file the run was judged against (a copy)
      scenario.toml   the scenario file (a copy)
      plan.json       the resolved plan every child of the run was given
      logs/           each child process's output
      report.md · report.html · junit.xml

A directory written by ``ingestbench probe`` alone has ``samples.jsonl``, ``probe.json``, ``slo.toml`` and,
when it tiered by a rate timeline or a rate query, ``rates.jsonl`` (the points it tiered by), but no
``run.json``; it reads back as a run record made from the probe's (:func:`probe_run`), which carries the time
scale, the loss horizon and the problems the probe judged with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ingestbench.checks.judge import Judged
from ingestbench.records.config import ConfigError
from ingestbench.records.run_record import FINISHED, RUNNING, ProbeRecord, RunRecord, ScenarioInfo
from ingestbench.records.samples import SampleColumns
from ingestbench.records.samples_cache import read_sample_columns
from ingestbench.records.timeline import RateTimeline, read_timeline

RUN_JSON = "run.json"
SAMPLES = "samples.jsonl"
JUDGED = "judged.jsonl"
PROBE_JSON = "probe.json"
OLD_PROBE_JSON = "verdicts.json"  # the earlier name of the probe's record: results written then still read
RATES = "rates.jsonl"
SLO_COPY = "slo.toml"
SCENARIO_COPY = "scenario.toml"
PLAN_JSON = "plan.json"


@dataclass
class RunFiles:
    """Everything judging and reports need, read from one run directory."""

    path: Path
    run: RunRecord
    samples: SampleColumns = field(default_factory=SampleColumns)
    timeline: RateTimeline = field(default_factory=RateTimeline)
    probe: ProbeRecord | None = None
    judged: Judged | None = None  # the judge's placement of every canary, once judged (what reports chart)

    @property
    def lost_after_s(self) -> float | None:
        """Every tier's loss horizon as the probe used it, when it was given one (``--lost-after``)."""
        return self.probe.lost_after_s if self.probe is not None else None

    @classmethod
    def load(cls, path: Path, *, with_ids: bool = False, samples: bool = True) -> RunFiles:
        """Read a results directory (the canaries' ids only ``with_ids``: to write ``judged.jsonl``; no samples
        at all without ``samples``: to compare records); refuses (``ConfigError``) records of an unknown
        ``schema_version``."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a results directory")
        run_doc = _json(path / RUN_JSON)
        if not run_doc and not (path / SAMPLES).exists():
            raise FileNotFoundError(f"{path} has neither {RUN_JSON} nor {SAMPLES}")
        probe_doc = _json(path / PROBE_JSON) or _json(path / OLD_PROBE_JSON)
        probe = ProbeRecord.from_dict(probe_doc) if probe_doc else None
        # a probe on its own has no run.json: its record stands for one
        run = RunRecord.from_dict(run_doc, what=str(path / RUN_JSON)) if run_doc else probe_run(path.name, probe)
        columns = read_sample_columns(path / SAMPLES, with_ids=with_ids) if samples else SampleColumns()
        return cls(path=path, run=run, samples=columns, timeline=read_timeline(path / RATES), probe=probe)


def probe_run(run_id: str, probe: ProbeRecord | None) -> RunRecord:
    """The run record of a probe on its own (finished once it wrote its record): what the judge reads of it."""
    if probe is None:
        return RunRecord(run_id=run_id, status=RUNNING)
    return RunRecord(run_id=run_id, status=FINISHED, expected_tiers=probe.expected_tiers,
                     scenario=ScenarioInfo(name="probe", time_scale=probe.time_scale),
                     run_problems=probe.run_problems)


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing or torn (a crash mid-write)."""
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a JSON object")
    return doc


def point_latest(out_root: Path, run_id: str) -> None:
    """``<out>/latest`` becomes a link to this run's directory (replaced atomically; where links cannot be
    made, there is none)."""
    tmp = out_root / f".latest-{run_id}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_id, target_is_directory=True)
        tmp.replace(out_root / "latest")
    except OSError:
        tmp.unlink(missing_ok=True)
