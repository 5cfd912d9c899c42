"""The ceiling: a bare aiohttp (uvloop) server that answers every POST with 204 and stores nothing.

    python benchmarks/bare204.py --port 18090
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    args = parser.parse_args()
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("POST", "/{tail:.*}", accept)
    app.router.add_get("/healthz", lambda _r: accept(_r))
    uvloop.install()
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
