"""The live progress line reads the run directory's files as they grow (no child processes needed)."""

import io
import json

from ingestbench.progress import Progress


def test_line_shows_rate_lag_generator_cpu_and_canaries(tmp_path):
    rates = tmp_path / "rates.jsonl"
    rates.write_text(json.dumps({"type": "second", "t_s": 3, "step": 1, "target_eps": 3000.0,
                                 "achieved_eps": 2990.0, "lag_p99_s": 0.0123, "failed_events": 2,
                                 "generator_cpu": 0.62, "host_cpu": 0.951}) + "\n")
    (tmp_path / "samples.jsonl").write_text(
        json.dumps({"outcome": "available", "tta_s": 2.5, "tier": "low"}) + "\n"
        + json.dumps({"outcome": "lost"}) + "\n")
    out = io.StringIO()
    with Progress(tmp_path, steps_total=4, stream=out, plain_every_s=0) as p:
        p.update(pending=7)
    line = out.getvalue()
    assert "step 2/4 2990/3000 ev/s lag p99 12.3ms failed 2" in line
    assert "generator 62% of a core, machine 95% busy" in line
    assert "pending 7 available 1 lost 1" in line and "low: n=1" in line
    with rates.open("a") as f:  # a row without CPU figures (a generator that could not measure them)
        f.write(json.dumps({"type": "second", "t_s": 4, "step": 1, "target_eps": 3000.0, "achieved_eps": 3000.0,
                            "lag_p99_s": None}) + "\n")
    p.update()
    assert "generator - of a core, machine - busy" in p.line()
