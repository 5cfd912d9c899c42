"""What the system under test itself used during a run: CPU and memory per observed target, and the limits an
SLO file may put on them (its ``[resources]`` table).

A target is a process tree (the embedded pipeline, or ``--observe-pid``: the process and its descendants) or
a cgroup v2 directory (``--observe-cgroup``). It is sampled once a second; each sample holds the CPU cores
used since the one before (CPU seconds over wall seconds; the first sample has none), the resident memory
(RSS of the tree, or the cgroup's ``memory.current``) and, where readable, the PSS of the tree. The series
are kept as columns in ``run.json``; the summary is derived from them, so a file read back judges the same.

>>> u = TargetUsage(name="pipeline", source="pid 7", t_s=(0.0, 1.0, 2.0), cpu_cores=(None, 0.5, 1.5),
...                 rss_mib=(40.0, 60.0, 50.0), cpu_s=2.0)
>>> u.cpu_cores_mean, u.cpu_cores_max, u.rss_mib_max, u.rss_mib_mean
(1.0, 1.5, 60.0, 50.0)
>>> check_resources(ResourceLimits(max_rss_mib=55), Resources(targets=(u,)))[0]
['pipeline: RSS max 60 MiB is over the limit max_rss_mib = 55']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ingestbench.records.fields import known

RSS, CGROUP_MEMORY = "rss", "memory.current"  # what a target's memory column holds


@dataclass(frozen=True)
class ResourceLimits:
    """The SLO file's ``[resources]``: most CPU cores (mean over the run, per target) and most resident MiB
    (the highest sample, per target); None: no limit. Never time-scaled."""

    max_cpu_cores: float | None = None
    max_rss_mib: float | None = None

    @property
    def set(self) -> bool:
        return self.max_cpu_cores is not None or self.max_rss_mib is not None


@dataclass(frozen=True)
class TargetUsage:
    """One observed target's samples (columns, one entry per second) and what they add up to."""

    name: str
    source: str  # "pid 1234 and its descendants", "cgroup /sys/fs/cgroup/x"
    memory: str = RSS  # RSS of the process tree, or the cgroup's memory.current
    t_s: tuple[float, ...] = ()  # seconds since sampling started
    cpu_cores: tuple[float | None, ...] = ()  # CPU seconds per wall second since the previous sample
    rss_mib: tuple[float | None, ...] = ()  # None: not readable (a cgroup without the memory controller)
    pss_mib: tuple[float | None, ...] = ()  # None: smaps_rollup not readable (or a cgroup)
    processes: tuple[int, ...] = ()  # processes in the tree at each sample
    cpu_s: float = 0.0  # CPU seconds used between the first and the last sample
    problems: tuple[str, ...] = ()  # e.g. the process exited while it was observed

    @property
    def elapsed_s(self) -> float:
        return self.t_s[-1] - self.t_s[0] if len(self.t_s) > 1 else 0.0

    @property
    def cpu_cores_mean(self) -> float | None:
        return round(self.cpu_s / self.elapsed_s, 3) if self.elapsed_s > 0 else None

    @property
    def cpu_cores_max(self) -> float | None:
        values = [c for c in self.cpu_cores if c is not None]
        return max(values) if values else None

    @property
    def rss_mib_max(self) -> float | None:
        values = [m for m in self.rss_mib if m is not None]
        return max(values) if values else None

    @property
    def rss_mib_mean(self) -> float | None:
        values = [m for m in self.rss_mib if m is not None]
        return round(sum(values) / len(values), 1) if values else None

    @property
    def pss_mib_max(self) -> float | None:
        values = [p for p in self.pss_mib if p is not None]
        return max(values) if values else None

    def summary(self) -> dict[str, Any]:
        return {"samples": len(self.t_s), "cpu_s": round(self.cpu_s, 3), "cpu_cores_mean": self.cpu_cores_mean,
                "cpu_cores_max": self.cpu_cores_max, "rss_mib_mean": self.rss_mib_mean,
                "rss_mib_max": self.rss_mib_max, "pss_mib_max": self.pss_mib_max}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TargetUsage:
        kw = known(cls, doc)
        for key in ("t_s", "cpu_cores", "rss_mib", "pss_mib", "processes", "problems"):
            kw[key] = tuple(kw.get(key) or ())
        return cls(**kw)


@dataclass(frozen=True)
class Resources:
    """``run.json``'s ``resources``: every observed target, and what sampling them cost this process."""

    interval_s: float = 1.0
    started_unix_s: float | None = None
    targets: tuple[TargetUsage, ...] = ()
    sampler_cpu_s: float = 0.0  # CPU seconds the sampling thread used
    sample_ms_max: float = 0.0  # the longest one round of reads took

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": [t.to_dict() for t in self.targets]}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Resources:
        kw = known(cls, doc)
        kw["targets"] = tuple(TargetUsage.from_dict(t) for t in doc.get("targets") or () if isinstance(t, dict))
        return cls(**kw)


def check_resources(limits: ResourceLimits, resources: Resources | None) -> tuple[list[str], list[str]]:
    """What the limits say of the measurements: (each limit exceeded, with the value and the limit; why the
    resources could not be judged). Nothing to say when no limit is set."""
    if not limits.set:
        return [], []
    targets = resources.targets if resources is not None else ()
    failures: list[str] = []
    invalid: list[str] = []
    if limits.max_cpu_cores is not None:
        cpu = [(t, t.cpu_cores_mean) for t in targets if t.cpu_cores_mean is not None]
        if not cpu:
            invalid.append(f"resources: nothing was observed to hold to max_cpu_cores = {limits.max_cpu_cores:g} "
                           "(no target's CPU: the embedded pipeline, --observe-pid or --observe-cgroup, 2 samples)")
        failures += [f"{t.name}: CPU {v:g} cores on average is over the limit max_cpu_cores = "
                     f"{limits.max_cpu_cores:g}" for t, v in cpu if v > limits.max_cpu_cores]
    if limits.max_rss_mib is not None:
        mem = [(t, t.rss_mib_max) for t in targets if t.rss_mib_max is not None]
        if not mem:
            invalid.append(f"resources: nothing was observed to hold to max_rss_mib = {limits.max_rss_mib:g} "
                           "(no target's memory: the embedded pipeline, --observe-pid or --observe-cgroup)")
        failures += [f"{t.name}: {'RSS' if t.memory == RSS else 'cgroup memory.current'} max {v:g} MiB is over "
                     f"the limit max_rss_mib = {limits.max_rss_mib:g}" for t, v in mem if v > limits.max_rss_mib]
    return failures, invalid
