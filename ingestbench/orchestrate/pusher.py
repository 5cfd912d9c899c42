"""Pushing a run's metrics to a Prometheus remote-write endpoint while it lasts (``run --remote-write URL``).

Every ``interval_s`` the coordinator reads each ``/metrics`` endpoint the run has up (the embedded pipeline, the
generator, the probe: :class:`~ingestbench.orchestrate.discovery.MetricsDiscovery` knows them) in the text
format, and sends the samples as remote-write time series: the same series and labels a Prometheus scraping
them with ``dashboards/prometheus/prometheus.yml`` would store. That is, the endpoint's own labels, plus
``job="ingestbench-<component>"``, ``instance="<host:port>"`` and ``run_id`` where the endpoint does not set them
(``honor_labels``), an ``up`` series (1 when read, 0 when not), and a staleness marker for every series that
is gone, as a scrape marks it (an endpoint that stopped, a series no longer exposed). Histograms and counters go
as their ``_bucket``/``_sum``/``_count``/``_total`` series. A series' samples are only ever sent in time order:
a receiver refuses a whole request with one sample older than it has.

An endpoint that ends (the probe, after its drain and verdict) writes its last ``/metrics`` text to a file
before it stops answering (``files``): the final outcomes of the drain are sent even when they come after the
last push. :meth:`Pusher.finish` makes the final push after the drain, then marks every series stale.

A push that fails is counted with its error (credentials scrubbed) and the run goes on: :meth:`Pusher.summary`
goes to ``run.json`` and a note to the report.
"""

from __future__ import annotations

import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from ingestbench.orchestrate.discovery import JOB_PREFIX
from ingestbench.orchestrate.push_client import Sender
from ingestbench.orchestrate.remote_write import RemoteWrite
from ingestbench.records.tls import TlsPlan

# Prometheus' staleness marker: a NaN with this bit pattern ends a series at its timestamp
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
TEXT_FORMAT = "text/plain; version=0.0.4"
SCRAPE_TIMEOUT_S = 2.0
FINAL_TRIES = 3
PROBE_FINAL_METRICS = "probe-metrics.prom"  # in the run's logs/: the probe's last /metrics text

Labels = tuple[tuple[str, str], ...]  # sorted, __name__ included


@dataclass
class _Target:
    """One endpoint as pushed so far: its address, the time of its newest sample and its series."""

    address: str
    last_ms: int = 0
    series: set[Labels] = field(default_factory=set)


class _Batch:
    """Samples to send in one push, per series, in time order."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[list[float], list[int]]] = {}

    def add(self, labels: Labels, value: float, at_ms: int) -> None:
        values, stamps = self.series.setdefault(labels, ([], []))
        values.append(value)
        stamps.append(at_ms)

    def items(self) -> list[dict[str, Any]]:
        return [{"metric": dict(labels), "values": v, "timestamps": t} for labels, (v, t) in self.series.items()]

    def samples(self) -> int:
        return sum(len(v) for v, _ in self.series.values())


def exposition_series(body: str, target_labels: Mapping[str, str]) -> list[tuple[Labels, float]]:
    """Every sample of a text exposition as ``(labels, value)``: its own labels win over ``target_labels``
    (``honor_labels``). Raises ValueError on a body that is not the text format.

    >>> exposition_series('# TYPE a counter\\na_total{x="1"} 2\\n', {"job": "j", "x": "0"})
    [((('__name__', 'a_total'), ('job', 'j'), ('x', '1')), 2.0)]
    """
    out = []
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = {**target_labels, **s.labels, "__name__": s.name}
            out.append((tuple(sorted(labels.items())), float(s.value)))
    return out


class Pusher:
    """Pushes the endpoints ``endpoints()`` returns (component -> ``host:port``) every ``settings.interval_s`` in
    a thread of its own, from :meth:`start` to :meth:`finish`."""

    def __init__(self, settings: RemoteWrite, tls: TlsPlan, endpoints: Callable[[], Mapping[str, str]], *,
                 run_id: str, files: Mapping[str, Path] | None = None, sender: Sender | None = None):
        self.settings = settings
        self._endpoints = endpoints
        self._run_id = run_id
        self._files = dict(files or {})  # component -> the file of its last /metrics text, once it ends
        self._sender = sender or Sender(settings, tls)
        self._targets: dict[str, _Target] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="remote-write", daemon=True)
        self.pushes = self.failures = self.requests = self.samples = 0
        self.unreadable = 0  # expositions that could not be parsed (their endpoint then counts as down)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Stop pushing; push once more (the endpoints still up read now, the others' last state), marking every
        series stale, with a few tries. Never raises."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.settings.interval_s + 30)
        batch = self._collect(final=True)
        for attempt in range(FINAL_TRIES):
            if self._push(batch) or attempt == FINAL_TRIES - 1:
                break
            time.sleep(1.0)
        self._sender.close()

    def summary(self) -> dict[str, object]:
        return {**self.settings.summary(), "pushes": self.pushes, "failed_pushes": self.failures,
                "requests": self.requests, "samples": self.samples, "unreadable": self.unreadable,
                "last_error": self.last_error}

    def note(self) -> str | None:
        """A line for the report when pushes failed (the run's verdict does not depend on them)."""
        if not self.failures:
            return None
        return (f"remote write: {self.failures} of {self.pushes} pushes to {self.settings.url} failed (the run's "
                f"metrics there have gaps); last error: {self.last_error}")

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            self._push(self._collect(final=False))

    def _push(self, batch: _Batch) -> bool:
        if not batch.series:
            return True
        self.pushes += 1
        try:
            self.requests += self._sender.send(batch.items())
        except Exception as exc:  # a push that fails is data: counted, and the run goes on
            self.failures += 1
            self.last_error = self._scrub(f"{type(exc).__name__}: {exc}")
            return False
        self.samples += batch.samples()
        return True

    def _collect(self, *, final: bool) -> _Batch:
        batch = _Batch()
        try:
            current = dict(self._endpoints())
            for component, address in current.items():
                target = self._targets.get(component)
                if target is not None and target.address != address:  # restarted elsewhere: the old one is gone
                    self._gone(batch, component)
                    target = None
                target = self._targets.setdefault(component, _Target(address))
                read = self._read(address)
                if read is not None:
                    self._up(batch, component, target, *read)
                    continue
                last = self._last_words(component)  # written as it stopped answering
                if last is not None:
                    self._up(batch, component, target, *last)
                self._down(batch, component, target)
            for component in [c for c in self._targets if c not in current or final]:
                last = self._last_words(component)
                if last is not None:
                    self._up(batch, component, self._targets[component], *last)
                self._gone(batch, component)
        except Exception as exc:  # never let a malformed exposition end the run
            self.unreadable += 1
            self.last_error = self._scrub(f"reading the run's metrics: {type(exc).__name__}: {exc}")
        return batch

    def _labels(self, component: str, target: _Target) -> dict[str, str]:
        return {"job": JOB_PREFIX + component, "instance": target.address, "run_id": self._run_id}

    def _up(self, batch: _Batch, component: str, target: _Target, body: str, at_ms: int) -> None:
        if at_ms <= target.last_ms:  # already sent something newer: a sample out of order is refused
            return
        try:
            series = exposition_series(body, self._labels(component, target))
        except ValueError as exc:
            self.unreadable += 1
            self.last_error = self._scrub(f"{JOB_PREFIX}{component}: not the text format ({exc})")
            self._down(batch, component, target)
            return
        up = _name(self._labels(component, target), "up")
        present = {labels for labels, _ in series} | {up}
        for labels in target.series - present:
            batch.add(labels, STALE_NAN, at_ms)
        for labels, value in series:
            batch.add(labels, value, at_ms)
        batch.add(up, 1.0, at_ms)
        target.series, target.last_ms = present, at_ms

    def _down(self, batch: _Batch, component: str, target: _Target) -> None:
        """Not readable: ``up`` 0 and every other series stale, as a failed scrape records it."""
        at_ms = max(_now_ms(), target.last_ms + 1)
        up = _name(self._labels(component, target), "up")
        for labels in target.series - {up}:
            batch.add(labels, STALE_NAN, at_ms)
        batch.add(up, 0.0, at_ms)
        target.series, target.last_ms = {up}, at_ms

    def _gone(self, batch: _Batch, component: str) -> None:
        """No longer an endpoint of the run: every series of it stale (``up`` too), as when it leaves discovery."""
        target = self._targets.pop(component)
        at_ms = max(_now_ms(), target.last_ms + 1)
        for labels in target.series:
            batch.add(labels, STALE_NAN, at_ms)

    def _read(self, address: str) -> tuple[str, int] | None:
        request = urllib.request.Request(f"http://{address}/metrics", headers={"Accept": TEXT_FORMAT})
        try:
            with urllib.request.urlopen(request, timeout=SCRAPE_TIMEOUT_S) as resp:
                return resp.read().decode(), _now_ms()
        except (OSError, UnicodeDecodeError):
            return None

    def _last_words(self, component: str) -> tuple[str, int] | None:
        """The last ``/metrics`` text ``component`` wrote before it stopped, with the time it was written."""
        path = self._files.get(component)
        try:
            return (path.read_text(), path.stat().st_mtime_ns // 1_000_000) if path else None
        except (OSError, UnicodeDecodeError):
            return None

    def _scrub(self, text: str) -> str:
        for secret in self.settings.secrets():
            text = text.replace(secret, "***")
        return " ".join(text.split())[:300]


def _name(labels: Mapping[str, str], name: str) -> Labels:
    return tuple(sorted({**labels, "__name__": name}.items()))


def _now_ms() -> int:
    return int(time.time() * 1000)
