"""What went wrong during a run, and when: failure episodes read back from its rate timeline and canaries.

A report says *that* a step was not reached or a tier lost canaries; an episode says *when*, in seconds after
the load started, so a fault can be matched to the target's own logs::

    for e in episodes(files):
        print(f"{e.start_s:.1f}-{e.end_s:.1f} s {e.source}: {e.what}")

Four kinds, each grouping what happened close together (gaps of at most ``GAP_S``):

- ``load``: seconds in which load requests failed (by kind) or were dropped too late to send;
- ``canaries``: errored canaries, by the first error of each kind, at their send times;
- ``canaries``: lost canaries (and how many of them were seen late), at their send times;
- ``queries``: polls of the query side that failed (an error, a timeout, an answer that is not one), as the
  probe grouped them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ingestbench.rundir import RunFiles

GAP_S = 2.0  # events further apart than this are separate episodes


@dataclass(frozen=True)
class Episode:
    start_s: float  # seconds after the load started (negative: before it)
    end_s: float
    source: str  # "load" or "canaries"
    what: str


def load_start_unix_s(seconds: Sequence[dict[str, Any]]) -> float | None:
    """When the load started, from the rate timeline (each row's ``unix_s`` is the end of second ``t_s``)."""
    for row in seconds:
        if isinstance(row.get("unix_s"), int | float) and isinstance(row.get("t_s"), int):
            return float(row["unix_s"]) - row["t_s"] - 1.0
    return None


def _groups(points: Iterable[tuple[float, Any]]) -> list[list[tuple[float, Any]]]:
    out: list[list[tuple[float, Any]]] = []
    for t, item in sorted(points, key=lambda p: p[0]):
        if out and t - out[-1][-1][0] <= GAP_S:
            out[-1].append((t, item))
        else:
            out.append([(t, item)])
    return out


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in counter.most_common())


def load_episodes(seconds: Sequence[dict[str, Any]]) -> list[Episode]:
    """Runs of seconds in which load requests failed or were dropped."""
    bad = [(float(r["t_s"]), r) for r in seconds
           if isinstance(r.get("t_s"), int) and (r.get("failed_events") or r.get("dropped_events"))]
    out = []
    for group in _groups(bad):
        failed: Counter[str] = Counter()
        dropped = 0
        for _, row in group:
            failed.update({str(k): int(v) for k, v in (row.get("failed_by_kind") or {}).items()})
            dropped += int(row.get("dropped_events") or 0)
        parts = [f"{sum(failed.values()):,} events failed ({_counts(failed)})"] if failed else []
        if dropped:
            parts.append(f"{dropped:,} dropped too late to send")
        out.append(Episode(group[0][0], group[-1][0] + 1.0, "load", "; ".join(parts)))
    return out


def canary_episodes(judged: Sequence[dict[str, Any]], samples: Sequence[dict[str, Any]],
                    start_unix_s: float) -> list[Episode]:
    """Errored and lost canaries, grouped by send time (the judge's outcome, the probe's error text)."""
    errors = {s.get("canary_id"): s.get("error") for s in samples if s.get("outcome") == "errored"}
    rows = judged or samples
    out = []
    for outcomes, verb in ((("errored",), "errored"), (("lost", "late"), "lost")):
        hits = [(float(r["sent_unix_ms"]) / 1000.0 - start_unix_s, r) for r in rows
                if r.get("outcome") in outcomes and isinstance(r.get("sent_unix_ms"), int | float)]
        for group in _groups(hits):
            what = f"{len(group):,} canaries {verb}"
            if verb == "errored":
                kinds = Counter(str(errors.get(r.get("canary_id")) or "unknown error") for _, r in group)
                what += f" ({_counts(kinds)})"
            else:
                late = sum(1 for _, r in group if r.get("outcome") == "late")
                what += f" ({late:,} of them seen late)" if late else " (never seen)"
            out.append(Episode(group[0][0], group[-1][0], "canaries", what))
    return out


def query_episodes(probe: dict[str, Any], start_unix_s: float) -> list[Episode]:
    """Failed polls of the query side, as the probe grouped them (``poll_failure_episodes`` in its summary)."""
    out = []
    for item in probe.get("poll_failure_episodes") or []:
        try:
            first_ms, last_ms, count, error = item
            out.append(Episode(float(first_ms) / 1000.0 - start_unix_s, float(last_ms) / 1000.0 - start_unix_s,
                               "queries", f"{int(count):,} polls failed (first: {error})"))
        except (TypeError, ValueError):
            continue
    return out


def episodes(files: RunFiles) -> list[Episode]:
    """Every episode of a run, in time order (none without a rate timeline to time them by)."""
    start = load_start_unix_s(files.seconds)
    if start is None:
        return []
    found = (load_episodes(files.seconds) + canary_episodes(files.judged, files.samples, start)
             + query_episodes(files.probe, start))
    return sorted(found, key=lambda e: (e.start_s, e.source))
