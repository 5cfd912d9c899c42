"""Pure validation of ingest and profile payloads: either normalised rows, or one clear error.

A request is accepted whole or not at all: the first problem found raises :class:`ValidationError`, which
carries the HTTP status, a one-sentence message, the JSON path of the offending field and the event index
(None outside a batch). Nothing is stored for a request that fails.

Example::

    >>> check_event({"name": "page view", "userId": "u1", "timestamp": 1.7e12}, index=None)
    Traceback (most recent call last):
    ...
    ingestbench.pipeline.validation.ValidationError: event name must not contain white space or control characters
"""

from __future__ import annotations

from typing import Any, NamedTuple

MAX_NAME_CHARS = 200
# Milliseconds since the epoch between 1973-03-03 and 5138-11-16: anything smaller is almost surely seconds.
MIN_TIMESTAMP_MS = 1e11
MAX_TIMESTAMP_MS = 1e14
_OPTIONAL_STRINGS = ("userId", "anonymousId", "externalId", "sessionId")


class ValidationError(Exception):
    """A rejected request: ``status`` (4xx), one-sentence ``error``, JSON-path ``field``, event ``index``."""

    def __init__(self, error: str, field: str, index: int | None = None, status: int = 400):
        super().__init__(error)
        self.error = error
        self.field = field
        self.index = index
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "field": self.field, "index": self.index}


class EventRow(NamedTuple):
    """The indexed columns of one accepted canary event (the event itself is kept in its request body)."""

    position: int
    name: str
    timestamp_ms: float
    user_id: str | None
    anonymous_id: str | None
    canary_id: str | None


def _path(index: int | None, key: str | None = None) -> str:
    base = "$" if index is None else f"$.events[{index}]"
    return base if key is None else f"{base}.{key}"


class Accepted(NamedTuple):
    """A valid request: how many events it holds, and the canaries among them (to index)."""

    n_events: int
    canaries: list[EventRow]


def check_event(event: Any, *, index: int | None) -> EventRow | None:
    """Check one event against the UserFlux conventions; raise ValidationError when it breaks one.

    Returns the columns to index when the event is a canary (``properties.canary_id`` is a string), else
    None: ordinary events need nothing beyond their place in the stored request body. ``index`` is the
    event's position in a batch (None for the single-event endpoint). This runs once per event on the hot
    path, so error paths are built only when something is wrong and nothing is allocated for a plain event.
    """
    if type(event) is not dict:
        raise ValidationError("an event must be a JSON object", _path(index), index)
    name = event.get("name")
    if type(name) is not str:
        if name is None:
            raise ValidationError("event name is missing", _path(index, "name"), index)
        raise ValidationError("event name must be a string", _path(index, "name"), index)
    if not name:
        raise ValidationError("event name must not be empty", _path(index, "name"), index)
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"event name is longer than {MAX_NAME_CHARS} characters", _path(index, "name"),
                              index)
    # every white-space character but the ASCII space is also non-printable
    if " " in name or not name.isprintable():
        raise ValidationError("event name must not contain white space or control characters",
                              _path(index, "name"), index)
    get = event.get
    user_id = get("userId")
    anonymous_id = get("anonymousId")
    external_id = get("externalId")
    session_id = get("sessionId")
    if not (
        (user_id is None or type(user_id) is str)
        and (anonymous_id is None or type(anonymous_id) is str)
        and (external_id is None or type(external_id) is str)
        and (session_id is None or type(session_id) is str)
    ):
        key = next(k for k in _OPTIONAL_STRINGS if get(k) is not None and type(get(k)) is not str)
        raise ValidationError(f"{key} must be a string or null", _path(index, key), index)
    if not user_id and not anonymous_id:
        raise ValidationError("an event needs a userId or an anonymousId", _path(index, "userId"), index)
    timestamp = get("timestamp")
    kind = type(timestamp)
    if kind is not int and kind is not float:
        raise ValidationError("timestamp must be a number of milliseconds since the epoch",
                              _path(index, "timestamp"), index)
    if not MIN_TIMESTAMP_MS <= timestamp < MAX_TIMESTAMP_MS:  # type: ignore[operator]
        raise ValidationError(f"timestamp {timestamp!r} is not milliseconds since the epoch (seconds by mistake?)",
                              _path(index, "timestamp"), index)
    properties = get("properties")
    if properties is None:
        properties = {}
    elif type(properties) is not dict:
        raise ValidationError("properties must be a JSON object", _path(index, "properties"), index)
    device = get("deviceData")
    if device is not None and type(device) is not dict:
        raise ValidationError("deviceData must be a JSON object or null", _path(index, "deviceData"), index)
    canary = properties.get("canary_id")
    if type(canary) is not str:
        return None
    return EventRow(
        index or 0,
        name,
        float(timestamp),  # type: ignore[arg-type]
        user_id or None,
        anonymous_id or None,
        canary,
    )


def validate_single(doc: Any) -> Accepted:
    """Body of ``POST /event/ingest``: one event object."""
    if not isinstance(doc, dict):
        raise ValidationError("the body must be one event as a JSON object", "$")
    row = check_event(doc, index=None)
    return Accepted(1, [] if row is None else [row])


def validate_batch(doc: Any, *, max_batch: int) -> Accepted:
    """Body of ``POST /event/ingest/batch``: ``{"events": [...]}`` with 1..max_batch events."""
    if not isinstance(doc, dict):
        raise ValidationError('the body must be a JSON object like {"events": [...]}', "$")
    events = doc.get("events")
    if not isinstance(events, list):
        raise ValidationError("events must be a JSON array of events", "$.events")
    if not events:
        raise ValidationError("events must not be empty", "$.events")
    if len(events) > max_batch:
        raise ValidationError(
            f"a batch holds at most {max_batch} events, got {len(events)}", "$.events", None, status=413
        )
    canaries = [row for i, ev in enumerate(events) if (row := check_event(ev, index=i)) is not None]
    return Accepted(len(events), canaries)


def validate_profile(doc: Any) -> tuple[str, dict[str, Any]]:
    """Body of ``POST /profile``: returns ``(userId, profile)``; ``userId`` is required to read it back."""
    if not isinstance(doc, dict):
        raise ValidationError("the body must be a profile as a JSON object", "$")
    for key in _OPTIONAL_STRINGS[:3]:
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{key} must be a string or null", f"$.{key}")
    user_id = doc.get("userId")
    if not user_id:
        raise ValidationError("a profile needs a userId", "$.userId")
    props = doc.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ValidationError("properties must be a JSON object", "$.properties")
    device = doc.get("deviceData")
    if device is not None and not isinstance(device, dict):
        raise ValidationError("deviceData must be a JSON object or null", "$.deviceData")
    return user_id, doc


def validate_canary_ids(doc: Any, *, max_ids: int) -> list[str]:
    """Body of ``POST /query`` and ``POST /internal/visibility``: ``{"canary_ids": [str, ...]}``."""
    if not isinstance(doc, dict):
        raise ValidationError('the body must be a JSON object like {"canary_ids": [...]}', "$")
    ids = doc.get("canary_ids")
    if not isinstance(ids, list):
        raise ValidationError("canary_ids must be a JSON array of strings", "$.canary_ids")
    if len(ids) > max_ids:
        raise ValidationError(
            f"at most {max_ids} canary_ids per query, got {len(ids)}", "$.canary_ids", None, status=413
        )
    for i, cid in enumerate(ids):
        if not isinstance(cid, str):
            raise ValidationError("canary_ids must be strings", f"$.canary_ids[{i}]")
    return ids
