"""How many Locust users a rate needs: Little's law with headroom (pure).

Each user sends one request at a time and holds its slot from the send tick before it (up to ``hold_s``)
until the response, so ``rate / batch_size`` requests/s keep ``rate / batch_size * (latency_s + hold_s)``
users busy. We keep ``headroom`` times that, never fewer than ``min_per_process`` per generator and never
more than ``max_per_process``. If the pacer still reports lag above its bound the caller grows the pool by
half (:func:`grow_on_lag`); the count never shrinks during a run, because stopping a user would silently lose
the send slot it holds.
"""

from __future__ import annotations

import math

from ingestbench.loadgen.step_check import CPU_BOUND

ASSUMED_LATENCY_S = 0.02  # before the first response has been measured


def users_needed(*, rate_eps: float, batch_size: int, latency_s: float | None, processes: int,
                 hold_s: float = 0.0, headroom: float = 4.0, min_per_process: int = 16,
                 max_per_process: int = 1000) -> int:
    """Total users across ``processes`` generators for ``rate_eps``."""
    processes = max(1, processes)
    latency = max(latency_s if latency_s is not None else ASSUMED_LATENCY_S, 0.001)
    busy = rate_eps / batch_size * (latency + hold_s) * headroom
    per_process = math.ceil(busy / processes)
    return processes * min(max(per_process, min_per_process), max_per_process)


def saturated(cpu: float | None, host_cpu: float | None, cpu_bound: float = CPU_BOUND) -> bool:
    """Whether the busiest generator process (``cpu``, share of a core) or its machine (``host_cpu``, busy
    share) had no CPU to spare; unknown counts as not."""
    return (cpu is not None and cpu >= cpu_bound) or (host_cpu is not None and host_cpu >= cpu_bound)


def grow_on_lag(current: int, *, lag_p99_s: float | None, lag_bound_s: float, processes: int,
                busy: int, max_per_process: int = 1000, busy_ratio: float = 0.75,
                cpu: float | None = None, host_cpu: float | None = None, cpu_bound: float = CPU_BOUND,
                factor: float = 1.5) -> int:
    """Grow the pool by ``factor`` (capped) when lag exceeds its bound, most users were busy, and neither a
    generator process (``cpu``: the busiest one's share of a core) nor a generator's machine (``host_cpu``:
    its busy share) was out of CPU.

    Lag with idle users, or with no CPU to spare (unread responses keep users "busy", and a co-located target
    answers slowly), is not a shortage of users: more of them would only add connections and make it worse.
    """
    if lag_p99_s is None or lag_p99_s <= lag_bound_s or busy < busy_ratio * current:
        return current
    if saturated(cpu, host_cpu, cpu_bound):
        return current
    return min(math.ceil(current * factor), max(1, processes) * max_per_process)
