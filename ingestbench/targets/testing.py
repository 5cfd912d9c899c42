"""A conformance check any target package can run: does a registered target keep the contract?

Sans-IO, no network: each target is made from its spec with its default options and every declared secret set,
then its builders and parsers are called on sample input. What is checked:

- the spec: a kind, a summary, option names unique and of known types, secrets named once;
- options: an unknown key is refused with a :class:`~ingestbench.records.config.ConfigError` naming it;
- a writer: an event encodes to bytes, a time formats to bytes, one event and a batch build requests against the
  target's URL, a 2xx answer parses as ok and a 500 as a failure (data, not an exception);
- a reader (when the defaults make one): a token first when it needs one, then a look-up of many ids is one
  request, and a refused look-up raises :class:`~ingestbench.targets.base.TargetError` or a ``ValueError`` (what
  the prober counts as a failed poll) or returns no rows;
- a secret's value never shows in the target's ``repr``.

Run it over every installed target (a plugin's too)::

    python -m ingestbench.targets.testing            # exit 0 when every target conforms, 1 naming each problem
    python -m ingestbench.targets.testing pipeline   # one kind
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ingestbench.records.config import ConfigError
from ingestbench.targets.base import HttpRequest, IngestResult, TargetError
from ingestbench.targets.contract import Reader, TokenAuth, Writer
from ingestbench.targets.registry import specs
from ingestbench.targets.spec import TYPES, WRITER, TargetSpec

URL = "http://127.0.0.1:9"  # never contacted: builders are sans-IO
SECRET = "conformance-secret-4f1c"
EVENT = {"name": "page_view", "userId": "u-1", "anonymousId": None, "timestamp": 1_700_000_000_000,
         "properties": {"canary_id": "0190f0e0-0000-7000-8000-000000000001", "page": "/"}}


def problems(spec: TargetSpec) -> list[str]:
    """Everything about ``spec``'s target that breaks the contract (empty: it conforms)."""
    out = _spec_problems(spec)
    try:
        spec.check_options({"no_such_option_xyz": "1"})
        out.append("an unknown option was accepted")
    except ConfigError as exc:
        if "no_such_option_xyz" not in str(exc):
            out.append(f"the refusal of an unknown option does not name it: {exc}")
    environ = {s.env: SECRET for s in spec.secrets}
    options = {o.name: o.default for o in spec.options if o.default is not None}
    try:
        target = spec.make(URL, options, environ)
    except Exception as exc:  # a conformance check reports, never crashes
        return [*out, f"made with its default options it raised {type(exc).__name__}: {exc}"]
    if SECRET in repr(target):
        out.append("a secret's value shows in its repr")
    for role, check in ((WRITER in spec.roles, _writer_problems), (isinstance(target, Reader), _reader_problems)):
        if role:
            try:
                out += check(target)
            except Exception as exc:  # a builder or parser that raises what no caller expects
                out.append(f"{check.__name__.strip('_').split('_')[0]}: raised {type(exc).__name__}: {exc}")
    return out


def _spec_problems(spec: TargetSpec) -> list[str]:
    out = []
    if not spec.kind or not spec.summary:
        out.append("the spec has no kind or no summary")
    names = [o.name for o in spec.options]
    if len(set(names)) != len(names):
        out.append(f"option names repeat: {names}")
    out += [f"option {o.name} has unknown type {o.type!r}" for o in spec.options if o.type not in TYPES]
    envs = [s.env for s in spec.secrets]
    if len(set(envs)) != len(envs):
        out.append(f"secrets repeat: {envs}")
    return out


def _request_problems(what: str, req: Any) -> list[str]:
    if not isinstance(req, HttpRequest):
        return [f"{what} did not build an HttpRequest: {type(req).__name__}"]
    if not req.base_url.startswith(URL.split(":9")[0]) and not req.base_url.startswith("https://"):
        return [f"{what} is not addressed to the target: {req.base_url}"]
    if req.method not in ("GET", "POST", "PUT"):
        return [f"{what} uses method {req.method}"]
    return []


def _writer_problems(target: Any) -> list[str]:
    if not isinstance(target, Writer):
        return ["it plays the writer but is not a Writer (encode_event, format_time, ingest, ingest_encoded, "
                "parse_ingest, name, limits)"]
    out = []
    encoded = target.encode_event(EVENT)
    if not isinstance(encoded, bytes) or not encoded:
        out.append("encode_event did not give bytes")
    if not isinstance(target.format_time(1_700_000_000_000), bytes):
        out.append("format_time did not give bytes")
    out += _request_problems("ingest of one event", target.ingest([EVENT]))
    out += _request_problems("ingest of a batch", target.ingest_encoded([encoded, encoded]))
    ok, failed = target.parse_ingest(204, {}, b""), target.parse_ingest(500, {}, b"oops")
    if not isinstance(ok, IngestResult) or not isinstance(failed, IngestResult):
        out.append("parse_ingest did not give IngestResults")
    elif failed.ok:
        out.append("a 500 answer parsed as ok")
    return out


def _reader_problems(target: Any) -> list[str]:
    out: list[str] = []
    if isinstance(target, TokenAuth):  # a token first, as the prober fetches it
        req = target.token_request()
        if req is None:
            return ["a token reader asks for no token before its first look-up"]
        out += _request_problems("the token request", req)
        target.take_token(200, b'{"token": "t", "access_token": "t", "data": {"token": "t"}}')
    try:
        out += _request_problems("a look-up", target.query_canaries(["a", "b", "c"]))
    except TargetError as exc:
        return [*out, f"a look-up could not be built: {exc}"]
    try:
        rows = target.parse_query(500, b"oops")
    except (TargetError, ValueError):  # what the prober counts as a failed poll
        return out
    if rows:
        out.append("a refused look-up gave rows")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    kinds = list(argv if argv is not None else sys.argv[1:])
    found = specs()
    unknown = [k for k in kinds if k not in found]
    if unknown:
        print(f"unknown target {unknown[0]!r} (known: {', '.join(sorted(found))})", file=sys.stderr)
        return 2
    failed = 0
    for kind in kinds or sorted(found):
        bad = problems(found[kind])
        failed += bool(bad)
        print(f"{kind}: {'conforms' if not bad else 'DOES NOT CONFORM'}")
        for p in bad:
            print(f"  - {p}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
