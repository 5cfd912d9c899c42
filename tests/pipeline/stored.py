"""What a 204 from the pipeline means, checked from outside: the body's events are stored, once each, and
read back by their canary ids.

The test decides on its own what a body holds (:func:`events_in`: strict JSON, then the documented shapes:
one event object, or ``{"events": [...]}``), tags every event it can with a canary id of its own
(:func:`tagged`), and after a 204 (:func:`assert_stored`) finds the store grown by exactly the body's events
and every tagged event readable by its id, exactly once."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from tests.http import Client

_IDS = itertools.count()


def new_id() -> str:
    return f"fz-{os.getpid()}-{next(_IDS)}"


def tagged(doc: Any, route: str) -> tuple[bytes, list[str]]:
    """The body of ``doc`` with a fresh ``properties.canary_id`` in every event (for ``route``) whose properties
    are an object, and those ids."""
    doc = json.loads(json.dumps(doc))  # a copy in which no two events are one object
    batch = route == "/event/ingest/batch" and isinstance(doc, dict) and isinstance(doc.get("events"), list)
    events = doc["events"] if batch else [doc]
    ids = []
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("properties"), dict):
            event["properties"]["canary_id"] = new_id()
            ids.append(event["properties"]["canary_id"])
    return json.dumps(doc).encode(), ids


def events_in(route: str, body: bytes) -> list[Any] | None:
    """The events an accepted ``body`` to ``route`` must have stored; None when the body is not a JSON object
    of the route's shape (a pipeline answering 204 to it accepted what is not an event)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if route == "/event/ingest":
        return [doc] if isinstance(doc, dict) else None
    if route == "/event/ingest/batch" and isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return list(doc["events"])
    return None


def canary_ids(events: list[Any]) -> list[str]:
    return [e["properties"]["canary_id"] for e in events if isinstance(e, dict)
            and isinstance(e.get("properties"), dict) and isinstance(e["properties"].get("canary_id"), str)]


def assert_stored(client: Client, route: str, body: bytes, stored_before: int, tags: list[str] | None = None) -> None:
    """After a 204 for ``body``: the store holds exactly its events more, and each canary among them reads
    back from ``/internal/visibility`` (rows as stored, before any flush): the ``tags`` :func:`tagged` gave
    once each; ids the body itself held (``tags`` None), at least once."""
    events = events_in(route, body)
    assert events, f"204 for a body that holds no event: {body[:200]!r}"
    grown = client.stats()["events"] - stored_before
    assert grown == len(events), f"204 for {len(events)} events, {grown} stored"
    ids = canary_ids(events) if tags is None else tags
    if ids:
        status, doc = client.post_json("/internal/visibility", {"canary_ids": sorted(set(ids))})
        assert status == 200, doc
        found = sorted(row["canary_id"] for row in doc["rows"])
        if tags is None:
            assert set(found) == set(ids), f"stored canaries {found[:5]} != sent {sorted(ids)[:5]}"
        else:
            assert found == sorted(ids), f"stored canaries {found[:5]} != sent {sorted(ids)[:5]}"
