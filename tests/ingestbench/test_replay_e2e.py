"""Ramps and replays, run for real (embedded pipeline, Locust, probe, on loopback): per second, the asked events in
rates.jsonl are the integral of the shape over that second (computed here on its own from the shape), the
generator sent them, and the target acknowledged them.

Per-second counts come in whole requests of ``batch_size`` events and a request starts on a send tick: a second's
sent events may miss its asked ones by two batches, and by the events of its recorded schedule lag (a request
sent that late may start in the next second). Each second is held to ``min_achieved_ratio`` (3 %) or that,
whichever is larger. Acknowledgements follow the target's latency (a slow flush holds a few batches past a
second's end), so they are held to the sends: never more acknowledged than sent by the end of any second, and
everything sent in a second acknowledged by the end of the next. Seconds the run marks stalled (the generator
fell behind its schedule), and the second after each, are left out of the per-second check; most must count."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path

import pytest

from tests.runs import ROOT, ib_run

pytestmark = [pytest.mark.slow, pytest.mark.server]

DAY = ROOT / "ingestbench" / "scenarios" / "shapes" / "day.csv"
BATCH = 10
RATIO = 0.97
# A day in 72 s: an hour's row lasts 3 s. A step's check counts the events acknowledged while it ran, and a request
# in flight at its end is acknowledged in the next: on a busy machine a slow response moves a batch or three,
# a few percent of a 1.5 s row at a few hundred events/s but not of a 3 s one.
COMPRESS = 1200
# a short drain: the pipeline flushes within a second, so every canary is decided soon after the load
FAST = "[pipeline]\nflush_rows = 3000\nflush_max_wait_s = 1\n[probe]\ninterval_s = 1.0\n"


def hourly_half_day(path: Path) -> list[tuple[float, float]]:
    """The example day sampled hourly at half its rates (the 18:00 hour holds the push spike, 3,000/s): every
    rate <= 3,000 events/s, and each hour 3 s at compression 1200."""
    rows = [(float(r["second"]), float(r["events_per_s"])) for r in csv.DictReader(DAY.open())]
    spike = max(r for _, r in rows)
    hourly = [(s, round(r / 2)) for s, r in rows if s % 3600 == 0]
    hourly = [(s, spike / 2 if s == 18 * 3600 else r) for s, r in hourly]
    path.write_text("second,events_per_s\n" + "".join(f"{s:g},{r:g}\n" for s, r in hourly))
    return hourly


def integral(rate, a: float, b: float, n: int = 400) -> float:
    """The events due in [a, b): a midpoint sum, fine enough for both step functions and smooth ramps."""
    h = (b - a) / n
    return sum(rate(a + (i + 0.5) * h) for i in range(n)) * h


def seconds_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "rates.jsonl").read_text().splitlines()
            if json.loads(line).get("type") == "second"]


def drawn_asked(run_dir: Path) -> list[float]:
    """The heights (pixels above the chart's foot) of the asked line in report.html's load chart, one per second."""
    html = (run_dir / "report.html").read_text()
    chart = html[html.index("Target against achieved"):]
    points = re.search(r'class="asked" fill="none" points="([^"]+)"', chart)
    assert points, "the load chart draws the asked rate"
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    return [-y for y in [ys[0], *ys[2::2]]]  # a step line: (x_k, y_k-1), (x_k, y_k) per second after the first


def assert_drawn(run_dir: Path, expected: list[float]) -> None:
    """The chart's asked line is, to its pixel rounding, an affine image of ``expected`` (events per second)."""
    drawn = drawn_asked(run_dir)
    assert len(drawn) == len(expected)
    lo, hi = min(range(len(expected)), key=expected.__getitem__), max(range(len(expected)), key=expected.__getitem__)
    scale = (drawn[hi] - drawn[lo]) / (expected[hi] - expected[lo])
    off = [d - (drawn[lo] + scale * (e - expected[lo])) for d, e in zip(drawn, expected, strict=True)]
    assert max(abs(o) for o in off) <= 0.11, off  # coordinates are written to 0.1 px


def check_achieved(secs: list[dict]) -> int:
    """Each counted second's sent events against its asked ones, and the acknowledgements against the sends;
    returns how many seconds were counted."""
    stalled = {s["t_s"] for s in secs if s.get("stalled")} | {s["t_s"] + 1 for s in secs if s.get("stalled")}
    counted = [s for s in secs[1:-1] if s["t_s"] not in stalled]
    bad = [(s["t_s"], s["target_eps"], s["sent_events"], s["lag_p99_s"]) for s in counted
           if abs(s["sent_events"] - s["target_eps"])
           > max((1 - RATIO) * s["target_eps"], 2 * BATCH) + s["target_eps"] * (s["lag_p99_s"] or 0)]
    assert not bad, f"seconds whose sent events missed the asked ones (t_s, asked, sent, lag p99 s): {bad}"
    assert len(counted) >= 0.75 * (len(secs) - 2), f"{len(secs) - 2 - len(counted)} stalled seconds"
    sent = list(itertools.accumulate(s["sent_events"] for s in secs))
    acked = list(itertools.accumulate(s["achieved_eps"] for s in secs))
    assert all(a <= s for a, s in zip(acked, sent, strict=True)), "acknowledged before sent"
    late = [secs[i]["t_s"] for i in range(len(secs) - 1) if acked[i + 1] < sent[i]]
    assert not late, f"events sent in these seconds were not acknowledged by the end of the next: {late}"
    assert sum(s["failed_events"] for s in secs) == 0
    return len(counted)


def test_a_replayed_day_is_asked_and_delivered_second_by_second(tmp_path):
    hourly = hourly_half_day(tmp_path / "day-hourly.csv")
    (tmp_path / "replay.toml").write_text(
        'description = "the example day, hourly, half its rates, in 72 s"\n'
        f'[load]\nreplay = "day-hourly.csv"\nreplay_compress = {COMPRESS}\nbatch_size = {BATCH}\n' + FAST)
    _code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", str(tmp_path / "replay.toml"),
                                      "--time-scale", "1", timeout=300)
    assert (run_dir / "run.json").exists(), output[-3000:]
    starts = [(s - hourly[0][0]) / COMPRESS for s, _ in hourly]
    end = starts[-1] + (starts[-1] - starts[-2])

    def rate(t: float) -> float:
        i = max(i for i, s in enumerate(starts) if s <= t)
        return hourly[i][1] if t < end else 0.0

    secs = seconds_of(run_dir)
    assert len(secs) == math.ceil(end) == 72, (len(secs), output[-2000:])
    for s in secs:  # the asked events of each second: the shape's integral over it, straddled edges included
        assert s["target_eps"] == pytest.approx(integral(rate, s["t_s"], s["t_s"] + 1), abs=0.01), s
    assert max(s["target_eps"] for s in secs) == pytest.approx(3000, abs=0.01)  # the spike has seconds of its own
    assert {s["regime"] for s in secs} == {0}  # one shape: its rows' rate changes are not regime changes
    check_achieved(secs)
    doc = json.loads((run_dir / "run.json").read_text())
    assert len(doc["steps"]) == 24
    assert not [(s["step"], s["reason"]) for s in doc["steps"] if not s["valid"]]
    assert "24 steps: 24 valid, 0 invalid; every step is in run.json" in (run_dir / "report.md").read_text()
    assert_drawn(run_dir, [integral(rate, t, t + 1) for t in range(72)])


def test_an_exponential_ramp_is_asked_along_its_curve(tmp_path):
    r0, r1, d, flat = 150.0, 2400.0, 16.0, 4.0  # the rate doubles every 4 s
    (tmp_path / "exp.toml").write_text(
        'description = "a flat start, then an exponential ramp"\n'
        f"[load]\nbatch_size = {BATCH}\nsteps = [{{rate_eps = {r0:g}, duration_s = {flat:g}}}, "
        f'{{rate_eps = {r0:g}, end_rate_eps = {r1:g}, duration_s = {d:g}, ramp = "exponential"}}]\n' + FAST)
    _code, run_dir, _, output = ib_run(tmp_path / "out", "--scenario", str(tmp_path / "exp.toml"),
                                      "--time-scale", "1", timeout=180)
    assert (run_dir / "run.json").exists(), output[-3000:]

    def rate(t: float) -> float:
        return r0 if t < flat else r0 * (r1 / r0) ** ((t - flat) / d)

    secs = seconds_of(run_dir)
    assert len(secs) == 20, output[-2000:]
    asked = [s["target_eps"] for s in secs]
    for s in secs:
        assert s["target_eps"] == pytest.approx(integral(rate, s["t_s"], s["t_s"] + 1), rel=1e-4), s
    assert [s["regime"] for s in secs] == [None] * int(flat) + [1] * int(d)  # the ramp is one shape, step 1
    ramp = asked[int(flat):]
    factors = [b / a for a, b in itertools.pairwise(ramp)]
    assert factors == pytest.approx([2 ** 0.25] * len(factors), rel=1e-4)  # the same factor every second
    assert_drawn(run_dir, [integral(rate, t, t + 1) for t in range(20)])  # the chart draws the curve
    check_achieved(secs)
    doc = json.loads((run_dir / "run.json").read_text())
    mean = r0 * d * (r1 / r0 - 1) / math.log(r1 / r0) / d
    assert doc["steps"][1]["target_eps"] == pytest.approx(mean, rel=1e-6)  # judged against the ramp's mean
    assert not [(s["step"], s["reason"]) for s in doc["steps"] if not s["valid"]]
