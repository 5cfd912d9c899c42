"""A run's results directory: what is in it and how to read it back, also after a crash.

::

    results/<run-id>/
      run.json        schema-versioned summary (written at start with status "running", rewritten at the end)
      samples.jsonl   one observation per line, appended as decided (checks.recorder): facts only
      judged.jsonl    every canary with the tier, window and outcome the judge gave it (rewritten by report)
      verdicts.json   the probe's own summary: what it sent, what it could not decide, its verdict
      rates.jsonl     the load generator's per-second rate timeline and per-step verdicts (loadgen.timeline)
      slo.toml        the SLO file the run was judged against (a copy)
      scenario.toml   the scenario file (a copy)
      logs/           each child process's output
      report.md · report.html · junit.xml
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ingestbench.jsonl import read_jsonl

SCHEMA_VERSION = 1
RUN_JSON = "run.json"
SAMPLES = "samples.jsonl"
JUDGED = "judged.jsonl"
PROBE_JSON = "verdicts.json"
RATES = "rates.jsonl"
SLO_COPY = "slo.toml"
SCENARIO_COPY = "scenario.toml"


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write via a temp file and rename, so a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    os.replace(tmp, path)


def read_probe_json(run_dir: Path) -> dict[str, Any]:
    """The probe's ``verdicts.json`` (empty when it never wrote one, e.g. it was killed)."""
    try:
        doc = orjson.loads((Path(run_dir) / PROBE_JSON).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def probe_counts(probe: dict[str, Any]) -> dict[str, Any]:
    """What the probe sent, how long it drained, what it could not decide, how its polls went."""
    keys = ("sent", "transactional_sent", "undecided", "drain_s", "polls", "poll_failures", "exit_code")
    return {k: probe.get(k) for k in keys if k in probe}


@dataclass
class RunFiles:
    """Everything a report needs, read from one run directory."""

    path: Path
    run: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    seconds: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)
    judged: list[dict[str, Any]] = field(default_factory=list)  # the judge's placement, once judged

    @classmethod
    def load(cls, path: Path) -> RunFiles:
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a results directory")
        run_path = path / RUN_JSON
        run: dict[str, Any] = {}
        if run_path.exists():
            try:
                run = orjson.loads(run_path.read_bytes())
            except orjson.JSONDecodeError:
                run = {}
        if not run and not (path / SAMPLES).exists():
            raise FileNotFoundError(f"{path} has neither {RUN_JSON} nor {SAMPLES}")
        rates = read_jsonl(path / RATES)
        return cls(
            path=path,
            run=run,
            samples=read_jsonl(path / SAMPLES),
            seconds=[r for r in rates if r.get("type", "second") == "second"],
            steps=[r for r in rates if r.get("type") == "step"],
            probe=read_probe_json(path),
            judged=read_jsonl(path / JUDGED),
        )
