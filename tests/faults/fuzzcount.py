"""Fuzz cases counted as they complete, and checked per test whatever the order the tests run in.

A case counts when the test body returned: Hypothesis starts some examples that it then abandons inside a
draw (a filter that never held, an example too large), and those checked nothing. Usage::

    @fuzz_cases(3000)              # Hypothesis settings (max_examples) and the floor the test must reach
    @given(data=st.data())
    @completed                     # one case when the body returns
    def test_fuzzed_scenario_files(workdir, data): ...

``tests/faults/conftest.py`` fails a test marked ``fuzz_cases(n)`` that completed fewer than ``n`` cases, and
prints every count with the total at the end of the session (``pytest tests/faults/test_fuzz_*.py``).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

COMPLETED: Counter[str] = Counter()  # "module::test" -> cases whose body returned, this session
DECIDED: Counter[str] = Counter()  # configuration cases by what the rules decided: must accept/refuse, either

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                derandomize=True, database=None)  # the same cases on every machine: a failure reproduces


def key(module: str, name: str) -> str:
    return f"{module}::{name}"


def completed(test: F) -> F:
    """Count one case each time ``test`` returns (not when it raises)."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = test(*args, **kwargs)
        COMPLETED[key(test.__module__, test.__name__)] += 1
        return result
    return run  # type: ignore[return-value]


def count(test: Callable[..., Any], cases: int) -> None:
    """Count ``cases`` checked by ``test`` itself (a test that is not a Hypothesis one)."""
    COMPLETED[key(test.__module__, test.__name__)] += cases


def fuzz_cases(cases: int, *, hypothesis: bool = True) -> Callable[[F], F]:
    """Mark a test as running at least ``cases`` cases; for a Hypothesis test, also run that many examples."""
    def apply(test: F) -> F:
        marked = pytest.mark.fuzz_cases(cases)(test)
        return settings(FUZZ, max_examples=cases)(marked) if hypothesis else marked
    return apply
