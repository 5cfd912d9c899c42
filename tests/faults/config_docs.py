"""Documents for the configuration fuzz: TOML written from Python values (any key, any value, escaped so
that every document parses), the valid scenario and SLO every case changes, and one change to them.

    doc, named, change = mutated(BASE_SCENARIO, data)   # inside a Hypothesis test with st.data()
    path.write_text(dumps(doc))
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from tests.faults.config_oracle import Mutation


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\' or not (" " <= ch <= "~"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def dumps(doc: dict[str, Any]) -> str:
    """TOML: top-level scalars, then one table per dict, one ``[[tier]]`` per dict of a list of tables."""
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in doc.items()
             if not isinstance(v, dict) and not (k == "tier" and isinstance(v, list) and v
                                                  and all(isinstance(t, dict) for t in v))]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{toml_string(k)}]")
            lines += [f"{toml_string(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
        elif k == "tier" and isinstance(v, list) and v and all(isinstance(t, dict) for t in v):
            for t in v:
                lines.append("[[tier]]")
                lines += [f"{toml_string(kk)} = {toml_value(vv)}" for kk, vv in t.items()]
    return "\n".join(lines) + "\n"


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 1, 2**31, 2**62, 10**15]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 1e308, -1e308, 5e-324, 0.5]),
    st.text(max_size=12),
    st.sampled_from(["", "10x", "0.5%", "1%", "-1%", "1e3", "x", "analytical", "transactional", "100%"]),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)

BASE_SCENARIO: dict[str, Any] = {
    "description": "fuzz base", "time_scale": 0.1,
    "load": {"batch_size": 10, "seed": 3, "steps": [{"rate_eps": 500, "duration_s": 60},
                                                     {"rate_eps": 1500, "duration_s": 60, "end_rate_eps": 2000}],
             "casing": "snake_case", "property_count": 8, "payload_bytes": 400, "nested": True,
             "anonymous_ratio": 0.3, "lag_bound_s": 0.05, "min_achieved_ratio": 0.97, "max_behind_s": 1.0,
             "max_users_per_process": 1000, "send_tick_s": 0.01},
    "pipeline": {"flush_rows": 3000, "flush_max_wait_s": 30},
    "probe": {"interval_s": 1.0, "poll_interval_s": 0.25, "drain_s": 120, "transactional": True,
              "single_event": False},
}
BASE_SLO: dict[str, Any] = {
    "lost_after": "10x", "max_lost": 0, "max_errored": "1%", "warmup_min_s": 10,
    "tier": [
        {"name": "low", "path": "analytical", "below_eps": 1000, "target_s": 30, "percentile": 95,
         "min_samples": 20},
        {"name": "high", "path": "analytical", "at_least_eps": 1000, "target_s": 3, "percentile": 95,
         "min_samples": 20, "lost_after": 60, "max_lost": "0.5%", "max_errored": 2},
        {"name": "transactional", "path": "transactional", "target_s": 1},
    ],
}


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a document (list items by index), the document's own tables included."""
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        found.append((*prefix, k))
        found += paths(v, (*prefix, k))
    return found


def mutated(base: dict[str, Any], data: st.DataObject) -> tuple[dict[str, Any], str, Mutation]:
    """One change to a valid document: a key set to any value, removed, or a new key; returns the document,
    the name the refusal must mention and the change."""
    doc = copy.deepcopy(base)
    path = data.draw(st.sampled_from(paths(doc)))
    *parents, leaf = path
    holder = doc
    for p in parents:
        holder = holder[p]
    how = data.draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
    if how == "add" and isinstance(holder, dict):
        key = data.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in holder))
        holder[key] = data.draw(values)
        return doc, key, Mutation((*parents, key), "add", holder[key])
    if how == "delete":
        del holder[leaf]
        change = Mutation(path, "delete")
    else:
        holder[leaf] = data.draw(values)
        change = Mutation(path, "set", holder[leaf])
    named = next((p for p in reversed(path) if isinstance(p, str)), "")
    return doc, named, change
