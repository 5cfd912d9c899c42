"""One way to write a number for people: every table, reason line and chart label uses :func:`fmt`.

>>> [fmt(v) for v in (None, 0.0123456, 2.5, 1234.5, float("inf"), 7, True)]
['–', '0.0123', '2.5', '1,234', '∞', '7', 'True']
"""

from __future__ import annotations

import math


def fmt(value: object) -> str:
    """Three significant digits; thousands with separators; ``∞`` beyond the loss horizon; ``–`` for none."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if math.isnan(value):
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)
