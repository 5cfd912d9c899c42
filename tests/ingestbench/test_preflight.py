"""``run --check`` and ``probe --check`` refuse a run certain to fail for a missing secret, naming the variable;
with the secrets set they pass (no connection is made: the URLs point nowhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from ingestbench.orchestrate.resolve import RunFlags, resolve_run
from ingestbench.orchestrate.run import probe_load_warning
from ingestbench.targets.registry import specs
from ingestbench.targets.spec import WRITER
from tests.runs import ROOT
from tests.servers import start_pipeline

NOWHERE = "http://127.0.0.1:9"
# every kind whose writer cannot work without a secret: (kind, that secret, options a run needs)
NEEDED = sorted((kind, s.env) for kind, spec in specs().items() for s in spec.secrets if WRITER in s.needed_by)


def _env(kind: str, drop: str | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INGESTBENCH_")}
    secrets = {s.env: f"dummy-{i}" for i, s in enumerate(specs()[kind].secrets)}
    return {**base, **{k: v for k, v in secrets.items() if k != drop}}


def _ib(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)


def test_every_kind_with_a_writer_secret_is_covered() -> None:
    assert {"posthog", "segment", "userflux"} <= {k for k, _ in NEEDED}


@pytest.mark.parametrize("kind, secret", NEEDED)
def test_run_check_names_a_missing_writer_secret(kind: str, secret: str) -> None:
    argv = ("run", "--scenario", "quick", "--target", kind, "--url", NOWHERE, "--check")
    missing = _ib(*argv, env=_env(kind, drop=secret))
    assert missing.returncode == 2, missing.stdout + missing.stderr
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and secret in lines[0] and "not set" in lines[0], lines
    ok = _ib(*argv, env=_env(kind, drop=None))
    assert ok.returncode == 0, ok.stderr
    assert "ok: nothing started (--check)" in ok.stdout and secret not in ok.stdout + ok.stderr


@pytest.mark.parametrize("kind, secret", NEEDED)
def test_probe_check_names_a_missing_writer_secret(kind: str, secret: str) -> None:
    argv = ("probe", "--target", kind, "--url", NOWHERE, "--declared-rate-eps", "10", "--no-transactional",
            "--check")
    missing = _ib(*argv, env=_env(kind, drop=secret))
    assert missing.returncode == 2 and secret in missing.stderr, missing.stdout + missing.stderr
    ok = _ib(*argv, env=_env(kind, drop=None))
    assert ok.returncode == 0 and "ok: nothing started" in ok.stdout, ok.stderr


def test_a_separate_readers_secret_is_checked_too() -> None:
    env = {**_env("segment", drop=None), "INGESTBENCH_POSTHOG_PROJECT_KEY": "k"}
    argv = ("run", "--scenario", "quick", "--target", "segment", "--url", NOWHERE, "--reader", "posthog",
            "--reader-url", NOWHERE, "--reader-opt", "project_id=1", "--check")
    missing = _ib(*argv, env=env)
    assert missing.returncode == 2 and "INGESTBENCH_POSTHOG_PERSONAL_KEY" in missing.stderr, missing.stderr
    assert _ib(*argv, env={**env, "INGESTBENCH_POSTHOG_PERSONAL_KEY": "p"}).returncode == 0


def test_connect_writes_one_canary_and_a_profile_and_reads_them_back(tmp_path) -> None:
    with start_pipeline(tmp_path, flush_rows=100, flush_max_wait_s=0.3, env={"INGESTBENCH_WRITE_KEY": "right"}) as p:
        base = [*("run", "--scenario", "quick", "--url", p.url, "--connect")]
        ok = _ib(*base, env={**_env("pipeline", drop=None), "INGESTBENCH_WRITE_KEY": "right"})
        assert ok.returncode == 0, ok.stdout + ok.stderr
        lines = [line for line in ok.stdout.splitlines() if line.startswith("connect: ok")]
        assert [line.split(":")[2].split(" in ")[0].strip() for line in lines] == [
            "write", "read back", "profile write", "profile read"], ok.stdout
        visible_s = float(lines[1].split(" in ")[1].split(" s")[0])
        assert 0 < visible_s < 30  # the pipeline flushed it within its 0.3 s wait (plus polls)
        wrong = _ib(*base, env={**_env("pipeline", drop=None), "INGESTBENCH_WRITE_KEY": "wrong"})
        host = p.url.removeprefix("http://")
        assert wrong.returncode == 2 and f"write key rejected by {host}: 401" in wrong.stdout, wrong.stdout
    gone = _ib(*base, env=_env("pipeline", drop=None))  # the pipeline has stopped: nothing listens there
    assert gone.returncode == 3 and f"{host} cannot be reached" in gone.stdout, gone.stdout


def test_connect_needs_a_url() -> None:
    done = _ib("run", "--scenario", "quick", "--connect", env=_env("pipeline", drop=None))
    assert done.returncode == 2 and "give --url" in done.stdout


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "ingestbench" / "scenarios").glob("*.toml")))
def test_a_built_in_scenario_resolves_without_a_warning(name: str) -> None:
    plan = resolve_run(RunFlags(scenario=name), environ={}).plan
    assert probe_load_warning(plan) is None
    assert plan.notes == () and plan.unmeasured == ()


def test_the_canary_load_warning_comes_when_it_moves_a_step_into_another_band() -> None:
    plan = resolve_run(RunFlags(scenario="quick"), environ={}).plan  # 10 canaries/s on 50 .. 3,000 events/s
    assert probe_load_warning(plan) is None
    steps = tuple(replace(s, rate_eps=995.0) for s in plan.load.steps)  # + 10 events/s: over the 1,000 edge
    near = replace(plan, load=replace(plan.load, steps=steps))
    warning = probe_load_warning(near) or ""
    assert "~1005 events/s, in the band of tier high rather than low" in warning, warning
    assert "longer [probe] interval_s" in warning and "single_event" not in warning  # it is single already
    batched = replace(near, probe=replace(near.probe, batch_size=10))
    assert "single_event = true" in (probe_load_warning(batched) or "")
