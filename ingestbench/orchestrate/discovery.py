"""Prometheus file-based service discovery for a native run (``ingestbench run --metrics-sd PATH``).

The run writes PATH as a ``file_sd`` JSON list with one entry per ``/metrics`` endpoint it has running (the
embedded pipeline, the generator, the probe), labelled with ``job`` and ``run_id``, and rewrites it as children
start and stop: a Prometheus whose ``file_sd_configs`` read that file (``dashboards/prometheus/prometheus.yml``
does) scrapes the run while it lasts and drops each endpoint when it is gone, so its series end with the run
instead of lingering. Each write replaces the file atomically (Prometheus watches it and must never read half
a file); at the end of the run the list is empty.

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
>>> sd = MetricsDiscovery(path, run_id="r-1")
>>> sd.add("probe", "127.0.0.1:9465")
>>> json.loads(path.read_text())
[{'targets': ['127.0.0.1:9465'], 'labels': {'job': 'ingestbench-probe', 'run_id': 'r-1'}}]
>>> sd.remove("probe"); json.loads(path.read_text())
[]
"""

from __future__ import annotations

import threading
from pathlib import Path

from ingestbench.records.jsonl import write_json_atomic

JOB_PREFIX = "ingestbench-"
JOBS = ("pipeline", "generator", "probe")


class MetricsDiscovery:
    """The endpoints of one run, as a ``file_sd`` file when there is a path (without one, only
    :meth:`endpoints` tells them: a run that pushes its metrics reads them there)."""

    def __init__(self, path: Path | None, *, run_id: str):
        self.path = path
        self.run_id = run_id
        self._endpoints: dict[str, str] = {}
        self._lock = threading.Lock()  # read from the thread that pushes the metrics

    def add(self, component: str, address: str) -> None:
        """``component`` (one of :data:`JOBS`) now serves ``/metrics`` at ``address`` (``host:port``)."""
        with self._lock:
            self._endpoints[component] = address
        self._write()

    def remove(self, component: str) -> None:
        with self._lock:
            removed = self._endpoints.pop(component, None) is not None
        if removed:
            self._write()

    def clear(self) -> None:
        with self._lock:
            self._endpoints.clear()
        self._write()

    def endpoints(self) -> dict[str, str]:
        """component -> ``host:port`` of every endpoint up now."""
        with self._lock:
            return dict(self._endpoints)

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = [{"targets": [address], "labels": {"job": JOB_PREFIX + component, "run_id": self.run_id}}
               for component, address in self.endpoints().items()]
        write_json_atomic(self.path, doc)
