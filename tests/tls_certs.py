"""A self-signed certificate for 127.0.0.1 made with the ``openssl`` command, and server contexts from it.

The certificate names only ``IP:127.0.0.1``, so it also serves to check host names: the same server reached as
``localhost`` does not match it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SelfSigned:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_self_signed(directory: Path) -> SelfSigned:
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make the test certificate (apt-get install openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=ingestbench-test",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return SelfSigned(cert, key)
