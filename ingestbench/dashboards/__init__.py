"""Grafana dashboards as code, and the Prometheus and Grafana provisioning that goes with them.

The Python modules here are the one source of truth for ``grafana/dashboards/*.json``: ``python -m
ingestbench.dashboards.generate`` writes them, ``python -m ingestbench.dashboards.generate --check`` fails when a
file differs from what the code builds (a test runs it). They are built with Grafana's foundation SDK, a development
dependency: running the harness needs none of this.
"""

if __name__ != "ingestbench.dashboards":  # the top-level folder dashboards/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.dashboards, not {__name__}: one module, one import path")
