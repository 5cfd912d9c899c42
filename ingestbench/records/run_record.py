"""``run.json`` and the probe's ``probe.json``: what a run (or a probe on its own) says about itself.

Both carry ``schema_version``; a reader refuses a version it does not know with a one-line message instead
of misreading the file. Version 1 files (before loss budgets and windows) still read, with the fields they
lack at their defaults.

A run writes its record at the start (``status`` ``running``, with its children's PIDs), and again at the end
(``finished`` or ``interrupted``) with the steps, the verdicts and the exit code. A record still saying
``running`` belongs to a run that was killed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.records.fields import known
from ingestbench.records.resources import Resources
from ingestbench.records.timeline import GeneratorRow, StepRow
from ingestbench.records.verdicts import TierVerdict

SCHEMA_VERSION = 2
KNOWN_VERSIONS = (1, 2)
RUNNING, FINISHED, INTERRUPTED, INCOMPLETE = "running", "finished", "interrupted", "incomplete"
ENDED = (FINISHED, INTERRUPTED)  # a run that said how it ended; anything else was killed


def check_schema(doc: dict[str, Any], what: str) -> None:
    version = doc.get("schema_version", 1)
    if version not in KNOWN_VERSIONS:
        raise ConfigError(f"{what}: schema_version {version!r} is not one this ingestbench reads "
                          f"({', '.join(map(str, KNOWN_VERSIONS))}); use the ingestbench that wrote it")


@dataclass(frozen=True)
class ScenarioInfo:
    name: str = "?"
    path: str | None = None
    description: str = ""
    time_scale: float = 1.0
    rates_eps: tuple[float, ...] = ()
    load_duration_s: float | None = None


@dataclass(frozen=True)
class TargetInfo:
    name: str = "?"
    url: str | None = None
    embedded: bool = False
    pipeline: dict[str, Any] | None = None  # the embedded pipeline's settings


@dataclass(frozen=True)
class ChildInfo:
    name: str
    pid: int | None = None
    exit_code: int | None = None
    log: str | None = None


@dataclass(frozen=True)
class ProbeSummary:
    """What the probe did: its canaries, their load, the drain, its polls, its own exit code."""

    canary_batch_size: int | None = None
    load_eps: float | None = None
    sent: int | None = None
    transactional_sent: int | None = None
    undecided: int | None = None
    drain_s: float | None = None
    polls: int | None = None
    poll_failures: int | None = None
    exit_code: int | None = None
    poll_interval_s: float | None = None  # the mean poll interval used (a reader's query-rate limit floors it)
    tta_measured: bool | None = None  # False: a writer-only target, canaries were sent and acked, never read
    acked: int | None = None  # analytical canaries the target acknowledged
    ack_p50_s: float | None = None  # their ingest acknowledgement latency (nearest-rank)
    ack_p95_s: float | None = None
    # failed polls of the query side, grouped into episodes: (first_unix_ms, last_unix_ms, count, first error)
    poll_failure_episodes: tuple[tuple[int | str, ...], ...] = ()


@dataclass(frozen=True)
class Gate:
    status: str
    reason: str
    untiered: int = 0
    undecided: int = 0


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str = RUNNING
    schema_version: int = SCHEMA_VERSION
    started_unix_s: float | None = None
    finished_unix_s: float | None = None
    duration_s: float | None = None
    scenario: ScenarioInfo = field(default_factory=ScenarioInfo)
    target: TargetInfo = field(default_factory=TargetInfo)
    settings: dict[str, Any] = field(default_factory=dict)
    slo: dict[str, Any] = field(default_factory=dict)
    expected_tiers: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the run did not measure (or measured more coarsely), and why
    tags: dict[str, str] = field(default_factory=dict)  # --tag KEY=VALUE: also labels on every metric
    probe: ProbeSummary = field(default_factory=ProbeSummary)
    versions: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    children: tuple[ChildInfo, ...] = ()
    run_problems: tuple[str, ...] = ()
    resources: Resources | None = None  # the observed target's own CPU and memory (None: not sampled)
    steps: tuple[StepRow, ...] = ()
    generators: tuple[GeneratorRow, ...] = ()  # each generator process: its achieved rate, CPU, whether lost
    tiers: tuple[TierVerdict, ...] = ()
    gate: Gate | None = None
    invalid_reasons: tuple[str, ...] = ()
    exit_code: int | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def with_(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["steps"] = [s.to_dict() for s in self.steps]
        doc["generators"] = [g.to_dict() for g in self.generators]
        doc["tiers"] = [t.to_dict() for t in self.tiers]
        doc["resources"] = self.resources.to_dict() if self.resources is not None else None
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, what: str = "run.json") -> RunRecord:
        check_schema(doc, what)
        kw = known(cls, doc)
        kw["schema_version"] = doc.get("schema_version", 1)
        for key, kind in (("scenario", ScenarioInfo), ("target", TargetInfo), ("probe", ProbeSummary)):
            if isinstance(doc.get(key), dict):
                kw[key] = kind(**known(kind, doc[key]))
        if isinstance(kw.get("scenario"), ScenarioInfo):
            kw["scenario"] = replace(kw["scenario"], rates_eps=tuple(kw["scenario"].rates_eps or ()))
        kw["children"] = tuple(ChildInfo(**known(ChildInfo, c)) for c in doc.get("children") or [])
        kw["steps"] = tuple(s for s in (StepRow.from_dict(d) for d in doc.get("steps") or []) if s)
        kw["generators"] = tuple(g for g in (GeneratorRow.from_dict(d) for d in doc.get("generators") or []) if g)
        kw["tiers"] = tuple(TierVerdict.from_dict(t) for t in doc.get("tiers") or [])
        kw["gate"] = Gate(**known(Gate, doc["gate"])) if isinstance(doc.get("gate"), dict) else None
        res = doc.get("resources")
        kw["resources"] = Resources.from_dict(res) if isinstance(res, dict) else None
        for key in ("expected_tiers", "notes", "run_problems", "invalid_reasons"):
            kw[key] = tuple(doc.get(key) or ())
        return cls(**kw)


@dataclass(frozen=True)
class ProbeRecord:
    """``probe.json``: the probe's own judgement and counts (a probe on its own has no ``run.json``)."""

    status: str
    reason: str
    exit_code: int
    schema_version: int = SCHEMA_VERSION
    invalid_reasons: tuple[str, ...] = ()
    untiered: int = 0
    tiers: tuple[TierVerdict, ...] = ()
    summary: ProbeSummary = field(default_factory=ProbeSummary)
    duration_s: float | None = None
    # what judging it again needs besides the samples, the rate timeline and the SLO copy beside it
    declared_rate_eps: float | None = None
    rate_timeline: str | None = None  # where the probe read it while it ran; a copy is rates.jsonl beside this
    expected_tiers: tuple[str, ...] = ()
    time_scale: float = 1.0  # the SLO copy's targets, warm-ups and horizons are scaled by it when judged
    lost_after_s: float | None = None  # every tier's loss horizon, when the probe was given one (already scaled)
    run_problems: tuple[str, ...] = ()  # what made the result invalid whatever the canaries said

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["tiers"] = [t.to_dict() for t in self.tiers]
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ProbeRecord:
        check_schema(doc, "probe.json")
        kw = known(cls, doc)
        kw["tiers"] = tuple(TierVerdict.from_dict(t) for t in doc.get("tiers") or [])
        summary = doc.get("summary")
        kw["summary"] = ProbeSummary(**known(ProbeSummary, summary if isinstance(summary, dict) else doc))
        for key in ("invalid_reasons", "expected_tiers", "run_problems"):
            kw[key] = tuple(doc.get(key) or ())
        kw.setdefault("status", "unknown")
        kw.setdefault("reason", "")
        kw.setdefault("exit_code", 3)
        return cls(**kw)
