"""``iiscors serve``: IIS CORS behaviour in front of an app, a static site, or any backend.

Four modes, one middleware (:class:`iiscors.CorsMiddleware`, hot reload on by default):

- ``iiscors serve web.config --app package.module:app`` wraps a WSGI application;
- ``iiscors serve --root DIR`` serves DIR's files as IIS serves static content, with
  ``DIR/web.config`` and every sub-directory's applied below it (contract A9);
- ``iiscors serve web.config --proxy http://127.0.0.1:5000`` forwards every request to a backend
  in any language, CORS decided in front of it;
- ``iiscors serve`` alone serves the bundled demo configuration and API and prints what to try.

It runs Werkzeug's development server: fine on a laptop, not on the internet.  For production,
wrap the application yourself and run it under gunicorn, waitress or uvicorn
(docs/serving.md).

:class:`StaticSite` and :class:`ReverseProxy` are plain WSGI applications and can be used
without the command.
"""

from __future__ import annotations

import importlib
import ipaddress
import mimetypes
import os
import sys
from collections.abc import Iterable, Iterator
from http import client
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import click
from werkzeug.utils import send_file

from .config import Config
from .diagnostics import ConfigError
from .loader import DEFAULT_MAX_BYTES
from .middleware import CorsMiddleware, StartResponse, WSGIApplication, WSGIEnvironment
from .reload import DEFAULT_RELOAD_INTERVAL
from .site import is_web_config

DEMO_DIR = Path(__file__).resolve().parent / "demo"

#: IIS's default request filtering (applicationHost.config): these segments are never served.
HIDDEN_SEGMENTS = frozenset(s.lower() for s in (
    "web.config", "bin", "App_code", "App_GlobalResources", "App_LocalResources",
    "App_WebReferences", "App_Data", "App_Browsers"))
#: IIS's default denied file extensions (source, project and configuration files).
DENIED_EXTENSIONS = frozenset((
    ".asax", ".ascx", ".master", ".skin", ".browser", ".sitemap", ".config", ".cs", ".csproj",
    ".vb", ".vbproj", ".webinfo", ".licx", ".resx", ".resources", ".mdb", ".vjsproj", ".java",
    ".jsl", ".ldb", ".dsdgm", ".ssdgm", ".lsad", ".ssmap", ".cd", ".dsprototype",
    ".lsaprototype", ".sdm", ".sdmdocument", ".mdf", ".ldf", ".ad", ".dd", ".ldd", ".sd",
    ".adprototype", ".lddprototype", ".exclude", ".refresh", ".compiled", ".msgx", ".vsdisco",
    ".rules"))
#: IIS's default documents, in IIS's order (only the static ones can be served here).
DEFAULT_DOCUMENTS = ("default.htm", "default.asp", "index.htm", "index.html", "iisstart.htm",
                     "default.aspx")
#: Types IIS knows that Python's table may not.
_EXTRA_TYPES = {".json": "application/json", ".webmanifest": "application/manifest+json",
                ".wasm": "application/wasm", ".woff2": "font/woff2", ".mjs": "text/javascript"}


def _plain(start_response: StartResponse, status: str, body: bytes,
           extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *extra])
    return [body]


class StaticSite:
    """Serve a directory's files the way IIS's static file handler does, safely.

    - ``GET``/``HEAD`` serve files (with ETag, Last-Modified, conditional and range requests);
      ``OPTIONS`` gets 200 with ``Allow`` (IIS's OPTIONSVerbHandler; a preflight the CORS
      middleware answers never gets here); other methods get 405;
    - a directory without a trailing slash is redirected to one (301); with it, the first
      default document is served, or 403 (IIS's 403.14: directory listing is off);
    - web.config is never served, nor anything IIS's default request filtering hides
      (``bin``, ``App_Data`` ..., ``.config``, ``.cs`` ...): 404 as on IIS;
    - a file type IIS would not know is 404 (IIS's 404.3);
    - names are matched case-insensitively when the exact name does not exist (a site copied
      from Windows keeps working); ``.``/``..`` segments, backslashes and NUL are 404, and so is
      anything whose real path (symlinks resolved) is outside the root.

    :param root: the site's directory.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":
            return _plain(start_response, "200 OK", b"", [("Allow", "OPTIONS, GET, HEAD")])
        if method not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", b"405 Method Not Allowed\n",
                          [("Allow", "OPTIONS, GET, HEAD")])
        raw = environ.get("PATH_INFO", "") or "/"
        target = self.resolve(raw)
        if target is None:
            return _plain(start_response, "404 Not Found", b"404 Not Found\n")
        if os.path.isdir(target):
            if not raw.endswith("/"):
                location = quote((environ.get("SCRIPT_NAME", "") + raw + "/")
                                 .encode("latin-1"), safe="/")
                return _plain(start_response, "301 Moved Permanently", b"",
                              [("Location", location)])
            document = self._default_document(target)
            if document is None:
                return _plain(start_response, "403 Forbidden",
                              b"403 Forbidden: directory listing is denied\n")
            target = document
        mimetype = _mimetype(target)
        if mimetype is None:
            return _plain(start_response, "404 Not Found", b"404 Not Found\n")
        response = send_file(target, environ, mimetype=mimetype, conditional=True)
        return response(environ, start_response)

    def resolve(self, path_info: str) -> str | None:
        """The real path to serve for a WSGI PATH_INFO, or None (404)."""
        try:
            path = path_info.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        segments = [s for s in path.split("/") if s]
        current = self.root
        for segment in segments:
            if (segment in (".", "..") or "\\" in segment or "\x00" in segment
                    or segment.lower() in HIDDEN_SEGMENTS or is_web_config(segment)):
                return None
            found = _child(current, segment)
            if found is None:
                return None
            current = found
        if segments and os.path.splitext(segments[-1])[1].lower() in DENIED_EXTENSIONS:
            return None
        real = os.path.realpath(current)
        if real != self.root and not real.startswith(self.root.rstrip(os.sep) + os.sep):
            return None  # a symlink out of the root
        return real

    @staticmethod
    def _default_document(directory: str) -> str | None:
        try:
            names = {name.lower(): name for name in os.listdir(directory)}
        except OSError:
            return None
        for candidate in DEFAULT_DOCUMENTS:
            name = names.get(candidate)
            if name is not None and os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name)
        return None


def _child(directory: str, name: str) -> str | None:
    exact = os.path.join(directory, name)
    if os.path.lexists(exact):
        return exact
    try:
        for candidate in os.listdir(directory):
            if candidate.lower() == name.lower():
                return os.path.join(directory, candidate)
    except OSError:
        return None
    return None


def _mimetype(path: str) -> str | None:
    extension = os.path.splitext(path)[1].lower()
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    return mimetypes.guess_type(path, strict=False)[0]


#: Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded.
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"))


class ReverseProxy:
    """Forward every request to a backend over HTTP (a minimal reverse proxy for ``--proxy``).

    The path and query are sent as received; ``Host`` is the backend's, the client's goes in
    ``X-Forwarded-Host`` with ``X-Forwarded-For``/``X-Forwarded-Proto``; hop-by-hop headers are
    dropped both ways; the body streams.  An unreachable backend is 502.

    :param target: the backend's base URL, ``http://host:port`` (its path is a prefix).
    :param timeout: seconds to wait for the backend.
    """

    def __init__(self, target: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the proxy target must be an http(s) URL, not {target!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.netloc = parts.netloc.rpartition("@")[2]
        self.timeout = timeout

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"),
                     safe="/!$&'()*+,;=:@~-._")
        url = self.prefix + (path or "/")
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        headers = [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
                   if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_CONNECTION")
                   and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP]
        headers += [("Host", self.netloc),
                    ("X-Forwarded-Host", environ.get("HTTP_HOST", "")),
                    ("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")),
                    ("X-Forwarded-For", environ.get("REMOTE_ADDR", ""))]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        length = environ.get("CONTENT_LENGTH") or ""
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        connection_class = (client.HTTPSConnection if self.scheme == "https"
                            else client.HTTPConnection)
        connection = connection_class(self.host, self.port, timeout=self.timeout)
        try:
            connection.putrequest(environ.get("REQUEST_METHOD", "GET"), url, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            if body or environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
        except OSError:
            connection.close()
            return _plain(start_response, "502 Bad Gateway",
                          b"502 Bad Gateway: the backend did not answer\n")
        start_response(f"{response.status} {response.reason}",
                       [(k, v) for k, v in response.getheaders()
                        if k.lower() not in _HOP_BY_HOP])
        return _stream(response, connection)


def _stream(response: client.HTTPResponse, connection: client.HTTPConnection) -> Iterator[bytes]:
    try:
        while chunk := response.read(65536):
            yield chunk
    finally:
        connection.close()


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


def try_commands(base: str) -> list[str]:
    """What to try against the demo (printed by ``iiscors serve`` with no arguments)."""
    good, evil = "https://app.example.com", "https://evil.example"
    return [
        f"curl -i -X OPTIONS {base}/api/items -H 'Origin: {good}' "
        "-H 'Access-Control-Request-Method: POST' "
        "-H 'Access-Control-Request-Headers: content-type'   # preflight: 204 + CORS headers",
        f"curl -i {base}/api/items -H 'Origin: {good}'   # actual request: ACAO, Expose-Headers",
        f"curl -i {base}/api/items -H 'Origin: {evil}'   # unlisted + failUnlistedOrigins: 403",
        f"curl -i {base}/api/items -H 'Origin: http://app.example.com'   # http://* denied: 403",
        f"curl -i {base}/api/me -H 'Origin: {good}'   # 401 from the auth layer, with CORS headers",
        f"curl -i {base}/public/hello -H 'Origin: https://anyone.example'   # <location> adds *",
        f"iiscors validate {DEMO_DIR / 'web.config'}   # the configuration, checked",
    ]


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
        from .demo.app import demo_app
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


def is_loopback(host: str) -> bool:
    """Is ``host`` a loopback name or address (the development server's safe default)?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--root", type=click.Path(exists=True, file_okay=False),
              help="Serve this site directory: its files, and its web.config and every "
              "sub-directory's as the configuration.")
@click.option("--app", "app", metavar="MODULE:ATTRIBUTE", help="The WSGI application to wrap.")
@click.option("--proxy", metavar="URL", help="Forward requests to this backend (http://…).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port (0: any free port).")
@click.option("--reload/--no-reload", default=True, show_default=True,
              help="Apply web.config edits without a restart, as IIS does.")
@click.option("--reload-interval", type=click.FloatRange(min=0), default=DEFAULT_RELOAD_INTERVAL,
              show_default=True, help="Seconds between two checks of the files.")
@click.option("--strict", is_flag=True, help="Answer 500 while an edited web.config is "
              "unusable (IIS's 500.19), instead of keeping the last good one.")
@click.option("--exempt-same-origin", is_flag=True,
              help="Pass requests whose Origin is the server's own to the app (contract B13).")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each web.config.")
@click.option("--playground", is_flag=True,
              help="Also serve the playground page on the next port (see `iiscors playground`).")
@click.pass_context
def serve(ctx: click.Context, config: str | None, root: str | None, app: str | None,
          proxy: str | None, host: str, port: int, reload: bool, reload_interval: float,
          strict: bool, exempt_same_origin: bool, max_bytes: int, playground: bool) -> None:
    """Serve with IIS CORS behaviour (Werkzeug's development server).

    \b
      iiscors serve web.config --app myproject.wsgi:application
      iiscors serve --root ./wwwroot
      iiscors serve web.config --proxy http://127.0.0.1:5000
      iiscors serve                      # the bundled demo; prints what to try
      iiscors serve --playground         # the demo API and a page to try it from a browser

    CONFIG alone serves the demo API behind your web.config.
    """
    from werkzeug.serving import make_server

    if playground:
        if root or proxy:
            raise click.UsageError("--playground goes with CONFIG and --app only")
        from .playground import playground as playground_command

        ctx.invoke(playground_command, config=config, app=app, host=host, api_port=port,
                   page_port=port + 1 if port else 0)
        return
    try:
        middleware, description = build(config, root, app, proxy, max_bytes=max_bytes,
                                         reload=reload, reload_interval=reload_interval,
                                         strict=strict, exempt_same_origin=exempt_same_origin)
    except ConfigError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    for diagnostic in middleware.config.diagnostics:
        click.echo(str(diagnostic), err=True)
    server = make_server(host, port, middleware, threaded=True)
    base = f"http://{host if ':' not in host else f'[{host}]'}:{server.server_port}"
    click.echo(f"iiscors: serving {description}")
    click.echo(f"iiscors: listening on {base}/ (Ctrl+C to stop)")
    click.echo(f"iiscors: web.config reload {'on' if middleware.reload else 'off'}"
               + (", strict" if strict else ""))
    if not is_loopback(host):
        click.echo("iiscors: warning: this is a development server; for production see "
                   "docs/serving.md (gunicorn, waitress, uvicorn)", err=True)
    if config is None and root is None and app is None and proxy is None:
        click.echo("\nTry:")
        for command in try_commands(base):
            click.echo(f"  {command}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
