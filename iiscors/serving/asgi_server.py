"""Serving an ASGI application (Starlette, FastAPI...) with ``iiscors serve --app``: uvicorn,
behind :class:`iiscors.asgi.CorsMiddleware`.

uvicorn is optional (``pip install 'iiscors[asgi]'``): :func:`uvicorn_missing` says so before
anything starts, so that an ASGI application is refused at startup with a clear message rather
than served by a WSGI server that would answer every request with 500.

The stop is uvicorn's own graceful shutdown (stop listening, let the requests in flight finish,
at most ``graceful_timeout`` seconds, then cancel them), on the same signals as waitress.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Callable

from iiscors.asgi import ASGIApplication, Receive, Scope, Send
from iiscors.serving.server import Stop, stop_signals

#: The message for an ASGI application when uvicorn cannot be imported.
INSTALL_HINT = "serving it needs uvicorn: pip install 'iiscors[asgi]'"


def uvicorn_missing() -> bool:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return True
    return False


class CountCancelled:
    """Counts the HTTP requests cut off (their task cancelled) at the end of a graceful stop."""

    def __init__(self, app: ASGIApplication) -> None:
        self.app = app
        self.cancelled = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if scope["type"] == "http":
                self.cancelled += 1
            raise


def serve_uvicorn(app: ASGIApplication, sock: socket.socket, *, graceful_timeout: float,
                  on_ready: Callable[[int], None], on_stop: Callable[[], None]) -> int:
    """Serve ``app`` with uvicorn on ``sock`` (bound, see :func:`iiscors.serving.server.bind`)
    until a stop signal; the number of requests cut off by the stop."""
    import uvicorn

    counted = CountCancelled(app)
    config = uvicorn.Config(
        counted, interface="asgi3", lifespan="auto", log_level="warning",
        access_log=False,  # the iiscors access log says more
        proxy_headers=False,  # as waitress: no client's X-Forwarded-* is trusted
        timeout_graceful_shutdown=math.ceil(graceful_timeout))
    port: int = sock.getsockname()[1]

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                on_ready(port)  # listening for real: the application started

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            on_stop()
            await super().shutdown(sockets=sockets)

    # uvicorn catches the signals itself and, once stopped, raises them again for the handler
    # it found: ours only records them, so the process then exits normally.
    with stop_signals(Stop()):
        Server(config).run(sockets=[sock])
    return counted.cancelled
