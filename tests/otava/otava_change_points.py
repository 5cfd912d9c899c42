"""Run by the Python that has Apache Otava: reads [{"series": [...], "max_pvalue": p, "window": n}, ...] as
JSON on stdin and prints, per series, Otava's change points as [index, p-value, mean before, mean after], each
with its statistics over its final segments (Otava's own t-test tester over the final intervals)."""

import json
import sys

from otava.analysis import TTestSignificanceTester, compute_change_points

out = []
for case in json.load(sys.stdin):
    series = list(case["series"])
    points, _ = compute_change_points(series, window_len=case["window"], max_pvalue=case["max_pvalue"])
    tester = TTestSignificanceTester(case["max_pvalue"])
    intervals = tester.get_intervals(points)
    points = [tester.change_point(p.to_candidate(), series, intervals) for p in points]
    out.append([[int(p.index), float(p.stats.pvalue), float(p.stats.mean_1), float(p.stats.mean_2)] for p in points])
json.dump(out, sys.stdout)
