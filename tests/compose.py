"""Reading ``docker-compose.yml`` the way Compose does, and turning a service's command into a native one.

No Docker engine runs here, so the tests run each service's command as a local process with the same
arguments, translated only where a container differs from this machine: a service name is 127.0.0.1, a
container port is a free local port, a mounted path is the host path it mounts, ``0.0.0.0`` is 127.0.0.1
(tests listen on loopback only) and the harness image's ``/app`` is the repository.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")
HOST_PORT = re.compile(r"^(?P<scheme>\w+://)?(?P<host>[\w.-]+):(?P<port>\d+)(?P<rest>/.*)?$")


def interpolate(text: str, environ: dict[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` (an error when VAR is unset or empty)."""
    def one(m: re.Match[str]) -> str:
        value = environ.get(m["name"], "")
        if m["op"] == ":-" and not value:
            return m["arg"]
        if m["op"] == ":?" and not value:
            raise KeyError(f"{m['name']}: {m['arg']}")
        return value

    return INTERPOLATION.sub(one, text)


def load(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ if environ is None else environ)
    doc: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), env))
    return doc


@dataclass
class Native:
    """How containers map onto this machine for one test."""

    services: set[str]
    ports: dict[int, int]  # container port -> local port
    mounts: dict[str, Path]  # container path -> host path (every service's mounts; the test keeps them apart)

    def arg(self, value: str, flag: str = "") -> str:
        """One argument; ``flag`` is the one before it (a bare service name is a host only after ``--*host``)."""
        if value.startswith("--") and "=" in value:
            name, _, rest = value.partition("=")
            return f"{name}={self.arg(rest, name)}"
        if value == "0.0.0.0" or (value in self.services and flag.endswith("host")):
            return "127.0.0.1"
        if value.isdigit() and int(value) in self.ports:
            return str(self.ports[int(value)])
        m = HOST_PORT.match(value)
        if m and (m["host"] in self.services or m["host"] == "0.0.0.0") and int(m["port"]) in self.ports:
            return f"{m['scheme'] or ''}127.0.0.1:{self.ports[int(m['port'])]}{m['rest'] or ''}"
        for inside, outside in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
            if value == inside or value.startswith(inside.rstrip("/") + "/"):
                return str(outside) + value[len(inside.rstrip("/")):]
        return value

    def command(self, service: dict[str, Any], entrypoint: str | None = None) -> list[str]:
        args = service["command"]
        cmd = [self.arg(a, args[i - 1] if i else "") for i, a in enumerate(args)]
        if entrypoint is not None:
            return [entrypoint, *cmd]
        tool = VENV_BIN / cmd[0]
        return [str(tool) if tool.exists() else cmd[0], *cmd[1:]]


def container_ports(doc: dict[str, Any]) -> set[int]:
    """Every port a service's command listens on or connects to (``--*port N``, ``host:N``)."""
    found = set()
    for service in doc["services"].values():
        args = service.get("command", [])
        for i, a in enumerate(args):
            if a.startswith("--") and a.endswith("port") and i + 1 < len(args) and args[i + 1].isdigit():
                found.add(int(args[i + 1]))
            m = HOST_PORT.match(a.partition("=")[2] if a.startswith("--") else a)
            if m:
                found.add(int(m["port"]))
    return found


def mounts(service: dict[str, Any], named: dict[str, Path]) -> dict[str, Path]:
    """A service's volumes: bind mounts (``./x:/y``) relative to the compose file, named ones to ``named``."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = (ROOT / source).resolve() if source.startswith(("./", "/")) else named[source]
    return out
