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

import sys

import click

from iiscors.config.diagnostics import ConfigError
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.reload import DEFAULT_RELOAD_INTERVAL
from iiscors.serving.app import DEMO_DIR, build
from iiscors.serving.network import is_loopback

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
        from iiscors.serving.playground import playground as playground_command

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
