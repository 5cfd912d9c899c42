"""The ceiling for the benchmarks: aiohttp (uvloop) answering every request with 204, counting what it got.

    python benchmarks/bare204.py --port 18290

``GET /__count`` answers ``{"requests": N, "bytes": B}`` (requests and body bytes answered so far, itself not
counted), so a benchmark can see how many requests really arrived, whatever the generator says.
"""

from __future__ import annotations

import argparse
import json

import uvloop
from aiohttp import web

COUNT = {"requests": 0, "bytes": 0}


async def no_content(request: web.Request) -> web.Response:
    body = await request.read()
    if request.path == "/__count":
        return web.Response(text=json.dumps(COUNT), content_type="application/json")
    COUNT["requests"] += 1
    COUNT["bytes"] += len(body)
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
