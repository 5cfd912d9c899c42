"""The /proc sampler read against this test process and a child it starts: the CPU seconds and resident memory
it reports agree with what the kernel tells the processes themselves, descendants count, and sampling is cheap.
Also the SLO's ``[resources]`` table and the limits' check."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.orchestrate.resources import ResourceSampler, cgroup_dir, descendants, read_pss_bytes, read_stat
from ingestbench.records.config import ConfigError
from ingestbench.records.resources import ResourceLimits, Resources, TargetUsage, check_resources
from ingestbench.records.slo_file import parse_slo

MIB = 1024 * 1024
TICK_S = 1 / os.sysconf("SC_CLK_TCK")

# burns exactly 1 CPU second (process time, whatever the machine's load), says so, then waits to be stopped
BURNER = """
import sys, time
block = b"x" * (48 * 1024 * 1024)  # written, so resident
while time.process_time() < 1.0:
    pass
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def _vm_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _wait_rounds(sampler: ResourceSampler, rounds: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while sampler.rounds < rounds:
        assert time.monotonic() < deadline, f"the sampler took {sampler.rounds} rounds, not {rounds}"
        time.sleep(0.02)


def test_stat_of_this_process_matches_what_the_kernel_tells_it() -> None:
    before = read_stat(os.getpid())
    assert before is not None and before.ppid == os.getppid()
    t = os.times()
    assert abs(before.cpu_s - (t.user + t.system)) <= 2 * TICK_S + 0.01
    assert abs(before.rss_bytes - _vm_rss_bytes(os.getpid())) < 4 * MIB
    block = b"y" * (64 * MIB)  # written: 64 MiB more resident
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    after = read_stat(os.getpid())
    assert after is not None
    assert after.rss_bytes - before.rss_bytes >= 60 * MIB, (before.rss_bytes, after.rss_bytes)
    assert 0.3 - 2 * TICK_S <= after.cpu_s - before.cpu_s <= 0.3 + 0.1
    pss = read_pss_bytes(os.getpid())
    assert pss is not None and 60 * MIB < pss <= after.rss_bytes + MIB
    del block


def test_the_sampler_counts_a_child_s_cpu_and_memory_and_costs_little() -> None:
    sampler = ResourceSampler(interval_s=0.2)
    sampler.watch_pid("this test", os.getpid())
    sampler.start()
    _wait_rounds(sampler, 2)  # the baseline is taken before the child exists
    mine_before = os.times()
    child = subprocess.Popen([sys.executable, "-c", BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        assert float(child.stdout.readline()) >= 1.0
        assert child.pid in descendants(os.getpid())
        _wait_rounds(sampler, sampler.rounds + 2)  # a round after the burn: the child's CPU is counted
        child_cpu = read_stat(child.pid)
        assert child_cpu is not None
        res = sampler.stop()
    finally:
        child.communicate(input="", timeout=30)
    mine_after = os.times()
    assert res is not None
    (usage,) = res.targets
    mine = (mine_after.user + mine_after.system) - (mine_before.user + mine_before.system)
    # everything the child used (its start-up included) plus what this process used meanwhile, to a few ticks
    assert child_cpu.cpu_s - 3 * TICK_S <= usage.cpu_s <= child_cpu.cpu_s + mine + 0.3, (usage.cpu_s, child_cpu)
    assert max(usage.processes) >= 2
    rss_max = usage.rss_mib_max
    assert rss_max is not None and rss_max >= _vm_rss_bytes(os.getpid()) / MIB + 45  # the child's 48 MiB block
    assert usage.pss_mib_max is not None
    assert usage.cpu_cores_max is not None and usage.cpu_cores_max > 0.3
    # cost: one round reads a handful of /proc files
    assert res.sample_ms_max < 100, res.sample_ms_max
    assert res.sampler_cpu_s / sampler.rounds < 0.02, (res.sampler_cpu_s, sampler.rounds)


def test_a_process_that_exits_is_reported_and_no_longer_sampled() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    sampler = ResourceSampler(interval_s=0.1)
    sampler.watch_pid(f"pid {child.pid}", child.pid)
    sampler.start()
    _wait_rounds(sampler, 2)
    child.communicate(input=b"", timeout=30)
    _wait_rounds(sampler, sampler.rounds + 2)
    res = sampler.stop()
    assert res is not None
    (usage,) = res.targets
    assert usage.problems and f"pid {child.pid} exited" in usage.problems[0]
    assert len(usage.t_s) >= 2


CGROUP_V2 = next((p for p in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
                  if (p / "cgroup.controllers").exists() and (p / "cpu.stat").exists()), None)


@pytest.mark.skipif(CGROUP_V2 is None, reason="no cgroup v2 hierarchy with cpu.stat on this machine")
def test_a_cgroup_s_cpu_usage_is_sampled() -> None:
    assert CGROUP_V2 is not None
    sampler = ResourceSampler(interval_s=0.2)
    sampler.watch_cgroup(str(CGROUP_V2))  # the root: this process is in it
    sampler.start()
    _wait_rounds(sampler, 2)
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    _wait_rounds(sampler, sampler.rounds + 1)
    res = sampler.stop()
    assert res is not None
    (usage,) = res.targets
    assert not usage.problems and usage.cpu_s >= 0.45, usage
    has_memory = (CGROUP_V2 / "memory.current").exists()
    assert (usage.rss_mib_max is not None) == has_memory


def test_bad_observe_targets_are_named() -> None:
    with pytest.raises(ConfigError, match="--observe-cgroup: /nonexistent-cg"):
        cgroup_dir("/nonexistent-cg")


def test_the_resources_table_of_an_slo_file() -> None:
    tier = [{"name": "t", "path": "analytical", "target_s": 1}]
    slo = parse_slo({"tier": tier, "resources": {"max_cpu_cores": 1.5, "max_rss_mib": 200}})
    assert slo.resources == ResourceLimits(max_cpu_cores=1.5, max_rss_mib=200.0)
    assert not parse_slo({"tier": tier}).resources.set
    with pytest.raises(ConfigError, match=r"resources\.max_rss: unknown key"):
        parse_slo({"tier": tier, "resources": {"max_rss": 1}})
    with pytest.raises(ConfigError, match=r"resources\.max_rss_mib: must be > 0"):
        parse_slo({"tier": tier, "resources": {"max_rss_mib": 0}})


def test_limits_fail_on_the_measured_value_and_are_invalid_without_one() -> None:
    usage = TargetUsage(name="pipeline", source="pid 1", t_s=(0.0, 1.0, 2.0), cpu_cores=(None, 1.0, 3.0),
                        rss_mib=(90.0, 120.0, 100.0), cpu_s=4.0)
    res = Resources(targets=(usage,))
    assert check_resources(ResourceLimits(max_cpu_cores=2.0, max_rss_mib=120.0), res) == ([], [])
    failures, invalid = check_resources(ResourceLimits(max_cpu_cores=1.9, max_rss_mib=119.0), res)
    assert failures == ["pipeline: CPU 2 cores on average is over the limit max_cpu_cores = 1.9",
                        "pipeline: RSS max 120 MiB is over the limit max_rss_mib = 119"] and not invalid
    failures, invalid = check_resources(ResourceLimits(max_rss_mib=1.0), None)
    assert not failures and invalid == ["resources: nothing was observed to hold to max_rss_mib = 1 (no target's "
                                        "memory: the embedded pipeline, --observe-pid or --observe-cgroup)"]
    assert check_resources(ResourceLimits(), None) == ([], [])


def test_observed_targets_are_resolved_into_the_plan_and_a_missing_pid_is_named() -> None:
    plan = resolve_run(RunFlags(observe_pids=[os.getpid(), os.getpid()]), {}).plan
    assert plan.observe_pids == (os.getpid(),)
    assert resolve_run(RunFlags(), {"INGESTBENCH_OBSERVE_PID": str(os.getpid())}).plan.observe_pids == (os.getpid(),)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    with pytest.raises(ConfigError, match=f"--observe-pid: no process {gone.pid} on this machine"):
        resolve_run(RunFlags(observe_pids=[gone.pid]), {})
