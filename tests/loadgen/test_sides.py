"""WorkerSide and MasterSide with fake clocks and in-memory messaging (no Locust runner, no network)."""

from pathlib import Path

import orjson
import pytest

from ingestbench.loadgen.master import JOIN_LEAD_S, TAIL_S, MasterSide
from ingestbench.loadgen.registry import TargetRegistry
from ingestbench.loadgen.shares import request_at
from ingestbench.loadgen.worker import LEAVE_MESSAGE, STATS_MESSAGE, WorkerSide, plan_message
from ingestbench.records.scenario import load_scenario

SCENARIO = """
description = "x"
time_scale = 0.5
slo = "slo.toml"

[load]
batch_size = 10
steps = [{rate_eps = 100, duration_s = 4}, {rate_eps = 300, duration_s = 4}]
"""


@pytest.fixture
def scenario(tmp_path):
    (tmp_path / "slo.toml").write_text("")
    path = tmp_path / "sc.toml"
    path.write_text(SCENARIO)
    return load_scenario(path)


class Clock:
    def __init__(self, mono, wall):
        self.mono, self.wall = mono, wall

    def advance(self, s):
        self.mono += s
        self.wall += s


def test_worker_takes_the_plan_with_only_the_load_table(scenario, tmp_path):
    clock = Clock(50.0, 1_000.0)
    sent = []
    side = WorkerSide(host="http://h", send_message=lambda k, d: sent.append((k, d)),
                      registry=TargetRegistry.default(), clock=lambda: clock.mono, wall=lambda: clock.wall,
                      tune_gc=False)
    plan = plan_message(t0_unix_s=1_001.0, index=1, count=2, join=False, load=scenario.load, time_scale=0.5,
                        target="pipeline", target_options={})
    # a worker on another machine gets the [load] table and the target, not files (the SLO is the master's)
    (tmp_path / "slo.toml").unlink()
    side.on_plan(orjson.loads(orjson.dumps(plan)))  # as it crosses the wire
    assert side.t0_s == pytest.approx(51.0)
    assert side.pacer is not None and side.pacer.index == 1 and side.pacer.count == 2
    assert side.pacer.schedule.duration_s == pytest.approx(4.0)  # 8 s scaled by 0.5
    slot, _ = side.pacer.next_slot(clock.mono)
    assert slot.seq == 1 and slot.events == 10 and slot.intended_s == pytest.approx(51.1)
    assert side.unix_ms(slot.intended_s) == 1_001_100
    side.on_plan({**plan, "index": 0, "count": 1})  # same run: only the share changes
    assert side.pacer.count == 1
    side.meter.record_start(51.2, step=0, events=10, lag_s=0.001)
    side.meter.record_result(51.3, events=10, kind="ok", latency_s=0.1)
    clock.advance(3)
    side.report()
    kind, data = sent[-1]
    assert kind == STATS_MESSAGE and data["upto_s"] == 2 and data["bins"][0]["ok"] == 10
    side.stop()


def test_master_plans_sizes_and_stops(scenario):
    clock = Clock(0.0, 5_000.0)
    plans, codes = [], []
    workers = ["w-b", "w-a"]
    master = MasterSide(name="sc", load=scenario.load, time_scale=0.5, target="pipeline", sinks=[],
                        workers=lambda: list(workers), send_plan=lambda wid, d: plans.append((wid, d)),
                        set_exit_code=codes.append, lead_s=1.0, wall=lambda: clock.wall)
    users, _ = master.tick()
    assert sorted((w, d["index"], d["count"]) for w, d in plans) == [("w-a", 0, 2), ("w-b", 1, 2)]
    assert all(d["t0_unix_s"] == 5_001.0 and not d["join"] for _, d in plans)
    assert users >= 2 * 16
    workers.append("w-c")
    plans.clear()
    clock.advance(2.0)  # 1 s into the schedule
    master._reshard()
    assert plans == []  # connected, but its plan handler is not registered yet: no share
    master.on_hello("w-c")
    master._reshard()
    assert {(w, d["index"], d["count"], d["join"]) for w, d in plans} == {
        ("w-a", 0, 3, False), ("w-b", 1, 3, False), ("w-c", 2, 3, True)}
    # the new split takes effect JOIN_LEAD_S ahead, at the same request for everybody
    at = request_at(master.schedule, 10, 1.0 + JOIN_LEAD_S)
    assert at == 20
    assert {w: d["shares"] for w, d in plans} == {
        "w-a": [[0, 0, 2], [at, 0, 3]], "w-b": [[0, 1, 2], [at, 1, 3]], "w-c": [[0, -1, 1], [at, 2, 3]]}
    clock.advance(1.0 + 4.0 + TAIL_S + 0.1)
    assert master.tick() is None  # schedule over: Locust stops
    assert master.step_checks is not None and not any(v.valid for v in master.step_checks)  # nothing was sent
    assert codes == [3]
    assert master.tick() is not None  # a new run (web UI) starts afresh
    assert Path(scenario.path).name == "sc.toml"


def test_a_worker_that_missed_its_plan_gets_it_again_on_hello(scenario):
    clock = Clock(0.0, 5_000.0)
    plans = []
    master = MasterSide(name="sc", load=scenario.load, time_scale=0.5, target="pipeline", sinks=[],
                        workers=lambda: ["w-a", "w-b"], send_plan=lambda wid, d: plans.append((wid, d)),
                        set_exit_code=lambda code: None, lead_s=1.0, wall=lambda: clock.wall)
    master.on_hello("w-b")  # before the run: nothing to resend, the first re-shard will send it
    assert plans == []
    master.tick()
    plans.clear()
    master.on_hello("w-b")  # its first plan was dropped: same start time, its own share, as a joiner
    assert [(w, d["index"], d["count"], d["join"], d["t0_unix_s"]) for w, d in plans] == [
        ("w-b", 1, 2, True, 5_001.0)]
    plans.clear()
    master.on_hello("w-unknown")
    assert plans == []


def test_a_leaving_worker_hands_its_share_over_at_a_switch_request(scenario):
    clock = Clock(50.0, 1_000.0)
    sent = []
    ticking = []

    def mono():  # once leaving, time passes while it waits for its requests
        if ticking:
            clock.advance(0.01)
        return clock.mono

    side = WorkerSide(host="http://h", send_message=lambda k, d: sent.append((k, d)),
                      registry=TargetRegistry.default(), clock=mono, wall=lambda: clock.wall, tune_gc=False)
    side.on_plan(plan_message(t0_unix_s=1_000.0, index=0, count=1, join=False, load=scenario.load,
                              time_scale=0.5, target="pipeline", target_options={}, shares=[[0, 0, 1]], rev=1))
    clock.advance(1.0)
    for _ in range(10):  # 0..9 sent
        assert side.pacer.claim(side.pacer.next_slot(clock.mono)[0].seq)
    held = [side.pacer.next_slot(clock.mono)[0] for _ in range(3)]  # 10, 11, 12: due 1.0, 1.1, 1.2 s
    ticking.append(True)
    side.leave(lead_s=0.15, wait_s=0.0)  # the others take over from the request due 1.15 s: 12
    (kind, data), (last_kind, last) = sent
    assert kind == LEAVE_MESSAGE and data["switch_seq"] == 12 and data["t0_unix_s"] == 1_000.0
    assert last_kind == STATS_MESSAGE and last["upto_s"] == 2**31  # its last report, before Locust says quit
    assert sum(b["dropped"] for b in last["bins"]) == 20  # 10 and 11 were never sent: dropped, not lost
    assert not side.pacer.claim(held[2].seq)
    side.on_plan(plan_message(t0_unix_s=1_000.0, index=0, count=2, join=False, load=scenario.load,
                              time_scale=0.5, target="pipeline", target_options={},
                              shares=[[0, 0, 1], [30, 0, 2]], rev=2))  # sent before the master knew
    assert side.pacer.shares == [(0, 0, 1), (12, -1, 1)]


def test_master_passes_a_leavers_switch_request_on_and_waits_for_its_reports(scenario):
    clock = Clock(0.0, 5_000.0)
    plans = []
    workers = ["w-a", "w-b"]
    master = MasterSide(name="sc", load=scenario.load, time_scale=0.5, target="pipeline", sinks=[],
                        workers=lambda: list(workers), send_plan=lambda wid, d: plans.append((wid, d)),
                        set_exit_code=lambda code: None, lead_s=1.0, wall=lambda: clock.wall)
    master.tick()
    plans.clear()
    master.on_leave("w-b", {"t0_unix_s": 5_001.0, "switch_seq": 12, "switch_s": 1.2})
    assert [(w, d["shares"], d["rev"]) for w, d in plans] == [("w-a", [[0, 0, 2], [12, 0, 1]], 2)]
    assert set(master.timeline._upto) == {"w-a", "w-b"}  # until its last report and goodbye
    plans.clear()
    master._reshard()  # still connected, saying goodbye: it does not join again
    assert plans == []
    workers.remove("w-b")
    master._reshard()
    assert plans == [] and set(master.timeline._upto) == {"w-a"}
    master.on_leave("w-x", {"t0_unix_s": 1.0, "switch_seq": 3})  # another run's: ignored
    assert plans == []


def test_a_worker_that_vanishes_is_named_lost_and_every_plan_names_the_target(scenario):
    clock = Clock(0.0, 5_000.0)
    plans, codes, sharing = [], [], []
    workers = ["w-a", "w-b"]
    master = MasterSide(name="sc", load=scenario.load, time_scale=0.5, target="pipeline", sinks=[],
                        workers=lambda: list(workers), send_plan=lambda wid, d: plans.append((wid, d)),
                        set_exit_code=codes.append, lead_s=1.0, wall=lambda: clock.wall,
                        on_sharing=lambda n, lost: sharing.append((n, lost)), target_url="http://10.0.0.9:8080")
    master.tick()
    assert {d["host"] for _, d in plans} == {"http://10.0.0.9:8080"}  # a worker elsewhere has no plan file
    # ... and a worker takes the target from the plan, not from its own (absent) --host
    side = WorkerSide(host="http://127.0.0.1", send_message=lambda k, d: None, registry=TargetRegistry.default(),
                      clock=lambda: clock.mono, wall=lambda: clock.wall, tune_gc=False)
    side.on_plan(orjson.loads(orjson.dumps(plans[0][1])))
    assert side.host == "http://10.0.0.9:8080"
    side.stop()
    assert sharing == [(2, 0)]
    workers.remove("w-b")  # killed: no leave message, just gone from Locust's list
    clock.advance(3.0)
    master._reshard()
    assert sharing[-1] == (1, 1)
    assert master.timeline is not None and master.timeline.generators.lost_ids() == ["w-b"]
    assert [w for w, _ in plans[-1:]] == ["w-a"]  # the survivor takes the whole rate
    master.finish()
    assert 3 in codes
