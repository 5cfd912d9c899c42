"""A synthetic results directory: rate timeline, samples (facts only) and a run.json, shaped like a real run's."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from ingestbench.records.slo import DEFAULT_SLO_PATH

T0 = 1_795_000_000.0


def make_run_dir(path: Path, *, status: str = "running", high_tta_s: float = 0.2, low_tta_s: float = 3.0,
                 seed: int = 1, steps=((200, 30), (1500, 30))) -> Path:
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEFAULT_SLO_PATH, path / "slo.toml")
    rates, samples = [], []
    t = 0
    for i, (rate, dur) in enumerate(steps):
        for _ in range(dur):
            t += 1
            rates.append({"type": "second", "t_s": t, "unix_s": T0 + t, "target_eps": rate,
                          "achieved_eps": rate * rng.uniform(0.99, 1.01), "sent_events": rate, "failed_events": 0,
                          "lag_p50_s": 0.001, "lag_p99_s": 0.004, "step": i, "valid": None})
        rates.append({"type": "step", "step": i, "target_eps": rate, "achieved_eps": rate, "lag_p99_s": 0.004,
                      "valid": True, "reason": None})
    for k in range(sum(d for _, d in steps) * 2):
        sent = T0 + 0.5 * k + 0.25
        rate = next(r for r in rates if r.get("type") == "second" and r["unix_s"] >= sent)["target_eps"]
        tier = "high" if rate >= 1000 else "low"
        tta = rng.uniform(0.3, 1.0) * (high_tta_s if tier == "high" else low_tta_s)
        samples.append({"canary_id": f"c{k}", "path": "analytical", "outcome": "available",
                        "sent_ns": int(k * 5e8), "sent_unix_ms": int(sent * 1000), "acked_ns": int(k * 5e8 + 1e6),
                        "seen_ns": int(k * 5e8 + tta * 1e9), "last_miss_ns": int(k * 5e8 + (tta - 0.05) * 1e9),
                        "duplicates": 0})
    for k in range(25):
        samples.append({"canary_id": f"p{k}", "path": "transactional", "outcome": "available", "sent_ns": k,
                        "sent_unix_ms": int((T0 + k) * 1000), "seen_ns": k + 3_000_000, "last_miss_ns": None})
    (path / "rates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rates))
    (path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples) + '{"torn": ')
    (path / "run.json").write_text(json.dumps({"schema_version": 1, "run_id": path.name, "status": status,
                                               "scenario": {"name": "synthetic", "time_scale": 0.1},
                                               "target": {"name": "pipeline", "url": "http://127.0.0.1:1"},
                                               "expected_tiers": ["low", "high", "transactional"]}))
    return path
