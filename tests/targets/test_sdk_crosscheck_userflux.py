"""The userflux target, and the http target set up for UserFlux's API, against UserFlux's own SDK
(``@userflux/backend-js``, pinned in ``tests/sdk/package.json``, run with Node; it posts to its production origin,
which the runner rewrites to the capturing server's, nothing else). The SDK and the adapter send the same event;
every field of the two requests must agree except those named below with their reasons
(``docs/vendor-wire.md`` explains them). The project's fake must store what the SDK sends."""

from __future__ import annotations

import pytest

from ingestbench.loadgen.events import EventFactory
from ingestbench.targets.registry import make_target
from tests.sdk_wire import (
    CaptureServer,
    assert_same_wire,
    node_sdk,
    run_node,
    send_generator,
    send_probe,
    send_request,
    user_event,
)
from tests.vendor_fakes import FakeUserFlux

pytestmark = pytest.mark.server
KEY = "uf-crosscheck"
NOW_MS = 1_700_000_000_123
ALLOW = {
    "header.user-agent": "the SDK's HTTP client names itself; an HTTP API needs no client name",
    "event.deviceData": "the backend SDK always sends null (a server has no device); the load sends the device of "
                        "its client events and null for its backend events, as the event docs describe",
    "event.deviceData.*": "the device of a client event (see event.deviceData)",
    "event.externalId": "a documented event field the backend SDK's track does not take; sent as the load has it",
}
# the http target configured for UserFlux's API: the same request from templates alone
HTTP_OPTIONS = {"path": "/event/ingest?locationEnrichment=false", "envelope": "single"}


@pytest.fixture(autouse=True)
def _sdk_installed() -> None:
    node_sdk("@userflux/backend-js")


def _targets(url: str) -> dict[str, object]:
    return {"userflux": make_target("userflux", url, options={}, environ={"INGESTBENCH_USERFLUX_WRITE_KEY": KEY}),
            "http": make_target("http", url, options=HTTP_OPTIONS, environ={"INGESTBENCH_HTTP_AUTH": f"Bearer {KEY}"})}


@pytest.mark.parametrize("kind", ["userflux", "http"])
def test_the_load_request_is_the_sdks(kind):
    factory = EventFactory(seed=3, pool_size=16)
    index, template = user_event(factory)
    with CaptureServer(status=204) as srv:
        run_node("userflux", srv.url, KEY, {**template, "timestamp": NOW_MS})
        send_generator(_targets(srv.url)[kind], factory, index, 1, srv.url, NOW_MS)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key=None, allow=ALLOW, doc_section="UserFlux")


@pytest.mark.parametrize("kind", ["userflux", "http"])
def test_a_canary_request_is_the_sdks(kind):
    _, template = user_event(EventFactory(seed=5, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-c"}}
    with CaptureServer(status=204) as srv:
        run_node("userflux", srv.url, KEY, canary)
        send_probe(_targets(srv.url)[kind], [canary], srv.url)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key=None, allow=ALLOW, doc_section="UserFlux")


PROFILE_ALLOW = {
    "header.user-agent": ALLOW["header.user-agent"],
    "profile.anonymousId": "null when the profile has none: the same as leaving it out",
    "profile.externalId": "null when the profile has none: the same as leaving it out",
}


def test_a_profile_write_is_the_sdks():
    """The transactional probe's profile write against the SDK's identify."""
    user, props = "user-crosscheck", {"plan": "pro", "seats": 3, "nested": {"a": [1, 2]}}
    with CaptureServer(status=204) as srv:
        run_node("userflux-profile", srv.url, KEY, {"userId": user, "properties": props})
        target = _targets(srv.url)["userflux"]
        send_request(target, target.write_profile(user, props), srv.url)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key=None, allow=PROFILE_ALLOW, doc_section="UserFlux profiles",
                     item="profile")


def test_the_fake_stores_what_the_sdk_sends():
    _, template = user_event(EventFactory(seed=3, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-sdk"}}
    with FakeUserFlux(write_key=KEY, client_secret="cs") as fake:
        run_node("userflux", fake.url, KEY, canary)
        assert fake.visible == {"0190-sdk"}
