"""The target contract: what the load generator and the probe may ask of a system under test.

A target is one module with a factory, registered under the ``ingestbench.targets`` entry-point group::

    [project.entry-points."ingestbench.targets"]
    pipeline = "ingestbench.targets.pipeline:make"

``make(url, options, environ)`` gets the base URL, the options table (the scenario's ``[target]``,
``--target-opt KEY=VALUE``, ``INGESTBENCH_TARGET_<KEY>``: strings, handed over whole) and the environment to
read its secrets from (it declares their names in ``SECRETS``; they never travel in options or on a command
line). It validates the options and names a bad key in a :class:`~ingestbench.records.config.ConfigError`.

The object it returns plays one or more roles, each a :class:`typing.Protocol` below; every builder is sans-IO
(it returns an :class:`~ingestbench.targets.base.HttpRequest` with the full URL, the caller executes it) and
every parser takes what came back. What a target can take is declared in :attr:`Writer.limits` / :attr:`Reader.limits`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ingestbench.targets.base import CanaryRow, HttpRequest, IngestResult, ProfileResult


@dataclass(frozen=True)
class Limits:
    """What a target accepts: ids per canary look-up, how often it may be queried, request sizes."""

    max_query_ids: int = 10_000
    min_poll_interval_s: float = 0.0
    max_body_bytes: int | None = None
    max_batch_events: int | None = None
    max_event_bytes: int | None = None  # one encoded event


@runtime_checkable
class Writer(Protocol):
    """Ingests events (the load and the canaries)."""

    name: str
    limits: Limits

    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        """One event in the target's wire encoding, as it appears inside a request body."""

    def format_time(self, unix_ms: int) -> bytes:
        """How this target writes an event's time inside :meth:`encode_event`'s bytes: the generator encodes an
        event once with a placeholder time and splices each send time in with this."""

    def ingest_encoded(self, encoded: Sequence[bytes]) -> HttpRequest:
        """One request carrying already encoded events (one: the single-event form, if the target has one)."""

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> HttpRequest: ...

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult: ...


@runtime_checkable
class Reader(Protocol):
    """Looks canaries up on the query side: one request for many ids."""

    name: str
    limits: Limits

    def query_canaries(self, canary_ids: Iterable[str]) -> HttpRequest: ...

    def parse_query(self, status: int, body: bytes) -> list[CanaryRow]: ...


@runtime_checkable
class ProfileStore(Protocol):
    """The transactional path: write a profile, read it straight back."""

    def write_profile(self, user_id: str, properties: Mapping[str, Any]) -> HttpRequest: ...

    def read_profile(self, user_id: str) -> HttpRequest: ...

    def parse_profile(self, status: int, body: bytes) -> ProfileResult: ...

    def parse_ingest(self, status: int, headers: Mapping[str, str], body: bytes) -> IngestResult: ...


@runtime_checkable
class TokenAuth(Protocol):
    """A reader that must fetch a short-lived token before it can query: the prober asks for
    :meth:`token_request` before each look-up (None while a token is held) and calls :meth:`drop_token` when a
    look-up is refused with 401, so the next one fetches a fresh token."""

    def token_request(self) -> HttpRequest | None: ...

    def take_token(self, status: int, body: bytes) -> None:
        """Keep the token from the answer; raise :class:`~ingestbench.targets.base.TargetError` when there is none."""

    def drop_token(self) -> None: ...


@dataclass(frozen=True)
class SetupStep:
    """One request of a target's setup, with what it is for and the statement to show the operator."""

    purpose: str
    request: HttpRequest
    show: str | None = None


# A setup is a sans-IO conversation: the target yields a step, the caller executes its request and sends
# back ``(status, body)``; the value returned at the end is the lines to print (what to use next).
SetupConversation = Generator[SetupStep, tuple[int, bytes], list[str]]


@runtime_checkable
class Provisioner(Protocol):
    """A target that can create what it needs (``ingestbench setup``), idempotently."""

    def setup(self) -> SetupConversation: ...


class Factory(Protocol):
    def __call__(self, url: str, options: Mapping[str, str], environ: Mapping[str, str]) -> Any: ...
