"""How every process of a run exposes its Prometheus metrics: one run's labels on every series, the format
the scraper asks for, and no ``_created`` series.

The pipeline, the generator and the probe each keep their metrics on a registry of their own (injected, never
the global one). :func:`run_registry` wraps such a registry for the ``/metrics`` endpoint: every sample gets the
run's constant labels (``run_id``; labels a metric already has are kept), so a dashboard can select one run
whether Prometheus found the process through a run's discovery file or a static scrape config. ``_created``
samples are dropped: they double the series and no panel reads them.

:func:`render` answers in the OpenMetrics format when the scraper accepts it (Prometheus does by default): only
that format carries exemplars, which is how a TTA bucket points at one canary without a per-canary label.

>>> from prometheus_client import CollectorRegistry, Counter
>>> inner = CollectorRegistry()
>>> Counter("demo_events", "Events", registry=inner).inc(2)
>>> body, _ = render(run_registry(inner, {"run_id": "r1"}), accept="text/plain")
>>> [line for line in body.decode().splitlines() if not line.startswith("#")]
['demo_events_total{run_id="r1"} 2.0']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0"


class _Labelled(Collector):
    """Every family of ``inner`` again, with ``labels`` added to each sample and ``_created`` samples left out."""

    def __init__(self, inner: CollectorRegistry, labels: Mapping[str, str]):
        self._inner = inner
        self._labels = dict(labels)

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            out = Metric(family.name, family.documentation, family.type, family.unit)
            for s in family.samples:
                if s.name.endswith("_created") and family.type in ("counter", "histogram", "summary", "gaugehistogram"):
                    continue
                out.add_sample(s.name, {**self._labels, **s.labels}, s.value, s.timestamp, s.exemplar,
                               s.native_histogram)
            yield out


def run_registry(inner: CollectorRegistry, labels: Mapping[str, str | None]) -> CollectorRegistry:
    """A registry to serve: ``inner``'s metrics with the given constant labels (None values are left out)."""
    outer = CollectorRegistry(auto_describe=False)
    outer.register(_Labelled(inner, {k: v for k, v in labels.items() if v}))
    return outer


def render(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The exposition body and its content type, in the format the ``Accept`` header prefers."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def bucket_label(bound: float) -> str:
    """A bucket bound as prometheus-client writes it in ``le`` (``1`` is ``"1.0"``): queries must match it.

    >>> bucket_label(1), bucket_label(0.3), bucket_label(float("inf"))
    ('1.0', '0.3', '+Inf')
    """
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def clean_bound(seconds: float) -> float:
    """A bound with the float noise of scaling removed (``3 * 0.1`` is ``0.30000000000000004``), so that a
    bucket bound, a target and the ``le`` a query names are one and the same number.

    >>> clean_bound(3 * 0.1)
    0.3
    """
    return float(f"{seconds:.9g}")
