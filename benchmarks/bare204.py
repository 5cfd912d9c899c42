"""The ceiling for the benchmarks: aiohttp (uvloop) answering every request with 204.

    python benchmarks/bare204.py --port 18290
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web


async def no_content(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18290)
    args = parser.parse_args()
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", no_content)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
