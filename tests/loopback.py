"""An aiohttp application served on a free 127.0.0.1 port from a thread of the test process.

Subclasses add their routes in :meth:`routes`; the server starts on ``__enter__`` and stops on ``__exit__``::

    class Echo(LoopbackApp):
        def routes(self, app):
            app.router.add_post("/echo", self._echo)

    with Echo() as srv:
        srv.url  # http://127.0.0.1:<port>

Set ``ssl_context`` (a server context) before entering to serve HTTPS instead (``srv.url`` is then https).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from aiohttp import web

from ingestbench.orchestrate.net import free_port


class LoopbackApp:
    def __init__(self) -> None:
        self.port = free_port()
        self.ssl_context: ssl.SSLContext | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Start background work of the app with :meth:`spawn` (none by default)."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the server's loop until the server stops (then it is cancelled)."""
        self._tasks.append(self._loop.create_task(coro))

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        self.routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.ssl_context).start()
        await self.on_start()
        self._ready.set()
        await self._stop.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await runner.cleanup()
