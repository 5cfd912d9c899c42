"""The resolved plan of a run: scenario, target, SLO and settings, validated and time-scaled once.

``ingestbench run`` resolves it (flag > environment > scenario file > default, at the command line's edge),
writes it as ``plan.json`` in the results directory and hands that file to every child: the probe
(``ingestbench probe --plan``), the embedded pipeline (``ingestbench pipeline --plan``) and Locust
(``--plan``). No child derives a setting again, and no child multiplies by the time scale: every duration
here is already scaled, as the run will use it.

The plan carries the SLO as the run judges it (its probe part: read once from its file, time-scaled, with any
loss horizon given on the command line), so no child reads the SLO file again.

A probe started on its own resolves its own :class:`ProbePlan` from its flags: the same type, the same
meaning.

>>> from ingestbench.records.slo_file import load_slo
>>> p = ProbePlan(target="pipeline", url="http://127.0.0.1:8080", slo_path=None, slo=load_slo(time_scale=0.1),
...               time_scale=0.1)
>>> ProbePlan.from_dict(p.to_dict()) == p
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.records import defaults
from ingestbench.records.config import ConfigError
from ingestbench.records.fields import known
from ingestbench.records.jsonl import write_json_atomic
from ingestbench.records.load import LoadConfig, LoadStep
from ingestbench.records.slo import Slo
from ingestbench.records.tls import TlsPlan

PLAN_SCHEMA_VERSION = 3  # 3: the probe part carries the scaled SLO


@dataclass(frozen=True)
class TargetPlan:
    """Which system, where, and its options (the scenario's ``[target]`` table and ``--target-opt``): handed
    whole to the target's factory, which validates them. Secrets are not here: they come from environment
    variables the target declares."""

    kind: str = "pipeline"
    url: str | None = None  # None: the embedded pipeline, started by the run
    options: dict[str, str] = field(default_factory=dict)
    # write here, read there: canaries are looked up through this other target (its own kind, URL and options)
    # while the load and the canaries go to the one above; None: the target above reads too, if it can
    reader: TargetPlan | None = None
    tls: TlsPlan = field(default_factory=TlsPlan)  # how https is trusted: one setting for writer and reader

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TargetPlan:
        reader = doc.get("reader")
        return cls(kind=doc.get("kind", "pipeline"), url=doc.get("url"), options=dict(doc.get("options") or {}),
                   reader=cls.from_dict(reader) if isinstance(reader, dict) else None,
                   tls=TlsPlan.from_dict(doc.get("tls")))


@dataclass(frozen=True)
class PipelinePlan:
    """The embedded reference pipeline (scaled: flush rows and the flush wait follow the time scale), and where
    the run has it listen and keep its store."""

    flush_rows: int = defaults.FLUSH_ROWS
    flush_max_wait_s: float = defaults.FLUSH_MAX_WAIT_S
    host: str = defaults.PIPELINE_HOST
    port: int = 0  # the run picks a free one before it writes the plan
    data_dir: str | None = None  # None: a new temp dir
    ready_file: str | None = None  # 'host:port' is written here once it listens


@dataclass(frozen=True)
class ProbePlan:
    """Everything the probe needs; durations scaled."""

    target: str
    url: str
    slo_path: str | None  # the file the SLO was read from (None: the packaged default); a copy is in the results
    slo: Slo  # as judged: time-scaled, with ``lost_after_s`` as every tier's loss horizon when it is given
    time_scale: float = defaults.TIME_SCALE
    target_options: dict[str, str] = field(default_factory=dict)
    reader: TargetPlan | None = None  # write here, read there (see TargetPlan.reader)
    tls: TlsPlan = field(default_factory=TlsPlan)  # how every https connection of the probe is trusted
    interval_s: float = defaults.CANARY_INTERVAL_S
    poll_interval_s: float = defaults.POLL_INTERVAL_S
    batch_size: int = defaults.CANARY_BATCH_SIZE
    transactional: bool = True
    drain_s: float | None = None
    lost_after_s: float | None = None
    timeout_s: float = defaults.REQUEST_TIMEOUT_S
    expected_tiers: tuple[str, ...] = ()
    declared_rate_eps: float | None = None
    rate_timeline: str | None = None
    rate_query: str | None = None
    prometheus_url: str | None = None
    duration_s: float | None = None
    seed: int | None = None
    out: str = "results/probe"
    metrics_host: str = defaults.METRICS_HOST
    metrics_port: int | None = None
    run_id: str | None = None  # a label on every metric; a run sets its own, a probe alone takes --run-id
    tags: dict[str, str] = field(default_factory=dict)  # more labels on every metric (--tag KEY=VALUE)
    scenario: str = ""  # the run's scenario name (ingestbench_run_info); a probe alone has none
    # a file the probe writes its last /metrics text to before it stops serving (a run pushing its metrics
    # sends it: the drain's final outcomes may come after the last push)
    final_metrics: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ProbePlan:
        kw = known(cls, doc)
        kw["expected_tiers"] = tuple(kw.get("expected_tiers") or ())
        kw["slo"] = Slo.from_dict(kw["slo"])
        if isinstance(kw.get("reader"), dict):
            kw["reader"] = TargetPlan.from_dict(kw["reader"])
        kw["tls"] = TlsPlan.from_dict(kw.get("tls"))
        return cls(**kw)


@dataclass(frozen=True)
class Plan:
    run_id: str
    scenario_name: str
    scenario_path: str
    description: str
    time_scale: float
    load: LoadConfig  # step durations scaled; rates never are
    target: TargetPlan
    slo_path: str
    probe: ProbePlan
    pipeline: PipelinePlan | None = None  # None: the target is not the embedded pipeline
    processes: int = defaults.PROCESSES
    # generator workers started elsewhere (``ingestbench worker``) that the run waits for (0: it forks its own)
    workers: int = 0
    master_bind: str = defaults.MASTER_BIND  # HOST:PORT the master listens on for them
    workers_timeout_s: float = defaults.WORKERS_TIMEOUT_S
    generators_file: str | None = None  # the master writes the workers it sees here, while the run waits for them
    expected_tiers: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the run will not measure, or measure more coarsely than asked, and why
    unmeasured: tuple[str, ...] = ()  # what the SLO needs and the targets cannot give: each makes the run invalid
    rates_out: str | None = None  # where the generator writes its rate timeline
    generator_metrics_port: int | None = None  # the generator's /metrics on 127.0.0.1 (None: not served)
    tags: dict[str, str] = field(default_factory=dict)  # labels on every metric and in the records (--tag)
    # the target's own CPU and memory are sampled from these too (beside the embedded pipeline, if any)
    observe_pids: tuple[int, ...] = ()  # processes on this machine, each with its descendants
    observe_cgroups: tuple[str, ...] = ()  # cgroup v2 directories
    schema_version: int = PLAN_SCHEMA_VERSION

    @property
    def slo(self) -> Slo:
        """The SLO every part of the run judges with (scaled), as its probe has it."""
        return self.probe.slo

    @property
    def rates_eps(self) -> list[float]:
        return [s.rate_eps for s in self.load.steps]

    @property
    def load_duration_s(self) -> float:
        return sum(s.duration_s for s in self.load.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Plan:
        if doc.get("schema_version") != PLAN_SCHEMA_VERSION:  # a plan is read only by the run that wrote it
            raise ConfigError(f"plan.json: schema_version {doc.get('schema_version')!r} is not "
                              f"{PLAN_SCHEMA_VERSION}; use the ingestbench that wrote it")
        load = dict(doc["load"])
        load["steps"] = tuple(LoadStep(**s) for s in load["steps"])
        kw = known(cls, doc)
        kw.update(load=LoadConfig(**load), target=TargetPlan.from_dict(doc["target"]),
                  probe=ProbePlan.from_dict(doc["probe"]), expected_tiers=tuple(doc.get("expected_tiers") or ()),
                  notes=tuple(doc.get("notes") or ()), unmeasured=tuple(doc.get("unmeasured") or ()),
                  observe_pids=tuple(doc.get("observe_pids") or ()),
                  observe_cgroups=tuple(doc.get("observe_cgroups") or ()),
                  pipeline=PipelinePlan(**known(PipelinePlan, doc["pipeline"])) if doc.get("pipeline") else None)
        return cls(**kw)

    def write(self, path: Path) -> None:
        """Atomically: a child never reads half a plan."""
        write_json_atomic(path, self.to_dict())


def read_plan(path: str | Path) -> Plan:
    """A ``plan.json``; a missing or unreadable file is a configuration error naming it."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"plan: file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"plan: {path} is not valid JSON ({exc})") from None
    try:
        return Plan.from_dict(doc)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"plan: {path} is not a plan ({exc})") from None
