"""The application ``iiscors serve`` runs: a WSGI app, a static site, a proxy or the demo,
wrapped in :class:`iiscors.CorsMiddleware` (an ASGI app in :class:`iiscors.asgi.CorsMiddleware`).
Shared by ``serve`` and ``playground``; :func:`make_app` builds the same from environment
variables, for gunicorn and waitress-serve (docs/serving.md).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from iiscors.asgi import ASGIApplication
from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.config.diagnostics import ConfigError
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.server import ApplicationHost, analyse_server, root_directory
from iiscors.reload import DEFAULT_RELOAD_INTERVAL
from iiscors.serving.accesslog import LogFormat, open_access_log
from iiscors.serving.interface import is_asgi_app
from iiscors.serving.logged import LoggedWSGI
from iiscors.serving.pathguard import PathGuard
from iiscors.serving.proxy import ReverseProxy
from iiscors.serving.static import StaticSite
from iiscors.wsgi import CorsMiddleware, WSGIApplication

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def import_target(spec: str) -> Any:
    """The object ``module:attribute`` names (the attribute may be dotted), importable from the
    current directory, as gunicorn and flask do.

    :raises click.BadParameter: not importable, no such attribute, or not callable.
    """
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
        raise click.BadParameter(f"{spec} is not a WSGI or ASGI application",
                                 param_hint="--app")
    return target


def is_asgi_target(target: object, spec: str) -> bool:
    """:func:`~iiscors.serving.interface.is_asgi_app`, its refusals as click errors."""
    try:
        return is_asgi_app(target)
    except ValueError as exc:
        raise click.BadParameter(f"{spec} is {exc}", param_hint="--app") from exc


def import_app(spec: str) -> WSGIApplication:
    """The WSGI application ``module:attribute`` names.

    :raises click.BadParameter: see :func:`import_target`; or it is an ASGI application, which a
        WSGI server would answer every request for with 500.
    """
    target = import_target(spec)
    if is_asgi_target(target, spec):
        raise click.BadParameter(
            f"{spec} is an ASGI application; this needs a WSGI one (`iiscors serve --app` "
            "serves ASGI applications through uvicorn)", param_hint="--app")
    app: WSGIApplication = target
    return app


def _source(config: str | None, root: str | None, apphost: ApplicationHost | None = None
            ) -> tuple[str | ApplicationHost, str]:
    """The configuration to read (a file, a site root, a site of a server) and how to
    describe it."""
    if apphost is not None:
        if config is not None:
            raise click.UsageError("give either CONFIG or --apphost FILE --site NAME, not both")
        return apphost, apphost.description
    if config is not None and root is not None:
        raise click.UsageError("give either CONFIG or --root DIR (whose web.config files are "
                               "the configuration), not both")
    if root is not None:
        return root, f"site root {root} (every web.config below it)"
    if config is not None:
        return config, config
    source = str(DEMO_DIR / "web.config")
    return source, f"the demo configuration {source}"


def build(config: str | None, root: str | None, app: str | None, proxy: str | None, *,
          max_bytes: int = DEFAULT_MAX_BYTES, reload: bool = True,
          reload_interval: float = DEFAULT_RELOAD_INTERVAL, strict: bool = False,
          exempt_same_origin: bool = False, all_or_nothing: bool = False,
          applications: Sequence[str] = (), apphost: ApplicationHost | None = None
          ) -> tuple[CorsMiddleware, str]:
    """The WSGI application ``iiscors serve`` runs, and a one-line description of it.

    With ``apphost`` (contract E4), CORS comes from that site of the server; without ``root``,
    ``app`` or ``proxy``, the files served are those of the site's root directory.

    :raises click.UsageError: the options do not make sense together.
    :raises ConfigError: the configuration is unusable.
    """
    source, where = _source(config, root, apphost)
    if apphost is not None and root is None and app is None and proxy is None:
        root = _site_root(apphost)
    if app is not None and proxy is not None:
        raise click.UsageError("give either --app or --proxy, not both")
    inner: WSGIApplication
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
        inner = StaticSite(root, max_bytes=max_bytes)
        what = f"static files of {root}"
    else:
        from iiscors.serving.demo.app import demo_app
        inner = demo_app
        what = "the iiscors demo API"
    middleware = CorsMiddleware(inner, source, max_bytes=max_bytes, reload=reload,
                                reload_interval=reload_interval, strict=strict,
                                exempt_same_origin=exempt_same_origin,
                                all_or_nothing=all_or_nothing, applications=applications)
    return middleware, f"{what}, CORS from {where}"


def build_asgi(config: str | None, root: str | None, app: ASGIApplication, spec: str, *,
               max_bytes: int = DEFAULT_MAX_BYTES, reload: bool = True,
               reload_interval: float = DEFAULT_RELOAD_INTERVAL, strict: bool = False,
               exempt_same_origin: bool = False, all_or_nothing: bool = False,
               applications: Sequence[str] = (), apphost: ApplicationHost | None = None
               ) -> tuple[AsgiCorsMiddleware, str]:
    """An ASGI application behind :class:`iiscors.asgi.CorsMiddleware`, and its description.

    :raises click.UsageError: CONFIG and --root both given.
    :raises ConfigError: the configuration is unusable.
    """
    source, where = _source(config, root, apphost)
    middleware = AsgiCorsMiddleware(app, source, max_bytes=max_bytes, reload=reload,
                                    reload_interval=reload_interval, strict=strict,
                                    exempt_same_origin=exempt_same_origin,
                                    all_or_nothing=all_or_nothing, applications=applications)
    return middleware, f"ASGI app {spec}, CORS from {where}"


def _site_root(apphost: ApplicationHost) -> str:
    """The local directory of the server site's root, whose files ``serve`` serves."""
    directory = root_directory(apphost)
    if directory is None:  # the apphost, the site or the mapping has a problem: say which
        raise ConfigError(analyse_server(apphost).diagnostics)
    return directory


#: The environment variables :func:`make_app` reads, and the command-line option each stands for.
ENVIRONMENT = {"IISCORS_ROOT": "--root", "IISCORS_CONFIG": "CONFIG", "IISCORS_APP": "--app",
               "IISCORS_PROXY": "--proxy", "IISCORS_RELOAD": "--reload",
               "IISCORS_STRICT": "--strict", "IISCORS_ACCESS_LOG": "--access-log",
               "IISCORS_ACCESS_LOG_FORMAT": "--access-log-format"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE + _FALSE:
        raise ValueError(f"{name}: expected 1 or 0, not {value!r}")
    return value in _TRUE


def _checked(env: Mapping[str, str]) -> dict[str, str | None]:
    """The settings, with the combinations :func:`build` would refuse refused in their names."""
    got = {name: (env.get(name) or None) for name in ENVIRONMENT}
    if got["IISCORS_ROOT"] is None and got["IISCORS_CONFIG"] is None:
        raise ValueError("set IISCORS_ROOT (a site directory: its files and web.config files) "
                         "or IISCORS_CONFIG (a web.config, with IISCORS_APP or IISCORS_PROXY)")
    if got["IISCORS_ROOT"] is not None and got["IISCORS_CONFIG"] is not None:
        raise ValueError("set IISCORS_ROOT or IISCORS_CONFIG, not both")
    if got["IISCORS_APP"] is not None and got["IISCORS_PROXY"] is not None:
        raise ValueError("set IISCORS_APP or IISCORS_PROXY, not both")
    root = got["IISCORS_ROOT"]
    if root is not None and not os.path.isdir(root):
        raise ValueError(f"IISCORS_ROOT: {root!r} is not a directory")
    if (got["IISCORS_ACCESS_LOG_FORMAT"] or "text") not in tuple(LogFormat):
        raise ValueError("IISCORS_ACCESS_LOG_FORMAT: expected text or json, not "
                         f"{got['IISCORS_ACCESS_LOG_FORMAT']!r}")
    return got


def make_app(environ: Mapping[str, str] | None = None) -> WSGIApplication:
    """What ``iiscors serve`` runs, as a WSGI application built from environment variables,
    for any WSGI server::

        IISCORS_ROOT=/srv/wwwroot gunicorn --workers 4 'iiscors.serving.app:make_app()'
        IISCORS_CONFIG=web.config IISCORS_PROXY=http://127.0.0.1:5000 \\
            waitress-serve --call iiscors.serving.app:make_app

    ``IISCORS_ROOT`` (a site directory, as ``--root``) or ``IISCORS_CONFIG`` (a web.config),
    with ``IISCORS_APP`` (``module:attribute``) or ``IISCORS_PROXY`` (a backend URL);
    ``IISCORS_RELOAD`` (1/0, default 1), ``IISCORS_STRICT`` (1/0, default 0),
    ``IISCORS_ACCESS_LOG`` (``-`` or a file; no access log when unset) and
    ``IISCORS_ACCESS_LOG_FORMAT`` (``text`` or ``json``).

    :param environ: the settings (default: ``os.environ``).
    :raises ValueError: a setting is missing, malformed or conflicts with another.
    :raises ConfigError: the configuration is unusable (every diagnostic attached).
    """
    env = os.environ if environ is None else environ
    got = _checked(env)
    try:
        middleware, _ = build(got["IISCORS_CONFIG"], got["IISCORS_ROOT"], got["IISCORS_APP"],
                              got["IISCORS_PROXY"], reload=_flag(env, "IISCORS_RELOAD", True),
                              strict=_flag(env, "IISCORS_STRICT", False))
    except click.BadParameter as exc:
        name = {"--app": "IISCORS_APP", "--proxy": "IISCORS_PROXY"}.get(str(exc.param_hint))
        raise ValueError(f"{name}: {exc.message}") from None
    guarded = got["IISCORS_PROXY"] is not None  # the path judged is the path forwarded
    target = got["IISCORS_ACCESS_LOG"]
    if target is None:
        return PathGuard(middleware) if guarded else middleware
    return LoggedWSGI(middleware, open_access_log(
        target, got["IISCORS_ACCESS_LOG_FORMAT"] or LogFormat.TEXT), guard=guarded)
