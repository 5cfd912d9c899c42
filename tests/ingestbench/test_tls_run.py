"""``ingestbench run`` against a Segment-compatible collector served over HTTPS with a self-signed certificate.

The collector records every HTTP request it gets, headers included. By default the run refuses the certificate
in a TLS handshake before any child starts: invalid, the host and the problem named, and not one HTTP request
at the server (so the write key never left). With ``--ca-file`` the same run works; with ``--insecure`` it works
and says, in ``run.json`` and the report, that nothing was verified.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.runs import ROOT, assert_plan_only, assert_secret_nowhere, ib_run_watched
from tests.vendor_fakes import FakeCollector

pytestmark = pytest.mark.server

# 10 s at 50 events/s: the low tier after its 3 s warm-up; a canary every 0.05 s, looked up every 0.025 s
SCENARIO = """description = "a short low-rate run against an https collector"
time_scale = 0.1
[load]
batch_size = 10
seed = 7
lag_bound_s = 0.5  # the lag rule is tested elsewhere; this test is about trust, on a busy machine
steps = [{ rate_eps = 50, duration_s = 100 }]
[probe]
interval_s = 0.5
poll_interval_s = 0.25
single_event = true
"""


class RecordingCollector(FakeCollector):
    """The Segment fake, keeping ``(method, path, headers)`` of every HTTP request that reached it."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def routes(self, app: web.Application) -> None:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append((request.method, request.path, dict(request.headers)))
            return await handler(request)

        app.middlewares.append(record)
        super().routes(app)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "https.toml"
    path.write_text(SCENARIO)
    return path


def tls_run(tmp_path: Path, scenario: Path, self_signed: Any, *extra: str, timeout: float = 150):
    write_key = f"ib-segment-{secrets.token_hex(10)}"
    collector = RecordingCollector(flavour="segment", write_key=write_key)
    collector.ssl_context = self_signed.server_context()
    with collector:
        code, run_dir, _, output, cmdlines = ib_run_watched(
            tmp_path / "out", "--scenario", str(scenario), "--target", "segment", "--url", collector.url,
            "--reader", "http", "--reader-url", collector.url,
            "--reader-opt", "query_path=/warehouse/query", "--reader-opt", 'query_body={"ids": {ids}}',
            "--reader-opt", "rows_path=result.rows", "--reader-opt", "canary_path=id", *extra,
            env={"INGESTBENCH_SEGMENT_WRITE_KEY": write_key}, timeout=timeout)
    return code, run_dir, output, cmdlines, collector, write_key


def key_header(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def test_an_untrusted_certificate_stops_the_run_before_any_request(tmp_path, scenario, self_signed):
    code, run_dir, output, cmdlines, collector, write_key = tls_run(tmp_path, scenario, self_signed)
    keyed = [r for r in collector.requests if r[2].get("Authorization") == key_header(write_key)]
    assert collector.requests == [], f"{len(collector.requests)} requests reached the server, {len(keyed)} with the key"
    assert code == 3, output[-3000:]
    assert collector.events == 0
    port = collector.port
    doc = json.loads((run_dir / "run.json").read_text())
    problem = f"TLS: certificate verify failed for 127.0.0.1:{port}: self-signed certificate"
    assert doc["invalid_reasons"][0].startswith(problem), doc["invalid_reasons"]
    assert problem in output and problem in (run_dir / "report.md").read_text()
    assert doc["children"] == []  # neither generator nor probe was started
    assert doc["settings"]["tls"] == {"verify": True, "ca_file": None}
    assert not [p for p in run_dir.rglob("*") if p.is_file() and write_key.encode() in p.read_bytes()]
    assert write_key not in output and not [c for c in cmdlines if write_key in c]


@pytest.mark.slow
def test_the_certificates_ca_file_makes_the_same_run_work(tmp_path, scenario, self_signed):
    code, run_dir, output, cmdlines, collector, write_key = tls_run(
        tmp_path, scenario, self_signed, "--ca-file", str(self_signed.cert))
    assert code == 0, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    assert {t["tier"]: t["status"] for t in doc["tiers"]} == {"low": "pass"}
    delivered = sum(s["sent_events"] - s["failed_events"] for s in doc["steps"])
    assert delivered >= 300 and collector.events >= delivered
    ingests = [h for _, path, h in collector.requests if path in ("/v1/track", "/v1/batch")]
    assert ingests and {h.get("Authorization") for h in ingests} == {key_header(write_key)}
    assert doc["settings"]["tls"] == {"verify": True, "ca_file": str(self_signed.cert.resolve())}
    assert not [n for n in doc["notes"] if "TLS" in n]
    plan = json.loads((run_dir / "plan.json").read_text())  # every child learnt the trust from the plan alone
    assert plan["target"]["tls"] == plan["probe"]["tls"] == doc["settings"]["tls"]
    assert_plan_only(cmdlines, run_dir / "plan.json")
    assert_secret_nowhere(write_key, run_dir, output, cmdlines)


@pytest.mark.slow
def test_insecure_works_and_says_verification_was_off(tmp_path, scenario, self_signed):
    code, run_dir, output, cmdlines, collector, write_key = tls_run(tmp_path, scenario, self_signed, "--insecure")
    assert code == 0, output[-3000:]
    doc = json.loads((run_dir / "run.json").read_text())
    assert {t["tier"]: t["status"] for t in doc["tiers"]} == {"low": "pass"}
    assert collector.events > 0
    assert doc["settings"]["tls"] == {"verify": False, "ca_file": None}
    off = "TLS verification is off"
    assert [n for n in doc["notes"] if n.startswith(off)]
    assert off in (run_dir / "report.md").read_text() and off in (run_dir / "report.html").read_text()
    assert off in output
    assert_plan_only(cmdlines, run_dir / "plan.json")
    assert_secret_nowhere(write_key, run_dir, output, cmdlines)


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", "run", "--check", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "INGESTBENCH_SEGMENT_WRITE_KEY": "k"})


def test_scenario_keys_and_bad_ca_files(tmp_path, self_signed):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(self_signed.cert.read_bytes())
    target = '[target]\nreader = {kind = "pipeline", url = "https://127.0.0.1:1"}\nkind = "segment"\nurl = "https://127.0.0.1:1"\n'
    good = tmp_path / "good.toml"
    good.write_text(SCENARIO + target + 'ca_file = "certs/ca.pem"\n')  # relative to the scenario file
    ok = check("--scenario", str(good))
    assert ok.returncode == 0, ok.stderr
    assert f"TLS verified against the system CAs and {tmp_path / 'certs' / 'ca.pem'}" in ok.stdout
    insecure = tmp_path / "insecure.toml"
    insecure.write_text(SCENARIO + target + "tls_verify = false\n")
    off = check("--scenario", str(insecure))
    assert off.returncode == 0 and "TLS verification off" in off.stdout
    assert "note: TLS verification is off" in off.stdout
    missing = tmp_path / "nope.pem"
    for args, named in ((("--scenario", str(good), "--ca-file", str(missing)), f"--ca-file: {missing}"),
                        (("--scenario", str(tmp_path / "bad.toml")), f"target.ca_file: {tmp_path / 'no.pem'}")):
        (tmp_path / "bad.toml").write_text(SCENARIO + target + 'ca_file = "no.pem"\n')
        bad = check(*args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
        assert bad.stderr.startswith(f"ingestbench: error: {named}: no such file"), bad.stderr
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    bad = check("--scenario", str(good), "--ca-file", str(garbage))
    assert bad.returncode == 2 and f"--ca-file: {garbage}: not PEM certificates" in bad.stderr, bad.stderr
