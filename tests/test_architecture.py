"""The shape of the code: the layer contract holds, no project import hides in a function, a third-party
target plugs in through the entry point alone, and results of an unknown schema are refused."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ingestbench.cli import COMMANDS, main
from ingestbench.targets.spec import TargetSpec
from tests.fake_target import FakeTarget
from tests.ingestbench.synthetic import make_run_dir

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingestbench",)  # every layer is a subpackage


def test_the_import_contract_holds() -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_no_project_import_inside_a_function() -> None:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(func):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                        [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                    found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                              if n.split(".")[0] in PACKAGES]
    assert found == []


LAYERS = ("records", "loadgen", "checks", "pipeline", "targets", "dashboards")


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_has_one_import_path(layer: str) -> None:
    """The top-level folder of a layer is a link into the package; importing it under that name is refused."""
    proc = subprocess.run([sys.executable, "-c", f"import {layer}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and f"import ingestbench.{layer}, not {layer}" in proc.stderr, proc.stderr
    ok = subprocess.run([sys.executable, "-c", f"import ingestbench.{layer}"], cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_dynamic_imports_keep_the_layers() -> None:
    """What the contract cannot see: command modules are imported by name (``importlib``), targets through
    entry points. Each names a module of the layer it belongs to, and it imports."""
    assert all(name.startswith("ingestbench.cli.") for name in COMMANDS.values()), COMMANDS
    for name in set(COMMANDS.values()):
        importlib.import_module(name)
    ours = [e for e in entry_points(group="ingestbench.targets") if e.value.startswith("ingestbench.")]
    assert {e.name for e in ours} >= {"pipeline", "clickhouse", "http", "posthog", "segment", "userflux"}
    assert all(e.value.startswith("ingestbench.targets.") and isinstance(e.load(), TargetSpec) for e in ours), ours


TINY_TARGET = '''
"""A target in a package of its own: found through the ingestbench.targets entry point, nothing else."""
import orjson
from ingestbench.targets.base import CanaryRow, HttpRequest, classify_status
from ingestbench.targets.contract import Limits


class Tiny:
    name = "tiny"
    limits = Limits(max_query_ids=500)

    def __init__(self, url):
        self.url = url.rstrip("/")

    def encode_event(self, event):
        return orjson.dumps(event)

    def format_time(self, unix_ms):
        return b"%d" % unix_ms

    def ingest_encoded(self, encoded):
        body = b'{"events":[' + b",".join(encoded) + b"]}"
        return HttpRequest("POST", self.url, "/event/ingest/batch", {"Content-Type": "application/json"}, body)

    def ingest(self, events):
        return self.ingest_encoded([self.encode_event(e) for e in events])

    def parse_ingest(self, status, headers, body):
        return classify_status(status, headers, body)

    def query_canaries(self, ids):
        return HttpRequest("POST", self.url, "/query", {}, orjson.dumps({"canary_ids": list(ids)}))

    def parse_query(self, status, body):
        return [CanaryRow(r["canary_id"]) for r in orjson.loads(body)["rows"]]


def make(url, options, environ):
    return Tiny(url)
'''


@pytest.mark.server
def test_a_target_registers_through_the_entry_point_and_is_probed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "tiny_target-0.1.dist-info").mkdir(parents=True)
    (site / "tiny_target.py").write_text(TINY_TARGET)
    (site / "tiny_target-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-target\n"
                                                                  "Version: 0.1\n")
    (site / "tiny_target-0.1.dist-info" / "entry_points.txt").write_text("[ingestbench.targets]\n"
                                                                         "tiny = tiny_target:make\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    with FakeTarget() as fake:
        proc = subprocess.run([sys.executable, "-m", "ingestbench", "probe", "--target", "tiny", "--url", fake.url,
                               "--declared-rate-eps", "10", "--duration", "3", "--interval", "0.1",
                               "--poll-interval", "0.05", "--no-transactional", "--out", str(tmp_path),
                               "--run-id", "out"],
                              capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        canaries = fake.canaries
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert canaries >= 20 and "PASS" in proc.stdout
    unknown = subprocess.run([sys.executable, "-m", "ingestbench", "probe", "--target", "nope", "--url", fake.url,
                              "--declared-rate-eps", "10"], capture_output=True, text=True, timeout=30, env=env)
    assert unknown.returncode == 2
    assert "known: clickhouse, http, pipeline, posthog, segment, tiny, userflux" in unknown.stderr


@pytest.mark.parametrize("command", ["gate", "report", "compare"])
def test_an_unknown_schema_version_is_refused(tmp_path: Path, command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run_dir(tmp_path / "r", status="finished")
    doc = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**doc, "schema_version": 99}))
    args = [command, str(run)] + ([str(run)] if command == "compare" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "schema_version 99 is not one this ingestbench reads" in err and "\n" not in err.strip()
