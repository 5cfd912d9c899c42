import os
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

# tests import helpers such as tests.servers from the repository root
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.ci import in_ci  # noqa: E402  (needs the path above)

# Under CI nothing may be skipped: a skip there means a test that never ran while the run looked green.
# A skipped test is reported as failed, with its skip reason; a skip while collecting fails the session.
_COLLECT_SKIPS: list[str] = []


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: reason")
        return f"{longrepr[2]} ({longrepr[0]}:{longrepr[1]})"
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and in_ci():
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI (CI={os.environ.get('CI')!r}), where every test must run: "
                           f"{_reason(report.longrepr)}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped and in_ci():
        _COLLECT_SKIPS.append(f"{report.nodeid}: {_reason(report.longrepr)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _COLLECT_SKIPS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nskipped under CI while collecting (a failure there):\n  " + "\n  ".join(_COLLECT_SKIPS),
              file=sys.stderr)


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory):
    """A self-signed certificate and key for 127.0.0.1 (see tests/tls_certs.py), made once per session."""
    from tests.tls_certs import make_self_signed

    return make_self_signed(tmp_path_factory.mktemp("tls"))
