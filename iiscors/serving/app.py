"""The application ``iiscors serve`` runs: a WSGI app, a static site, a proxy or the demo,
wrapped in :class:`iiscors.CorsMiddleware`.  Shared by ``serve`` and ``playground``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from iiscors.config.load import Config
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.reload import DEFAULT_RELOAD_INTERVAL
from iiscors.serving.proxy import ReverseProxy
from iiscors.serving.static import StaticSite
from iiscors.wsgi import CorsMiddleware, WSGIApplication

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def import_app(spec: str) -> WSGIApplication:
    """``module:attribute`` (the attribute may be dotted), importable from the current
    directory, as gunicorn and flask do."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(f"expected module:attribute, not {spec!r}", param_hint="--app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}",
                                 param_hint="--app") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise click.BadParameter(f"{module_name!r} has no attribute {attribute!r}",
                                     param_hint="--app") from exc
    if not callable(target):
        raise click.BadParameter(f"{spec} is not a WSGI application", param_hint="--app")
    app: WSGIApplication = target
    return app


def build(config: str | None, root: str | None, app: str | None, proxy: str | None, *,
          max_bytes: int = DEFAULT_MAX_BYTES, reload: bool = True,
          reload_interval: float = DEFAULT_RELOAD_INTERVAL, strict: bool = False,
          exempt_same_origin: bool = False) -> tuple[CorsMiddleware, str]:
    """The application ``iiscors serve`` runs, and a one-line description of it.

    :raises click.UsageError: the options do not make sense together.
    :raises ConfigError: the configuration is unusable.
    """
    if config is not None and root is not None:
        raise click.UsageError("give either CONFIG or --root DIR (whose web.config files are "
                               "the configuration), not both")
    if app is not None and proxy is not None:
        raise click.UsageError("give either --app or --proxy, not both")
    inner: WSGIApplication
    source: str | Config
    if proxy is not None:
        try:
            inner = ReverseProxy(proxy)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--proxy") from exc
        what = f"proxy to {proxy}"
    elif app is not None:
        inner = import_app(app)
        what = f"WSGI app {app}"
    elif root is not None:
        inner = StaticSite(root)
        what = f"static files of {root}"
    else:
        from iiscors.serving.demo.app import demo_app
        inner = demo_app
        what = "the iiscors demo API"
    if root is not None:
        source = root
        where = f"site root {root} (every web.config below it)"
    elif config is not None:
        source = config
        where = config
    else:
        source = str(DEMO_DIR / "web.config")
        where = f"the demo configuration {source}"
    middleware = CorsMiddleware(inner, source, max_bytes=max_bytes, reload=reload,
                                reload_interval=reload_interval, strict=strict,
                                exempt_same_origin=exempt_same_origin)
    return middleware, f"{what}, CORS from {where}"
