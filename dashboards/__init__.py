"""Grafana dashboards as code, and the Prometheus and Grafana provisioning that goes with them.

The Python modules here are the one source of truth for ``grafana/dashboards/*.json``: ``python -m
dashboards.generate`` writes them, ``python -m dashboards.generate --check`` fails when a file differs from
what the code builds (a test runs it). They are built with Grafana's foundation SDK, a development dependency:
running the harness needs none of this.
"""
