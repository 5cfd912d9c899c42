"""Write the dashboards' JSON from code, or check that the committed files are what the code builds.

    python -m ingestbench.dashboards.generate           # (re)write dashboards/grafana/dashboards/*.json
    python -m ingestbench.dashboards.generate --check   # exit 1 naming each file that differs (run by the tests)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingestbench.dashboards import latency, reference

OUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "ingestion-latency.json": latency.build,
    "reference-pipeline.json": reference.build,
}


def render(build: Callable[[], dict[str, Any]]) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for name, build in BUILDERS.items():
        path, text = OUT / name, render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for name in stale:
        print(f"{OUT / name} differs from what dashboards/ builds: run python -m "
              "ingestbench.dashboards.generate", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
