import sys
from pathlib import Path

import pytest

# tests import helpers such as tests.servers from the repository root
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory):
    """A self-signed certificate and key for 127.0.0.1 (see tests/tls_certs.py), made once per session."""
    from tests.tls_certs import make_self_signed

    return make_self_signed(tmp_path_factory.mktemp("tls"))
