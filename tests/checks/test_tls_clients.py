"""``ingestbench probe`` alone and ``ingestbench setup`` against an HTTPS server with a self-signed certificate:
refused by default before any HTTP request (no key leaves), accepted with ``--ca-file`` or ``--insecure``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from ingestbench.checks.http import client_session
from ingestbench.orchestrate.net import tls_problem
from ingestbench.records.tls import TlsPlan
from tests.ingestbench.test_tls_run import RecordingCollector, key_header
from tests.runs import ROOT

pytestmark = pytest.mark.server
WRITE_KEY = "ib-probe-tls-0123456789abcdef"


def ingestbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestbench", *args], capture_output=True, text=True, timeout=90,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def probe(collector: RecordingCollector, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return ingestbench("probe", "--target", "segment", "--url", collector.url, "--reader", "http", "--reader-url",
                       collector.url, "--reader-opt", "query_path=/warehouse/query", "--reader-opt",
                       'query_body={"ids": {ids}}', "--reader-opt", "rows_path=result.rows", "--reader-opt",
                       "canary_path=id", "--declared-rate-eps", "10", "--duration", "1", "--interval", "0.1",
                       "--no-transactional", "--out", str(out.parent), "--run-id", out.name, *extra,
                       env={"INGESTBENCH_SEGMENT_WRITE_KEY": WRITE_KEY})


def test_the_probe_alone_refuses_an_untrusted_certificate_before_its_first_canary(tmp_path, self_signed):
    collector = RecordingCollector(flavour="segment", write_key=WRITE_KEY)
    collector.ssl_context = self_signed.server_context()
    with collector:
        refused = probe(collector, tmp_path / "refused")
        assert collector.requests == []
        trusted = probe(collector, tmp_path / "trusted", "--ca-file", str(self_signed.cert))
        trusted_requests = len(collector.requests)
        insecure = probe(collector, tmp_path / "insecure", "--insecure")
    assert refused.returncode == 3, refused.stderr[-2000:]
    line = f"ingestbench: TLS: certificate verify failed for 127.0.0.1:{collector.port}: self-signed certificate"
    assert refused.stderr.startswith(line), refused.stderr[-2000:]
    # a one-second probe has too few samples for a verdict (exit 3); what counts is that canaries got through
    for name, run in (("trusted", trusted), ("insecure", insecure)):
        outcomes = [json.loads(line)["outcome"] for line in (tmp_path / name / "samples.jsonl").open()]
        assert len(outcomes) >= 5 and set(outcomes) == {"available"}, run.stderr[-2000:]
        assert "certificate verify failed" not in run.stderr
    assert "TLS verification is off" not in trusted.stderr and "TLS verification is off" in insecure.stderr
    canaries = [h for _, path, h in collector.requests if path == "/v1/track"]
    assert trusted_requests > 10 and len(collector.requests) > trusted_requests + 10
    assert {h["Authorization"] for h in canaries} == {key_header(WRITE_KEY)}


def test_setup_verifies_too(tmp_path, self_signed):
    collector = RecordingCollector(flavour="segment", write_key=WRITE_KEY)
    collector.ssl_context = self_signed.server_context()
    setup = ("setup", "--target", "clickhouse", "--url")
    with collector:
        refused = ingestbench(*setup, collector.url)
        assert collector.requests == []
        trusted = ingestbench(*setup, collector.url, "--ca-file", str(self_signed.cert))
        insecure = ingestbench(*setup, collector.url.replace("127.0.0.1", "localhost"), "--insecure")
    assert refused.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    # the fake is no ClickHouse: it answers 404, and setup says so; what matters is that the request got there
    assert trusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" not in trusted.stderr, trusted.stderr
    assert "TLS verification is off" in insecure.stderr and "CERTIFICATE_VERIFY_FAILED" not in insecure.stderr
    assert [p for _, p, _ in collector.requests] == ["/", "/"]


def test_the_probes_session_and_the_preflight_handshake(self_signed):
    """In process: the probe's aiohttp session refuses the self-signed certificate (no request arrives), trusts
    it with the CA file, ignores it when insecure; the preflight handshake names host and problem, and sends no
    HTTP request either."""
    collector = RecordingCollector(flavour="segment", write_key=WRITE_KEY)
    collector.ssl_context = self_signed.server_context()

    async def post(tls: TlsPlan, url: str) -> int:
        async with client_session(tls) as session, session.post(url + "/v1/track", data=b"{}",
                                                                headers={"Authorization": "secret"}) as resp:
            return resp.status

    trusted = TlsPlan(ca_file=str(self_signed.cert))
    with collector:
        where = f"127.0.0.1:{collector.port}"
        localhost = collector.url.replace("127.0.0.1", "localhost")
        with pytest.raises(aiohttp.ClientConnectorCertificateError, match="self-signed certificate"):
            asyncio.run(post(TlsPlan(), collector.url))
        assert tls_problem(collector.url, TlsPlan()) == f"TLS: certificate verify failed for {where}: " \
            "self-signed certificate"
        assert tls_problem(collector.url, trusted, localhost).startswith(  # the reader's URL is checked too
            f"TLS: certificate verify failed for localhost:{collector.port}: Hostname mismatch")
        assert collector.requests == []
        assert tls_problem(collector.url, trusted) is None and tls_problem(localhost, TlsPlan(verify=False)) is None
        assert collector.requests == []  # a handshake, not a request
        assert asyncio.run(post(trusted, collector.url)) == 401  # the fake's answer to a wrong key: it got there
        assert asyncio.run(post(TlsPlan(verify=False), localhost)) == 401
    assert len(collector.requests) == 2
    assert tls_problem("http://127.0.0.1:1", TlsPlan()) is None  # plain http: nothing to verify
