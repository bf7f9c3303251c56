"""The app the gunicorn load tests serve: a tiny WSGI app behind :class:`iiscors.CorsMiddleware`.

gunicorn imports it as ``loadtesting.app:make_app()`` (from ``tools/``), configured by the
environment: :data:`CONFIG_ENV` names the web.config, :data:`RELOAD_ENV` sets
``reload_interval``, :data:`LOG_ENV` (--faults) names a file that receives the ``iiscors`` log,
:data:`MAX_BYTES_ENV` (--reload-edits) raises the size limit for a large web.config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from _benchlib import raw_wsgi_app
from faults.injector import LOG_FORMAT

CONFIG_ENV = "IISCORS_LOADTEST_CONFIG"
RELOAD_ENV = "IISCORS_LOADTEST_RELOAD_INTERVAL"
LOG_ENV = "IISCORS_LOADTEST_LOG"
MAX_BYTES_ENV = "IISCORS_LOADTEST_MAX_BYTES"

WSGIApp = Callable[..., Iterable[bytes]]


def with_worker(app: WSGIApp) -> WSGIApp:
    """Outside iiscors: an ``X-Worker: <pid>`` on every response, the middleware's own 204 and
    403 included, so that a client can tell which worker process answered."""
    pid = str(os.getpid())

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker", pid)], *exc_info)

        return app(environ, start)

    return wrapped


def log_to(path: str) -> None:
    """The ``iiscors`` log (INFO and up) appended to ``path`` with ``O_APPEND`` by every worker,
    one line per record prefixed with the worker's pid (:data:`faults.injector.LOG_FORMAT`)."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("iiscors")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def make_app() -> Any:
    """gunicorn entry point: ``loadtesting.app:make_app()`` with :data:`CONFIG_ENV` set.

    With :data:`LOG_ENV` set, the log goes to that file and every response also says which
    worker answered (``X-Worker``).
    """
    from iiscors import CorsMiddleware
    from iiscors.config.loader import DEFAULT_MAX_BYTES
    from iiscors.reload import DEFAULT_RELOAD_INTERVAL

    log_path = os.environ.get(LOG_ENV)
    if log_path:
        log_to(log_path)
    interval = float(os.environ.get(RELOAD_ENV, DEFAULT_RELOAD_INTERVAL))
    max_bytes = int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    app = CorsMiddleware(raw_wsgi_app, Path(os.environ[CONFIG_ENV]), reload_interval=interval,
                         max_bytes=max_bytes)
    return with_worker(app) if log_path else app
