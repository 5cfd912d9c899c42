"""One side of an A/B comparison, read from disk: a run directory, or a directory of runs (a replicate set).

A replicate set is every subdirectory holding a ``run.json`` (the ``latest`` link excepted), so a results root
with several runs of one scenario is one. Per run it keeps what ``compare`` measures:

- per tier, the judged TTAs, sorted: the steady window's canaries as the judge uses them (``judged.jsonl``), an
  available one with its TTA, a lost one (also seen late) as ``+inf``;
- per tier, the canaries and how many were lost or errored (``run.json``'s verdicts, every window, as the
  budgets count them);
- per load step, the achieved rate of each second (``rates.jsonl``);
- per observed target, its CPU cores and resident MiB of each 1 Hz sample (``run.json``'s ``resources``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingestbench.records.config import ConfigError
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.observation import AVAILABLE, LATE, LOST
from ingestbench.records.verdicts import read_judged_ttas
from ingestbench.results.rundir import JUDGED, RUN_JSON, RunFiles

_JUDGED_OUTCOMES = (AVAILABLE, LOST, LATE)


@dataclass
class RunData:
    """What ``compare`` needs of one run."""

    files: RunFiles
    tta: dict[str, np.ndarray] = field(default_factory=dict)  # tier -> sorted judged TTAs (lost: inf)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # tier -> (canaries, lost, errored)
    rate: dict[tuple[int, float], np.ndarray] = field(default_factory=dict)  # (step, target/s) -> achieved/s
    cpu: dict[str, np.ndarray] = field(default_factory=dict)  # target -> cores per second
    rss: dict[str, np.ndarray] = field(default_factory=dict)  # target -> MiB per sample

    @property
    def invalid(self) -> bool:
        return self.files.run.exit_code == ExitCode.INVALID


@dataclass
class Side:
    path: Path
    runs: list[RunData]

    @property
    def scenario(self) -> set[tuple[str, float]]:
        return {(r.files.run.scenario.name, r.files.run.scenario.time_scale) for r in self.runs}


def run_dirs(path: Path) -> list[Path]:
    """``path`` itself when it is a run, else the runs in it; refuses (``ConfigError``) a directory of none."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a results directory")
    if (path / RUN_JSON).is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if p.name != "latest" and p.is_dir() and (p / RUN_JSON).is_file())
    if not found:
        raise ConfigError(f"{path} is neither a run's results directory nor a directory of runs (no {RUN_JSON})")
    return found


def load_side(path: Path) -> Side:
    return Side(Path(path), [load_run(d) for d in run_dirs(Path(path))])


def load_run(path: Path) -> RunData:
    try:
        files = RunFiles.load(path, samples=False)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    run = files.run
    if not run.tiers or not (path / JUDGED).is_file():
        raise ConfigError(f"{path} has no verdicts yet: run `ingestbench report {path}` first")
    data = RunData(files)
    data.counts = {t.tier: (t.canaries, t.lost, t.errored) for t in run.tiers}
    ttas = read_judged_ttas(path / JUDGED, _JUDGED_OUTCOMES)
    data.tta = {t.tier: ttas.get(t.tier, np.empty(0)) for t in run.tiers}
    targets = {s.step: s.target_eps for s in run.steps} | {s.step: s.target_eps for s in files.timeline.steps}
    by_step: dict[int, list[float]] = {}
    for sec in files.timeline.seconds:
        if sec.step is not None:
            by_step.setdefault(sec.step, []).append(sec.achieved_eps)
    data.rate = {(step, targets.get(step, math.nan)): np.asarray(v) for step, v in sorted(by_step.items())}
    for target in run.resources.targets if run.resources is not None else ():
        cpu = [c for c in target.cpu_cores if c is not None]
        rss = [m for m in target.rss_mib if m is not None]
        if cpu:
            data.cpu[target.name] = np.asarray(cpu, dtype=float)
        if rss:
            data.rss[target.name] = np.asarray(rss, dtype=float)
    return data
