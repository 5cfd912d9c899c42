"""Fuzz accounting (:mod:`tests.faults.fuzzcount`): each marked test must complete its cases; the session's
counts are printed at the end."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.faults.fuzzcount import COMPLETED, DECIDED, key

SUITES = {"tests.faults.test_fuzz_endpoints": "HTTP", "tests.faults.test_fuzz_config": "configuration"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker("fuzz_cases")
    if marker is None or not isinstance(item, pytest.Function):
        return (yield)
    name = key(item.module.__name__ if item.module else "", item.originalname)
    before = COMPLETED[name]
    result = yield  # a failing test raises here, and its failure is the one reported
    done = COMPLETED[name] - before
    floor = marker.args[0]
    assert done >= floor, f"{item.originalname} completed {done} cases, fewer than its {floor}"
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COMPLETED:
        return
    by_suite: dict[str, int] = {}
    terminalreporter.section("fuzz cases completed")
    for name, cases in sorted(COMPLETED.items()):
        module = name.split("::")[0]
        suite = SUITES.get(module, module)
        by_suite[suite] = by_suite.get(suite, 0) + cases
        terminalreporter.write_line(f"{cases:>7,} {name}")
    parts = ", ".join(f"{n:,} {s}" for s, n in by_suite.items())
    terminalreporter.write_line(f"fuzz cases completed: {sum(by_suite.values()):,} ({parts})")
    if DECIDED:
        terminalreporter.write_line("changed configuration files, by what the rules decide: "
                                    + ", ".join(f"{n:,} {what}" for what, n in sorted(DECIDED.items())))
