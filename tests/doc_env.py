"""The environment the documentation's commands and the example scenarios are checked in: none of the caller's
``INGESTBENCH_*`` settings (so a developer's shell cannot make a check pass or fail), and every secret every
installed target names, set to a dummy value (``--check`` and ``--help`` send nothing, so no value is used)."""

from __future__ import annotations

import os

from ingestbench.targets.registry import specs


def secret_names() -> list[str]:
    return sorted({s.env for spec in specs().values() for s in spec.secrets})


def dummy_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTBENCH_")}
    env.update({name: f"dummy-{name.lower()}" for name in secret_names()})
    env.update(extra)
    return env
