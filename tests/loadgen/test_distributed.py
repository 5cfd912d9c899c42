"""Master + workers as separate processes: the rate is split, and re-split when a worker joins or leaves.

A re-split takes effect at a switch request all workers share (:mod:`ingestbench.loadgen.pacer`), so every request
of the schedule is sent by exactly one worker, or counted as dropped: that is checked exactly. What a join or a
leave may still do is move events between seconds: a worker process starting (imports, connections) or stopping on a
busy 2-core machine starves the others for a moment, and the requests due then go out late. A request is never sent
more than ``max_behind_s`` late (it is dropped and counted instead), so only the seconds from worker 2's start to
``max_behind_s`` after it exited can be disturbed; every other second holds the rate.
"""

import subprocess
import time

import pytest

from ingestbench.loadgen.master import JOIN_LEAD_S
from ingestbench.orchestrate.children import stop_process
from tests.loadgen.locust_run import LOCUST, LOCUSTFILE, free_port, read_rates, serve, write_scenario

pytestmark = [pytest.mark.slow, pytest.mark.server]

RATE = 600
STEP_S = 14
MAX_BEHIND_S = 1.0  # the [load] default: a request this late is dropped (and counted), not sent


def _start(cmd, log):
    return subprocess.Popen([str(LOCUST), "-f", str(LOCUSTFILE), *cmd], stdout=log, stderr=subprocess.STDOUT)


def test_worker_join_and_leave_keep_the_total_rate(tmp_path):
    scenario = write_scenario(tmp_path / "s.toml", [(RATE, STEP_S)])
    rates = tmp_path / "rates.jsonl"
    port = free_port()
    logs = {n: (tmp_path / f"{n}.log").open("wb") for n in ("master", "w1", "w2")}
    worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    procs = []
    with serve() as url:
        try:
            master = _start(["--master", "--headless", "--expect-workers", "1", "--master-bind-host", "127.0.0.1",
                             "--master-bind-port", str(port), "--host", url, "--scenario", str(scenario),
                             "--rates-out", str(rates)], logs["master"])
            procs.append(master)
            procs.append(_start(worker, logs["w1"]))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (rates.exists() and len(read_rates(rates)) >= 3):
                time.sleep(0.2)  # the schedule is running: seconds 0..2 are written
            w2_started = time.time()
            w2 = _start(worker, logs["w2"])
            procs.append(w2)
            joined = time.monotonic() + 20  # a worker process takes a few seconds to start on a busy machine
            while time.monotonic() < joined and " of 2" not in (tmp_path / "w2.log").read_text():
                time.sleep(0.2)
            time.sleep(JOIN_LEAD_S + 2)  # its share starts JOIN_LEAD_S after its plan: let it send for 2 s
            stop_process(w2)  # leaves mid-run
            w2_exited = time.time()
            master.wait(timeout=STEP_S + 40)
        finally:
            for p in procs:
                stop_process(p)
            for f in logs.values():
                f.close()
    master_log = (tmp_path / "master.log").read_text()
    w2_log = (tmp_path / "w2.log").read_text()
    assert "rate now split 2 ways" in master_log, master_log[-3000:]
    assert "rate now split 1 ways" in master_log
    assert "share 1 of 2" in w2_log or "share 0 of 2" in w2_log
    rows = read_rates(rates)
    seconds = [r for r in rows if r["type"] == "second"]
    (step,) = [r for r in rows if r["type"] == "step"]
    assert len(seconds) == STEP_S
    # nothing sent twice, nothing sent by nobody: the join and the leave lose no request and duplicate none
    assert step["sent_events"] + step["dropped_events"] == RATE * STEP_S, (step, seconds)
    assert sum(r["achieved_eps"] for r in seconds) == pytest.approx(RATE * STEP_S, rel=0.03), seconds
    assert step["achieved_eps"] == pytest.approx(RATE, rel=0.03)
    # every second that neither worker 2's start nor its exit can have disturbed holds the total rate
    steady = [r for r in seconds if r["unix_s"] <= w2_started or r["unix_s"] - 1 >= w2_exited + MAX_BEHIND_S]
    assert len(steady) >= 4, (w2_started, w2_exited, seconds)
    assert all(r["achieved_eps"] == pytest.approx(RATE, rel=0.05) for r in steady), seconds
