"""What went wrong during a run, and when: failure episodes read back from its rate timeline and canaries.

A report says *that* a step was not reached or a tier lost canaries; an episode says *when*, in seconds after
the load started, so a fault can be matched to the target's own logs::

    for e in episodes(files):
        print(f"{e.start_s:.1f}-{e.end_s:.1f} s {e.source}: {e.what}")

Four kinds, each grouping what happened close together (gaps of at most ``GAP_S``):

- ``load``: seconds in which load requests failed (by kind) or were dropped too late to send;
- ``generator``: seconds in which the generator fell behind its schedule (stalls: their canaries are not
  judged for TTA);
- ``canaries``: errored canaries, with their errors by kind, at their send times;
- ``canaries``: lost canaries (and how many of them were seen late), at their send times;
- ``queries``: polls of the query side that failed (an error, a timeout, an answer that is not one), as the
  probe grouped them.

Canaries are grouped on their columns (sorted send times split where the gap is wider than ``GAP_S``), so a
run with a million of them costs a sort, and the report lists at most ``MAX_EPISODES`` episodes of each kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ingestbench.records.run_record import ProbeSummary
from ingestbench.records.samples import OUTCOME_CODE
from ingestbench.records.timeline import SecondRow
from ingestbench.results.rundir import RunFiles

GAP_S = 2.0  # events further apart than this are separate episodes
MAX_EPISODES = 20  # of each kind, the first ones; the report says how many more there were


@dataclass(frozen=True)
class Episode:
    start_s: float  # seconds after the load started (negative: before it)
    end_s: float
    source: str  # "load", "canaries" or "queries"
    what: str


def load_start_unix_s(seconds: Sequence[SecondRow]) -> float | None:
    """When the load started, from the rate timeline (each row's ``unix_s`` is the end of second ``t_s``)."""
    return seconds[0].unix_s - seconds[0].t_s - 1.0 if seconds else None


def _split(times: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of sorted ``times`` with no gap wider than ``GAP_S`` inside."""
    if not times.size:
        return []
    cuts = np.flatnonzero(np.diff(times) > GAP_S) + 1
    bounds = [0, *cuts.tolist(), int(times.size)]
    return list(pairwise(bounds))


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in counter.most_common())


def _capped(found: list[Episode], source: str) -> list[Episode]:
    if len(found) <= MAX_EPISODES:
        return found
    last = found[MAX_EPISODES - 1]
    more = Episode(last.end_s, found[-1].end_s, source, f"… {len(found) - MAX_EPISODES + 1:,} more episodes")
    return [*found[:MAX_EPISODES - 1], more]


def load_episodes(seconds: Sequence[SecondRow]) -> list[Episode]:
    """Runs of seconds in which load requests failed or were dropped."""
    bad = sorted((r for r in seconds if r.failed_events or r.dropped_events), key=lambda r: r.t_s)
    times = np.array([float(r.t_s) for r in bad])
    out = []
    for a, b in _split(times):
        failed: Counter[str] = Counter()
        for row in bad[a:b]:
            failed.update({str(k): int(v) for k, v in row.failed_by_kind.items()})
        dropped = sum(r.dropped_events for r in bad[a:b])
        parts = [f"{sum(failed.values()):,} events failed ({_counts(failed)})"] if failed else []
        if dropped:
            parts.append(f"{dropped:,} dropped too late to send")
        out.append(Episode(float(times[a]), float(times[b - 1]) + 1.0, "load", "; ".join(parts)))
    return _capped(out, "load")


def stall_episodes(seconds: Sequence[SecondRow]) -> list[Episode]:
    """Runs of seconds in which the generator fell behind its schedule (schedule-lag p99 over the bound)."""
    stalled = sorted((r for r in seconds if r.stalled), key=lambda r: r.t_s)
    times = np.array([float(r.t_s) for r in stalled])
    out = []
    for a, b in _split(times):
        worst = max((r.lag_p99_s or 0.0) for r in stalled[a:b])
        out.append(Episode(float(times[a]), float(times[b - 1]) + 1.0, "generator",
                           f"fell behind its schedule in {b - a} s (lag p99 up to {worst:.3f} s): canaries sent "
                           "then are in the stall window, not judged for TTA"))
    return _capped(out, "generator")


def canary_episodes(files: RunFiles, start_unix_s: float) -> list[Episode]:
    """Errored and lost canaries, grouped by send time (the judge's outcome, the probe's error text)."""
    samples = files.judged.samples if files.judged is not None else files.samples  # aligned with the outcomes
    outcome = files.judged.outcome if files.judged is not None else samples.outcome
    sent_s = samples.sent_unix_ms / 1000.0 - start_unix_s
    out = []
    for names, verb in ((("errored",), "errored"), (("lost", "late"), "lost")):
        rows = np.flatnonzero(np.isin(outcome, [OUTCOME_CODE[n] for n in names]))
        rows = rows[np.argsort(sent_s[rows], kind="stable")]
        times = sent_s[rows]
        found = []
        for a, b in _split(times):
            group = rows[a:b]
            what = f"{b - a:,} canaries {verb}"
            if verb == "errored":
                kinds = Counter(e or "unknown error" for e in samples.take(group).errors())
                what += f" ({_counts(kinds)})"
            else:
                late = int(np.count_nonzero(outcome[group] == OUTCOME_CODE["late"]))
                what += f" ({late:,} of them seen late)" if late else " (never seen)"
            found.append(Episode(float(times[a]), float(times[b - 1]), "canaries", what))
        out += _capped(found, "canaries")
    return out


def query_episodes(probe: ProbeSummary, start_unix_s: float) -> list[Episode]:
    """Failed polls of the query side, as the probe grouped them (``poll_failure_episodes``)."""
    out = []
    for item in probe.poll_failure_episodes or ():
        try:
            first_ms, last_ms, count, error = item
            out.append(Episode(float(first_ms) / 1000.0 - start_unix_s, float(last_ms) / 1000.0 - start_unix_s,
                               "queries", f"{int(count):,} polls failed (first: {error})"))
        except (TypeError, ValueError):
            continue
    return _capped(out, "queries")


def episodes(files: RunFiles) -> list[Episode]:
    """Every episode of a run, in time order (none without a rate timeline to time them by)."""
    start = load_start_unix_s(files.timeline.seconds)
    if start is None:
        return []
    found = (load_episodes(files.timeline.seconds) + stall_episodes(files.timeline.seconds)
             + canary_episodes(files, start)
             + query_episodes(files.run.probe, start))
    return sorted(found, key=lambda e: (e.start_s, e.source))
