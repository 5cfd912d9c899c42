"""The segment target's three flavours against each vendor's own SDK: Segment's ``segment-analytics-python`` and
RudderStack's ``rudder-sdk-python`` (pinned in the ``dev`` extra), and Jitsu's ``@jitsu/js`` (pinned in
``tests/sdk/package.json``, run with Node). The SDK and the adapter send the same event to a capturing server;
every field of the two requests must agree except those named below with their reasons (``docs/vendor-wire.md``
explains them). The project's fake collector must store what each SDK sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import rudderstack.analytics as rudder_sdk
import segment.analytics as segment_sdk

from ingestbench.loadgen.events import EventFactory
from ingestbench.targets.registry import make_target
from tests.sdk_wire import CaptureServer, assert_same_wire, node_sdk, run_node, send_generator, send_probe, user_event
from tests.vendor_fakes import FakeCollector

pytestmark = pytest.mark.server
KEY = "wk-crosscheck"
JITSU_KEY = "kid-crosscheck:ksecret"  # the SDK refuses a key that is not "id:secret"
NOW_MS = 1_700_000_000_123
SDK_MESSAGE = {
    "header.user-agent": "the SDK names itself; an HTTP API needs no client name",
    "event.messageId": "the SDK's per-message id, which collectors deduplicate on: the load repeats its "
                       "templates, so only canaries carry one (their canary id)",
    "event.context.library.*": "the SDK's name and version",
}
SENT_AT = {"body.sentAt": "the SDK's clock at sending, for skew correction; the load stamps each event at sending"}
ALLOW = {
    "segment": {**SDK_MESSAGE, **SENT_AT,
                "body.writeKey": "the SDK repeats the key in the body; the API takes the Basic-auth header alone",
                "event.integrations": "an empty object: every destination, the API's default"},
    "rudderstack": {**SDK_MESSAGE, **SENT_AT,
                    "header.content-encoding": "the SDK gzips by default; the API takes plain JSON as well",
                    "event.integrations.All": "true: every destination, the API's default",
                    "event.channel": "the SDK's source channel (server), informational"},
    "jitsu": {**SDK_MESSAGE,
              "header.accept-language": "added by Node's fetch",
              "header.sec-fetch-mode": "added by Node's fetch",
              "event.timestamp": "the SDK stamps the time of the call and takes none; so does the load",
              "event.sentAt": "the SDK's clock at sending; the load stamps each event at sending",
              "event.writeKey": "the SDK repeats the key's id (secret masked) in the body; the header carries it",
              "event.context.traits": "empty: user traits the SDK keeps from identify calls",
              "event.context.page": "empty: page data of a browser",
              "event.context.clientIds": "empty: browser cookie ids",
              "event.context.campaign": "empty: UTM parameters of a browser page"},
}
SINGLE = {  # a single event: the documented single-event endpoint, which the batching SDKs never use
    "path": "one event goes to the single-event endpoint (/v1/track), as the HTTP API documents",
    "envelope": "the single-event endpoint takes the message itself as the body",
}
EVENTS_KEY = {"segment": "batch", "rudderstack": "batch", "jitsu": None}
DOC = {"segment": "Segment", "rudderstack": "RudderStack", "jitsu": "Jitsu"}


def _python_sdk(module: Any) -> Callable[[str, str, dict[str, Any]], None]:
    def send(url: str, key: str, event: dict[str, Any]) -> None:
        client = module.Client(key, host=url, sync_mode=True, max_retries=0)
        canary = event["properties"].get("canary_id")
        client.track(user_id=event["userId"], anonymous_id=event["anonymousId"], event=event["name"],
                     properties=event["properties"], context=dict(event["deviceData"] or {}),
                     timestamp=datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC),
                     **({"message_id": canary} if canary else {}))
    return send


def _jitsu(url: str, key: str, event: dict[str, Any]) -> None:
    node_sdk("@jitsu/js")
    run_node("jitsu", url, key, event)


SEND = {"segment": _python_sdk(segment_sdk), "rudderstack": _python_sdk(rudder_sdk), "jitsu": _jitsu}


def _target(flavour: str, url: str) -> Any:
    key = JITSU_KEY if flavour == "jitsu" else KEY
    return make_target("segment", url, options={"flavour": flavour}, environ={"INGESTBENCH_SEGMENT_WRITE_KEY": key})


@pytest.mark.parametrize("flavour", ["segment", "rudderstack", "jitsu"])
def test_the_load_request_is_the_sdks(flavour):
    """The generator's request: a batch of two where the flavour batches (the first event compared)."""
    factory = EventFactory(seed=3, pool_size=16)
    index, template = user_event(factory)
    with CaptureServer() as srv:
        SEND[flavour](srv.url, JITSU_KEY if flavour == "jitsu" else KEY, {**template, "timestamp": NOW_MS})
        send_generator(_target(flavour, srv.url), factory, index, 1 if flavour == "jitsu" else 2, srv.url, NOW_MS)
        sdk, ours = srv.wait(2)
    assert_same_wire(sdk, ours, events_key=EVENTS_KEY[flavour], allow=ALLOW[flavour], doc_section=DOC[flavour])


@pytest.mark.parametrize("flavour", ["segment", "rudderstack", "jitsu"])
def test_a_canary_sent_alone_is_the_sdks(flavour):
    """The probe's canary on its own (``[probe] single_event``): the single-event endpoint."""
    _, template = user_event(EventFactory(seed=5, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-c"}}
    with CaptureServer() as srv:
        SEND[flavour](srv.url, JITSU_KEY if flavour == "jitsu" else KEY, canary)
        send_probe(_target(flavour, srv.url), [canary], srv.url)
        sdk, ours = srv.wait(2)
    allow = ALLOW[flavour] if flavour == "jitsu" else {**ALLOW[flavour], **SINGLE}
    assert ours.path == {"jitsu": "/api/s/s2s/track"}.get(flavour, "/v1/track")
    assert_same_wire(sdk, ours, events_key=EVENTS_KEY[flavour], allow=allow, doc_section=DOC[flavour])


@pytest.mark.parametrize("flavour", ["segment", "rudderstack", "jitsu"])
def test_the_fake_collector_stores_what_the_sdk_sends(flavour):
    _, template = user_event(EventFactory(seed=3, pool_size=16))
    canary = {**template, "timestamp": NOW_MS, "properties": {**template["properties"], "canary_id": "0190-sdk"}}
    key = JITSU_KEY if flavour == "jitsu" else KEY
    with FakeCollector(flavour=flavour, write_key=key) as fake:
        SEND[flavour](fake.url, key, canary)
        assert (fake.visible, fake.events, fake.refused) == ({"0190-sdk"}, 1, [])
