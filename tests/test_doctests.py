"""Every ``>>>`` example in the packages runs and holds (modules that import Locust or gevent are left out:
importing them patches the process's sockets, and none of them carries an example)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingestbench",)  # every layer is a subpackage
GREEN = ("import gevent", "from gevent", "import locust", "from locust")


def modules_with_examples() -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if ">>>" in text and not any(line.startswith(GREEN) for line in text.splitlines()):
                out.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return out


def test_the_examples_are_found() -> None:
    assert len(modules_with_examples()) >= 10


@pytest.mark.parametrize("name", modules_with_examples())
def test_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
