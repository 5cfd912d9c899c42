"""The posthog target against PostHog's own Python SDK (``posthog``, pinned in the ``dev`` extra): the SDK and the
adapter send the same event to a capturing server, and every field of the two requests must agree except those
named below with their reasons (``docs/vendor-wire.md`` explains them). The project's fake must store what the
SDK sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import posthog
import pytest

from ingestbench.loadgen.events import EventFactory
from ingestbench.targets.registry import make_target
from tests.sdk_wire import CaptureServer, assert_same_wire, send_generator, send_probe, user_event
from tests.vendor_fakes import FakePostHog

pytestmark = pytest.mark.server
KEY = "phc_crosscheck"
NOW_MS = 1_700_000_000_123
ALLOW = {
    "header.user-agent": "the SDK names itself; an HTTP API needs no client name",
    "body.sent_at": "the SDK's clock at sending, for skew correction; the load stamps each event at sending",
    "body.historical_migration": "false is the API's default",
    "event.uuid": "the SDK's per-event id; PostHog assigns one, and the load repeats its templates",
    "event.properties.$lib*": "the SDK's name and version",
    "event.properties.$python_*": "the SDK's runtime",
    "event.properties.$os*": "the SDK's host",
    "event.properties.$is_server": "the SDK's marker of a server-side library",
}


@pytest.fixture
def sdk_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    clients: list[Any] = []

    def make(url: str) -> Any:
        clients.append(posthog.Posthog(KEY, host=url, sync_mode=True))
        return clients[-1]

    yield make
    for client in clients:
        client.shutdown()


def _capture(client: Any, event: dict[str, Any]) -> None:
    timestamp = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
    client.capture(event["name"], distinct_id=event["userId"], properties=event["properties"], timestamp=timestamp)


def test_the_load_request_is_the_sdks(sdk_client):
    factory = EventFactory(seed=3, pool_size=16)
    index, template = user_event(factory)
    with CaptureServer() as srv:
        _capture(sdk_client(srv.url), {**template, "timestamp": NOW_MS})
        target = make_target("posthog", srv.url, options={}, environ={"INGESTBENCH_POSTHOG_PROJECT_KEY": KEY})
        send_generator(target, factory, index, 2, srv.url, NOW_MS)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key="batch", allow=ALLOW, doc_section="PostHog")


def test_a_canary_request_is_the_sdks(sdk_client):
    _, template = user_event(EventFactory(seed=5, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-c"}}
    with CaptureServer() as srv:
        _capture(sdk_client(srv.url), canary)
        target = make_target("posthog", srv.url, options={}, environ={"INGESTBENCH_POSTHOG_PROJECT_KEY": KEY})
        send_probe(target, [canary], srv.url)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key="batch", allow=ALLOW, doc_section="PostHog")


def test_the_fake_stores_what_the_sdk_sends(sdk_client):
    _, template = user_event(EventFactory(seed=3, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-sdk"}}
    with FakePostHog(project_key=KEY, personal_key="phx", project_id=1, per_hour=3600) as fake:
        _capture(sdk_client(fake.url), canary)
        assert fake.visible == {"0190-sdk"}
