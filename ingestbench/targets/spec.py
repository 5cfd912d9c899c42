"""What a target kind is, typed: its options (type, default, one-line help), the environment variables of its
secrets, the roles it can play. The framework reads it: ``make_target`` checks options against it, ``run
--check`` names a missing secret from it, ``ingestbench targets`` prints it.

A target module exposes ``SPEC`` and registers it under the ``ingestbench.targets`` entry-point group::

    SPEC = TargetSpec(kind="mytarget", summary="...", make=make,
                      options=(Option("table", "table to query", default="events"),),
                      secrets=(Secret("MY_WRITE_KEY", "the ingest key", needed_by=(WRITER,)),))

    [project.entry-points."ingestbench.targets"]
    mytarget = "mypackage.mytarget:SPEC"

A plain factory registered instead still works: it gets a spec with no options and no secrets listed.

>>> spec = TargetSpec(kind="t", summary="", make=lambda url, options, environ: None,
...                   options=(Option("n", "a count", type="integer", default="3"),))
>>> spec.check_options({"n": "x"})
Traceback (most recent call last):
...
ingestbench.records.config.ConfigError: target-opt: n must be an integer (target 't'), got 'x'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingestbench.records.config import ConfigError
from ingestbench.targets.contract import Factory

WRITER, READER, PROFILES, SETUP = "writer", "reader", "profiles", "setup"
TYPES = ("text", "integer", "number", "boolean", "url")


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    type: str = "text"  # one of TYPES
    default: str | None = None  # as a scenario writes it; None: none (the help says what happens then)


@dataclass(frozen=True)
class Secret:
    env: str  # the environment variable it is read from (never an option, never a flag)
    help: str
    needed_by: tuple[str, ...] = ()  # roles that cannot work without it: a run that uses them is certain to fail


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    summary: str
    make: Factory
    options: tuple[Option, ...] = ()
    secrets: tuple[Secret, ...] = ()
    roles: tuple[str, ...] = (WRITER,)  # what it can play (what it plays may depend on its options)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def check_options(self, options: Mapping[str, str], *, flag: str = "target-opt") -> None:
        """Refuse an unknown option (naming the known ones) or a value of the wrong type; ``flag`` is where the
        options came from (``reader-opt`` for a reader's)."""
        for key, value in options.items():
            opt = self.option(key)
            if opt is None:
                listing = ", ".join(o.name for o in self.options) or "none"
                raise ConfigError(f"{flag}: {key!r} is not an option of target {self.kind!r} (known: {listing})")
            problem = _type_problem(opt.type, str(value))
            if problem:
                raise ConfigError(f"{flag}: {key} must be {problem} (target {self.kind!r}), got {value!r}")

    def missing_secrets(self, environ: Mapping[str, str], roles: tuple[str, ...]) -> list[Secret]:
        """The secrets that ``roles`` cannot work without and ``environ`` does not hold."""
        return [s for s in self.secrets if set(s.needed_by) & set(roles) and not environ.get(s.env)]


def _type_problem(kind: str, value: str) -> str | None:
    if kind == "integer":
        return None if value.strip().lstrip("-").isdigit() else "an integer"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return "a number"
        return None
    if kind == "boolean":
        return None if value in ("true", "false") else "true or false"
    if kind == "url":
        return None if value.startswith(("http://", "https://")) else "a URL starting with http:// or https://"
    return None
