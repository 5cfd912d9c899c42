"""``--connect`` for ``run`` and ``probe``: the preflight's steps against the real target, printed with their
timings; exit 0 when every step worked, 2 when a key was rejected (a setting to fix), 3 otherwise."""

from __future__ import annotations

import asyncio
import os

from ingestbench.checks.connect import connect
from ingestbench.loadgen.events import EventFactory
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.observation import ANALYTICAL, TRANSACTIONAL
from ingestbench.records.plan import TargetPlan
from ingestbench.records.slo import Slo
from ingestbench.records.tls import TlsPlan
from ingestbench.targets.roles import make_roles


def connect_and_print(target: TargetPlan, tls: TlsPlan, slo: Slo, *, poll_s: float, timeout_s: float) -> int:
    if not target.url:
        print("connect: nothing to connect to: the embedded pipeline runs only during a run (give --url)")
        return int(ExitCode.USAGE)
    roles = make_roles(target, os.environ)
    wait_s = max(slo.probe_horizon_s(ANALYTICAL), slo.probe_horizon_s(TRANSACTIONAL))
    print(f"connect: one canary to {target.kind} at {target.url}, looked up for up to {wait_s:g} s")
    steps = asyncio.run(connect(roles, tls, EventFactory(seed=0), wait_s=wait_s, poll_s=poll_s, timeout_s=timeout_s))
    for step in steps:
        print(f"connect: {step.line()}")
    if all(s.ok for s in steps):
        return int(ExitCode.OK)
    return int(ExitCode.USAGE if any("rejected" in s.detail for s in steps) else ExitCode.INVALID)
