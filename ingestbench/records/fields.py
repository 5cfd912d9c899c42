"""Reading a record back: the one rule for what a dict may hand to a record type's constructor.

Records are read from files written by other versions and other processes, so a key the type does not have
(a field of a newer version, a derived value) is dropped rather than refused::

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: float
    >>> known(Point, {"x": 1.0, "from_a_newer_version": 2})
    {'x': 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def known(cls: Any, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``doc`` that are fields of the dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in doc.items() if k in names}
