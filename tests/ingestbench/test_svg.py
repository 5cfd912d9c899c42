import pytest

from ingestbench.results.svg import Axis, Chart


def test_linear_ticks_cover_the_range():
    ticks = Axis(0, 10).ticks()
    assert ticks[0] == 0 and ticks[-1] == 10 and len(ticks) >= 4


def test_log_axis_ticks_are_decades_and_need_positive_lo():
    assert Axis(0.05, 600, log=True).ticks() == [0.1, 1, 10, 100]
    with pytest.raises(ValueError):
        Axis(0, 10, log=True)


def test_chart_maps_points_inside_the_frame_and_escapes_text():
    c = Chart(400, 200, x=Axis(0, 10), y=Axis(0, 1), title="a <b> & c")
    x0, y0 = c.px(0, 0)
    x1, y1 = c.px(10, 1)
    assert x0 < x1 and y1 < y0
    assert c.px(-5, 5) == (x0, y1)  # clamped
    c.dots([(5, 0.5)], css="t0")
    c.vline(3, css="target", label="target <3>")
    svg = c.render()
    assert svg.startswith("<svg") and "&lt;b&gt; &amp; c" in svg and "<circle" in svg and "target &lt;3&gt;" in svg
