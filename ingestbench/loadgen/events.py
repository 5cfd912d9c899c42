"""Event factory ("what"): realistic analytics events in the UserFlux wire shape, fast and deterministic.

Events follow the conventions of UserFlux's "Send events" docs: names without white space in one casing style, a
product-shaped mix (page views and clicks from clients with ``deviceData``; signups, feature use, upgrades and
payments from backends with ``deviceData: null``), known users and anonymous visitors, sessions, and
``property_count`` properties padded to roughly ``payload_bytes`` of serialised event, with a nested object
and an array among them when ``nested`` is set.

Speed matters more than endless variety: a pool of ``pool_size`` templates is built once from the seed, and
:meth:`EventFactory.next_event` hands out a fresh copy of the next one (new top-level dict and new
``properties`` dict, current timestamp). Callers may add or replace keys, e.g. ``properties["canary_id"]``;
nested property values are shared between copies and must not be mutated. The load generator goes one step
further and never builds dicts per request: :mod:`ingestbench.loadgen.encoded` encodes each template once.

This module must stay importable without Locust/gevent (the asyncio probes in ``checks`` use it)::

    f = EventFactory(seed=7, casing="camelCase")
    e = f.next_event(now_ms=1_700_000_000_000)
    e["properties"]["canary_id"] = "c-1"
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import orjson

CASINGS = ("snake_case", "camelCase", "TitleCase")

# (words, source, weight): client events carry deviceData, backend events do not.
EVENT_KINDS: tuple[tuple[tuple[str, ...], str, int], ...] = (
    (("page", "viewed"), "client", 40),
    (("button", "clicked"), "client", 25),
    (("search", "performed"), "client", 8),
    (("form", "submitted"), "client", 7),
    (("signup", "completed"), "backend", 5),
    (("feature", "used"), "backend", 8),
    (("plan", "upgraded"), "backend", 3),
    (("payment", "succeeded"), "backend", 4),
)
# (words, value kind) in the order properties are added; past the end, names get a numeric suffix.
_PROPERTIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("page", "path"), "path"), (("referrer",), "url"), (("plan", "name"), "plan"), (("amount",), "money"),
    (("currency",), "currency"), (("item", "count"), "int"), (("is", "trial"), "bool"),
    (("experiment", "variant"), "variant"), (("duration", "ms"), "int"), (("search", "query"), "text"),
    (("campaign",), "text"), (("region",), "region"),
)
_NESTED: tuple[tuple[str, ...], ...] = (("account",), ("tags",))
_PLANS = ("free", "starter", "pro", "enterprise")
_PATHS = ("/", "/pricing", "/docs", "/signup", "/dashboard", "/settings", "/reports", "/billing")
_BROWSERS = (("Chrome", "124.0"), ("Firefox", "125.0"), ("Safari", "17.4"), ("Edge", "124.0"))
_OSES = (("macOS", "14.4"), ("Windows", "11"), ("iOS", "17.4"), ("Android", "14"), ("Linux", "6.8"))
_REGIONS = ("ap-southeast-2", "us-east-1", "eu-west-1")
_WORDS = ("alpha", "beta", "report", "export", "invoice", "team", "chart", "filter", "cohort", "funnel")
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def cased(words: tuple[str, ...], casing: str) -> str:
    """Join words in one casing: ``("page", "viewed")`` -> ``page_viewed``, ``pageViewed``, ``PageViewed``."""
    if casing == "snake_case":
        return "_".join(words)
    if casing == "camelCase":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if casing == "TitleCase":
        return "".join(w.capitalize() for w in words)
    raise ValueError(f"casing must be one of {', '.join(CASINGS)}, got {casing!r}")


class EventFactory:
    """Deterministic (for a given seed) source of analytics events; see the module docstring."""

    def __init__(
        self,
        *,
        seed: int,
        casing: str = "snake_case",
        property_count: int = 8,
        payload_bytes: int = 400,
        nested: bool = True,
        anonymous_ratio: float = 0.3,
        user_count: int = 1000,
        pool_size: int = 2048,
        clock_ms: Callable[[], float] | None = None,
    ):
        if casing not in CASINGS:
            raise ValueError(f"casing must be one of {', '.join(CASINGS)}, got {casing!r}")
        if property_count < 0 or payload_bytes < 0 or user_count < 1 or pool_size < 1:
            raise ValueError("property_count and payload_bytes must be >= 0, user_count and pool_size >= 1")
        if not 0.0 <= anonymous_ratio <= 1.0:
            raise ValueError(f"anonymous_ratio must be within [0, 1], got {anonymous_ratio}")
        self.casing = casing
        self.property_count = property_count
        self.payload_bytes = payload_bytes
        self.nested = nested
        self.anonymous_ratio = anonymous_ratio
        self._clock_ms = clock_ms or (lambda: time.time() * 1000.0)
        rng = random.Random(seed)
        self._users = [self._person(rng, i) for i in range(user_count)]
        self._pool = [self._template(rng) for _ in range(pool_size)]
        self._next = 0

    # --- public -----------------------------------------------------------------------------
    def next_event(self, now_ms: int | None = None) -> dict[str, Any]:
        """One fresh event; ``timestamp`` is ``now_ms`` or the injected clock's current ms."""
        tpl = self._pool[self._next]
        self._next = (self._next + 1) % len(self._pool)
        event = tpl.copy()
        event["properties"] = tpl["properties"].copy()
        event["timestamp"] = int(self._clock_ms()) if now_ms is None else int(now_ms)
        return event

    def batch(self, n: int, now_ms: int | None = None) -> list[dict[str, Any]]:
        """``n`` fresh events sharing one timestamp (same copies as :meth:`next_event`, inlined for speed)."""
        ts = int(self._clock_ms()) if now_ms is None else int(now_ms)
        pool, size, i = self._pool, len(self._pool), self._next
        out = []
        for _ in range(n):
            tpl = pool[i]
            i = i + 1 if i + 1 < size else 0
            event = tpl.copy()
            event["properties"] = tpl["properties"].copy()
            event["timestamp"] = ts
            out.append(event)
        self._next = i
        return out

    @property
    def templates(self) -> tuple[dict[str, Any], ...]:
        """The pool :meth:`next_event` and :meth:`batch` cycle through, in order (read-only for the caller)."""
        return tuple(self._pool)

    # --- construction (runs once, may be slow) ------------------------------------------------
    @staticmethod
    def _person(rng: random.Random, i: int) -> dict[str, Any]:
        def token(n: int) -> str:
            return "".join(rng.choice(_ALNUM) for _ in range(n))

        return {
            "user_id": f"user-{i:06d}-{token(6)}",
            "anonymous_id": f"anon-{token(20)}",
            "external_id": f"ext-{token(10)}" if rng.random() < 0.5 else None,
            "session_id": f"sess-{token(16)}",
        }

    def _template(self, rng: random.Random) -> dict[str, Any]:
        words, source, _ = rng.choices(EVENT_KINDS, weights=[w for _, _, w in EVENT_KINDS])[0]
        person = rng.choice(self._users)
        anonymous = rng.random() < self.anonymous_ratio
        event: dict[str, Any] = {
            "timestamp": 1_700_000_000_000,  # 13 digits, so padding measures the real size
            "userId": None if anonymous else person["user_id"],
            "anonymousId": person["anonymous_id"] if anonymous or source == "client" else None,
            "externalId": None if anonymous else person["external_id"],
            "sessionId": person["session_id"] if source == "client" else None,
            "name": cased(words, self.casing),
            "properties": self._properties(rng),
            "deviceData": self._device(rng) if source == "client" else None,
        }
        self._pad(event)
        return event

    def _properties(self, rng: random.Random) -> dict[str, Any]:
        props: dict[str, Any] = {}
        flat = self.property_count
        if self.nested and self.property_count >= 1:
            props[cased(_NESTED[0], self.casing)] = {
                cased(("plan",), self.casing): rng.choice(_PLANS),
                cased(("seat", "count"), self.casing): rng.randint(1, 500),
                cased(("limits",), self.casing): {cased(("projects",), self.casing): rng.randint(1, 50)},
            }
            flat -= 1
        if self.nested and self.property_count >= 2:
            props[cased(_NESTED[1], self.casing)] = rng.sample(_WORDS, rng.randint(1, 4))
            flat -= 1
        for i in range(flat):
            words, kind = _PROPERTIES[i % len(_PROPERTIES)]
            if i >= len(_PROPERTIES):
                words = (*words, str(i // len(_PROPERTIES)))
            props[cased(words, self.casing)] = _value(rng, kind)
        return props

    @staticmethod
    def _device(rng: random.Random) -> dict[str, Any]:
        browser, browser_version = rng.choice(_BROWSERS)
        os_name, os_version = rng.choice(_OSES)
        return {"browser": browser, "browserVersion": browser_version, "os": os_name, "osVersion": os_version,
                "screenWidth": rng.choice((390, 1280, 1440, 1920)), "locale": "en-AU"}

    def _pad(self, event: dict[str, Any]) -> None:
        """Grow the last string-valued property so the serialised event is about ``payload_bytes``."""
        props = event["properties"]
        keys = [k for k, v in props.items() if isinstance(v, str)]
        if not keys:
            return
        short = self.payload_bytes - len(orjson.dumps(event))
        if short > 0:
            props[keys[-1]] = props[keys[-1]] + "-" + "x" * (short - 1)


def _value(rng: random.Random, kind: str) -> Any:
    """A plausible value for a property of the given kind."""
    if kind == "path":
        return rng.choice(_PATHS)
    if kind == "url":
        return "https://example.com" + rng.choice(_PATHS)
    if kind == "plan":
        return rng.choice(_PLANS)
    if kind == "money":
        return round(rng.uniform(5, 500), 2)
    if kind == "currency":
        return rng.choice(("AUD", "USD", "EUR"))
    if kind == "int":
        return rng.randint(0, 10_000)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "variant":
        return rng.choice(("control", "a", "b"))
    if kind == "region":
        return rng.choice(_REGIONS)
    return " ".join(rng.choices(_WORDS, k=3))
