"""Just enough SVG to draw the report's charts inline: no script, no network, opens anywhere.

A :class:`Chart` has a linear or log axis per direction, draws axes with ticks, and collects shapes::

    c = Chart(640, 320, x=Axis(0, 10), y=Axis(0.01, 100, log=True), title="TTA")
    c.line([(0, 1), (10, 3)], css="achieved")
    c.vline(5, css="target", label="target 5 s")
    svg_text = c.render()
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 28, 44


@dataclass(frozen=True)
class Axis:
    lo: float
    hi: float
    log: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        if self.log and self.lo <= 0:
            raise ValueError("a log axis needs lo > 0")
        if not self.hi > self.lo:
            object.__setattr__(self, "hi", self.lo + (abs(self.lo) or 1.0))

    def frac(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            mults = (1, 2, 5) if last - first <= 3 else (1,)
            return [m * 10.0**e for e in range(first, last + 1) for m in mults
                    if self.lo <= m * 10.0**e <= self.hi * 1.0001]
        raw = (self.hi - self.lo) / 5
        mag = 10 ** math.floor(math.log10(raw))
        step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
        start = math.ceil(self.lo / step) * step
        return [start + i * step for i in range(int((self.hi - start) / step) + 1)]


def fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:.3g}"


class Chart:
    def __init__(self, width: int, height: int, *, x: Axis, y: Axis, title: str, css_class: str = "chart"):
        self.width, self.height, self.x, self.y, self.title = width, height, x, y, title
        self.css_class = css_class
        self._parts: list[str] = []

    def px(self, x: float, y: float) -> tuple[float, float]:
        w = self.width - MARGIN_L - MARGIN_R
        h = self.height - MARGIN_T - MARGIN_B
        fx = min(1.0, max(0.0, self.x.frac(x)))
        fy = min(1.0, max(0.0, self.y.frac(y)))
        return MARGIN_L + fx * w, MARGIN_T + (1 - fy) * h

    def line(self, points: Sequence[tuple[float, float]], *, css: str, step: bool = False) -> None:
        if not points:
            return
        pts: list[tuple[float, float]] = []
        for i, (x, y) in enumerate(points):
            if step and i:
                pts.append((x, points[i - 1][1]))
            pts.append((x, y))
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in (self.px(x, y) for x, y in pts))
        self._parts.append(f'<polyline class="{css}" fill="none" points="{coords}"/>')

    def dots(self, points: Iterable[tuple[float, float]], *, css: str, r: float = 2.5, title: str = "") -> None:
        for x, y in points:
            a, b = self.px(x, y)
            tip = f"<title>{escape(title)}</title>" if title else ""
            self._parts.append(f'<circle class="{css}" cx="{a:.1f}" cy="{b:.1f}" r="{r}">{tip}</circle>')

    def bars(self, edges: Sequence[float], counts: Sequence[float], *, css: str) -> None:
        for (lo, hi), n in zip(itertools.pairwise(edges), counts, strict=True):
            if n <= 0:
                continue
            x0, y0 = self.px(lo, n)
            x1, y1 = self.px(hi, self.y.lo)
            self._parts.append(f'<rect class="{css}" x="{x0:.1f}" y="{y0:.1f}" width="{max(0.5, x1 - x0 - 1):.1f}" '
                               f'height="{max(0.0, y1 - y0):.1f}"/>')

    def vline(self, x: float, *, css: str, label: str = "", row: int = 0) -> None:
        """A vertical line; ``row`` moves its label down a line so that close labels do not overlap."""
        a, top = self.px(x, self.y.hi)
        _, bottom = self.px(x, self.y.lo)
        self._parts.append(f'<line class="{css}" x1="{a:.1f}" y1="{top:.1f}" x2="{a:.1f}" y2="{bottom:.1f}"/>')
        if label:
            y = top + 12 + 14 * row
            self._parts.append(f'<text class="{css}-label" x="{a + 4:.1f}" y="{y:.1f}">{escape(label)}</text>')

    def hseg(self, y: float, x0: float, x1: float, *, css: str, label: str = "") -> None:
        a, b = self.px(x0, y)
        c, _ = self.px(x1, y)
        self._parts.append(f'<line class="{css}" x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{b:.1f}"/>')
        if label:
            self._parts.append(f'<text class="{css}-label" x="{a + 4:.1f}" y="{b - 4:.1f}">{escape(label)}</text>')

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        x = self.width - MARGIN_R - 150
        for i, (css, text) in enumerate(items):
            y = MARGIN_T + 14 + i * 16
            self._parts.append(f'<rect class="{css} legend" x="{x}" y="{y - 9}" width="12" height="8"/>'
                               f'<text x="{x + 18}" y="{y}">{escape(text)}</text>')

    def render(self) -> str:
        w, h = self.width, self.height
        axes = [f'<text class="title" x="{MARGIN_L}" y="18">{escape(self.title)}</text>']
        x0, y0 = self.px(self.x.lo, self.y.lo)
        x1, y1 = self.px(self.x.hi, self.y.hi)
        axes.append(f'<rect class="frame" x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}"/>')
        for t in self.x.ticks():
            a, _ = self.px(t, self.y.lo)
            axes.append(f'<line class="grid" x1="{a:.1f}" y1="{y1:.1f}" x2="{a:.1f}" y2="{y0:.1f}"/>'
                        f'<text class="tick" x="{a:.1f}" y="{y0 + 14:.1f}" text-anchor="middle">{fmt(t)}</text>')
        for t in self.y.ticks():
            _, b = self.px(self.x.lo, t)
            axes.append(f'<line class="grid" x1="{x0:.1f}" y1="{b:.1f}" x2="{x1:.1f}" y2="{b:.1f}"/>'
                        f'<text class="tick" x="{x0 - 6:.1f}" y="{b + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
        axes.append(f'<text class="axis" x="{(x0 + x1) / 2:.1f}" y="{h - 8}" text-anchor="middle">'
                    f'{escape(self.x.label)}</text>')
        axes.append(f'<text class="axis" transform="translate(14,{(y0 + y1) / 2:.1f}) rotate(-90)" '
                    f'text-anchor="middle">{escape(self.y.label)}</text>')
        body = "".join(axes + self._parts)
        return (f'<svg class="{self.css_class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(self.title)}">{body}</svg>')
