"""The live progress line reads the run directory's files as they grow (no child processes needed)."""

import io
import json

from ingestbench.orchestrate.progress import Progress
from ingestbench.records.slo_file import load_slo

T0 = 1_800_000_000.0


def test_line_shows_rate_lag_generator_cpu_and_canaries(tmp_path):
    rates = tmp_path / "rates.jsonl"
    rates.write_text("".join(json.dumps({"type": "second", "t_s": t, "unix_s": T0 + t, "step": 1,
                                         "target_eps": 3000.0, "achieved_eps": 2990.0, "lag_p99_s": 0.0123,
                                         "failed_events": 2 if t == 15 else 0, "generator_cpu": 0.62,
                                         "host_cpu": 0.951}) + "\n" for t in range(1, 16)))
    sample = {"canary_id": "c", "path": "analytical", "outcome": "available", "sent_ns": 0, "seen_ns": 2_500_000_000,
              "last_miss_ns": 2_500_000_000}  # a TTA of 2.5 s
    (tmp_path / "samples.jsonl").write_text(
        json.dumps({**sample, "sent_unix_ms": (T0 + 12.5) * 1000}) + "\n"  # steady: counted for its tier
        + json.dumps({**sample, "sent_unix_ms": (T0 + 0.5) * 1000}) + "\n"  # in the warm-up: not in the view
        + json.dumps({**sample, "sent_unix_ms": (T0 + 20.5) * 1000}) + "\n"  # not covered yet: waits
        + json.dumps({"canary_id": "l", "path": "analytical", "outcome": "lost", "sent_ns": 0, "sent_unix_ms": 0})
        + "\n")
    out = io.StringIO()
    with Progress(tmp_path, steps_total=4, slo=load_slo(time_scale=0.1), stream=out, plain_every_s=0) as p:
        p.update(pending=7)
    line = out.getvalue()
    assert "step 2/4 2990/3000 ev/s lag p99 12.3ms failed 2" in line
    assert "generator 62% of a core, machine 95% busy" in line
    assert "pending 7 available 3 lost 1" in line and "high: n=1" in line
    p.update(pending=3, drain_left_s=12.2)
    assert "draining: 3 canaries pending, at most 12 s left" in p.line()
    with rates.open("a") as f:  # a row without CPU figures (a generator that could not measure them)
        f.write(json.dumps({"type": "second", "t_s": 16, "unix_s": T0 + 16, "step": 1, "target_eps": 3000.0,
                            "achieved_eps": 3000.0, "lag_p99_s": None}) + "\n")
    p.update()
    assert "generator - of a core, machine - busy" in p.line()
