"""Every target kind by name, in one place: adding a target is one entry here.

A factory takes the base URL and keyword options (``write_key``) and returns the sans-IO target object.
``loadgen`` and ``checks`` each build their registry from :data:`FACTORIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _pipeline(base_url: str, **options: Any) -> Any:
    from targets.pipeline import PipelineTarget

    return PipelineTarget(base_url, write_key=options.get("write_key"))


FACTORIES: dict[str, Callable[..., Any]] = {
    "pipeline": _pipeline,
}
