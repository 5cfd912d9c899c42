"""The generator run by Locust on its own (no plan) against an HTTPS server with a self-signed certificate:
verified by default (not one request arrives), trusted with ``--ca-file``, unchecked with the scenario's
``[target] tls_verify = false`` (and a warning in its log)."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.loadgen.locust_run import run_locust, serve, write_scenario

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_standalone_generator_verifies_unless_told_otherwise(tmp_path, self_signed):
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request.path)
        return web.Response(status=204)

    scenario = write_scenario(tmp_path / "s.toml", [(20, 2)])
    insecure = tmp_path / "insecure.toml"
    insecure.write_text(scenario.read_text() + "[target]\ntls_verify = false\n")
    with serve(record, ssl_context=self_signed.server_context()) as url:
        refused = run_locust(tmp_path, url, scenario, name="refused", timeout_s=90)
        refused_seen = len(seen)
        trusted = run_locust(tmp_path, url, scenario, extra=["--ca-file", str(self_signed.cert)], name="trusted",
                             timeout_s=90)
        trusted_seen = len(seen) - refused_seen
        unchecked = run_locust(tmp_path, url.replace("127.0.0.1", "localhost"), insecure, name="insecure",
                               timeout_s=90)
    assert refused_seen == 0 and "self-signed certificate" in refused.log, refused.log[-2000:]
    def delivered(run):
        return sum(s["sent_events"] - s["failed_events"] for s in run.steps)

    assert refused.steps and delivered(refused) == 0
    assert trusted_seen >= 30 and delivered(trusted) >= 30, trusted.log[-2000:]
    assert len(seen) - refused_seen - trusted_seen >= 30, unchecked.log[-2000:]
    assert "TLS verification is off" in unchecked.log and "TLS verification is off" not in trusted.log
