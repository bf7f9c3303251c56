"""``iiscors serve``: IIS CORS behaviour in front of an app, a static site, or any backend.

Four modes, one middleware (:class:`iiscors.CorsMiddleware`, hot reload on by default):

- ``iiscors serve web.config --app package.module:app`` wraps a WSGI application, or an ASGI
  one (Starlette, FastAPI: served by uvicorn with :class:`iiscors.asgi.CorsMiddleware`);
- ``iiscors serve --root DIR`` serves DIR's files as IIS serves static content, with
  ``DIR/web.config`` and every sub-directory's applied below it (contract A9);
- ``iiscors serve web.config --proxy http://127.0.0.1:5000`` forwards every request to a backend
  in any language, CORS decided in front of it;
- ``iiscors serve`` alone serves the bundled demo configuration and API and prints what to try.

It runs on waitress (:mod:`iiscors.serving.server`), a production WSGI server, with a graceful
stop on SIGTERM and Ctrl+C and an access log that says what CORS did with each request
(:mod:`iiscors.serving.accesslog`); ``--dev`` runs Werkzeug's development server instead.  The
same applications run under gunicorn or waitress-serve through
:func:`iiscors.serving.app.make_app` (docs/serving.md).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import click

from iiscors.config.diagnostics import ConfigError
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.rules import application_paths
from iiscors.config.server import ApplicationHost
from iiscors.reload import DEFAULT_RELOAD_INTERVAL, ReloadingPolicy
from iiscors.serving.accesslog import AccessLog, LogFormat, open_access_log
from iiscors.serving.app import DEMO_DIR, build, build_asgi, import_target, is_asgi_target
from iiscors.serving.network import is_loopback
from iiscors.serving.server import DEFAULT_GRACEFUL_TIMEOUT, DEFAULT_THREADS


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


def exposure_warning(host: str, dev: bool) -> str | None:
    """What to say when listening beyond the loopback (None on the loopback)."""
    if is_loopback(host):
        return None
    if dev:
        return (f"iiscors: warning: Werkzeug's development server is listening on {host}, "
                "reachable from other machines; drop --dev for production (docs/serving.md)")
    return (f"iiscors: warning: listening on {host}, reachable from other machines, in plain "
            "HTTP: put a TLS-terminating proxy in front (docs/serving.md)")


class Prepared(NamedTuple):
    """What to serve: the application (access log included), the middleware, a description."""

    app: Any
    middleware: ReloadingPolicy
    description: str
    asgi: bool


def _prepare(config: str | None, root: str | None, app: str | None, proxy: str | None,
             log: AccessLog | None, dev: bool, threads: int | None,
             settings: dict[str, Any]) -> Prepared:
    """Build the application; refuse, with a clear message, what cannot be served."""
    from iiscors.serving.logged import LoggedASGI, LoggedWSGI
    from iiscors.serving.pathguard import PathGuard

    target = import_target(app) if app is not None and proxy is None else None
    if target is None or app is None or not is_asgi_target(target, app):
        middleware, description = build(config, root, app, proxy, **settings)
        # The proxy's path guard runs before the CORS decision, as IIS's request filtering
        # does, so that the path judged is the path forwarded (docs/serving.md, --proxy).
        guarded = proxy is not None
        served: Any = (LoggedWSGI(middleware, log, guard=guarded) if log is not None
                       else PathGuard(middleware) if guarded else middleware)
        return Prepared(served, middleware, description, asgi=False)
    if dev or threads is not None:
        raise click.UsageError(f"{app} is an ASGI application, served by uvicorn: --dev and "
                               "--threads are for WSGI applications")
    from iiscors.serving.asgi_server import INSTALL_HINT, uvicorn_missing

    if uvicorn_missing():
        raise click.ClickException(f"{app} is an ASGI application; {INSTALL_HINT}")
    asgi, description = build_asgi(config, root, target, app, **settings)
    return Prepared(asgi if log is None else LoggedASGI(asgi, log), asgi, description, asgi=True)


def _announce(prepared: Prepared, host: str, port: int, server: str, strict: bool,
              demo: bool) -> None:
    """The startup lines; ``listening on`` says the server accepts connections now."""
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    click.echo(f"iiscors: serving {prepared.description}")
    click.echo(f"iiscors: listening on {base}/ (Ctrl+C to stop)")
    click.echo(f"iiscors: web.config reload {'on' if prepared.middleware.reload else 'off'}"
               + (", strict" if strict else ""))
    click.echo(f"iiscors: server: {server}")
    if demo:
        click.echo("\nTry:")
        for command in try_commands(base):
            click.echo(f"  {command}")
    sys.stdout.flush()


def _open_log(target: str | None, fmt: str) -> AccessLog:
    try:
        return open_access_log(target, fmt)
    except OSError as exc:
        raise click.BadParameter(f"cannot open {target}: {exc.strerror or exc}",
                                 param_hint="--access-log") from exc


def _bind(host: str, port: int) -> socket.socket:
    from iiscors.serving.server import bind

    try:
        return bind(host, port)
    except OSError as exc:
        click.echo(f"iiscors: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)


def _run(prepared: Prepared, host: str, port: int, dev: bool, threads: int,
         graceful_timeout: float, announce: Callable[[int, str], None]) -> int:
    """Serve until stopped; the number of requests cut off by the stop."""
    from iiscors.serving import server as servers

    if dev:
        servers.serve_dev(prepared.app, host, port, lambda bound: announce(
            bound, "Werkzeug's development server (--dev): not for production; stops at once"))
        return 0
    stop_line = f"SIGTERM or Ctrl+C stops it gracefully (up to {graceful_timeout:g} s)"
    sock = _bind(host, port)
    if prepared.asgi:
        from iiscors.serving.asgi_server import serve_uvicorn

        return serve_uvicorn(prepared.app, sock, graceful_timeout=graceful_timeout,
                             on_ready=lambda bound: announce(bound, f"uvicorn; {stop_line}"),
                             on_stop=lambda: _stopping(None, graceful_timeout))
    waitress = servers.GracefulWaitress(prepared.app, sock, threads=threads)
    stop = servers.Stop()
    with servers.stop_signals(stop):
        announce(waitress.port, f"waitress, {threads} threads; {stop_line}")
        waitress.serve(stop)
        waitress.stop_listening()
        _stopping(waitress.in_flight(), graceful_timeout)
        return waitress.drain(stop, graceful_timeout)


def _site_options(applications: tuple[str, ...], apphost: str | None, site: str | None,
                  maps: tuple[str, ...]) -> ApplicationHost | None:
    """``--application`` (contract E3) and ``--apphost --site --map`` (E4), checked: a value
    IIS would refuse, or options that do not go together, are usage errors."""
    try:
        application_paths(applications)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--application") from None
    try:
        return ApplicationHost.from_options(apphost, site, maps)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _stopping(in_flight: int | None, timeout: float) -> None:
    count = "the requests" if in_flight is None else f"{in_flight} request(s)"
    click.echo(f"iiscors: stopping: no new connections; finishing {count} in flight (up to "
               f"{timeout:g} s; a second Ctrl+C stops at once)")
    sys.stdout.flush()


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--root", type=click.Path(exists=True, file_okay=False),
              help="Serve this site directory: its files, and its web.config and every "
              "sub-directory's as the configuration.")
@click.option("--app", "app", metavar="MODULE:ATTRIBUTE",
              help="The WSGI or ASGI application to wrap (ASGI is served by uvicorn).")
@click.option("--proxy", metavar="URL", help="Forward requests to this backend (http://…).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port (0: any free port).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help=f"waitress worker threads: requests served at once  [default: "
              f"{DEFAULT_THREADS}]")
@click.option("--graceful-timeout", type=click.FloatRange(min=0),
              default=DEFAULT_GRACEFUL_TIMEOUT, show_default=True,
              help="On SIGTERM or Ctrl+C, seconds to let requests in flight finish.")
@click.option("--dev", is_flag=True, help="Run Werkzeug's development server instead of "
              "waitress (no code reloader; not for production).")
@click.option("--access-log", metavar="-|FILE", default=None,
              help="Where the access log goes: - for standard output, or a file (appended).  "
              "[default: standard error]")
@click.option("--no-access-log", is_flag=True, help="No access log.")
@click.option("--access-log-format", type=click.Choice([f.value for f in LogFormat]),
              default=LogFormat.TEXT.value, show_default=True,
              help="One text line, or one JSON object (JSON Lines), per request.")
@click.option("--reload/--no-reload", default=True, show_default=True,
              help="Apply web.config edits without a restart, as IIS does.")
@click.option("--reload-interval", type=click.FloatRange(min=0), default=DEFAULT_RELOAD_INTERVAL,
              show_default=True, help="Seconds between two checks of the files.")
@click.option("--strict", is_flag=True, help="Answer 500 while an edited web.config is "
              "unusable (IIS's 500.19), instead of keeping the last good one.")
@click.option("--apphost", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="A server's applicationHost.config: CORS from the site "
              "--site names, with its web.config files (without --root, --app or --proxy: "
              "its root directory's files are served).")
@click.option("--site", default=None, metavar="NAME", help="The site of --apphost.")
@click.option("--map", "maps", multiple=True, metavar="WINDOWS=LOCAL",
              help="Where a physical path of the site is here (repeatable), such as "
              "'C:\\inetpub\\wwwroot=./wwwroot'.")
@click.option("--application", "applications", multiple=True, metavar="PATH",
              help="A child application of the site, as a URL path (repeatable): "
              "<location inheritInChildApplications=\"false\"> stops there.")
@click.option("--all-or-nothing", is_flag=True,
              help="Refuse to start when any web.config has an error, instead of answering "
              "500 under the broken <location> or sub-directory only, as IIS does.")
@click.option("--exempt-same-origin", is_flag=True,
              help="Pass requests whose Origin is the server's own to the app (contract B13).")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each web.config.")
@click.option("--playground", is_flag=True,
              help="Also serve the playground page on the next port (see `iiscors playground`).")
@click.pass_context
def serve(ctx: click.Context, config: str | None, root: str | None, app: str | None,
          proxy: str | None, host: str, port: int, threads: int | None, graceful_timeout: float,
          dev: bool, access_log: str | None, no_access_log: bool, access_log_format: str,
          reload: bool, reload_interval: float, strict: bool, apphost: str | None,
          site: str | None, maps: tuple[str, ...], applications: tuple[str, ...],
          all_or_nothing: bool, exempt_same_origin: bool, max_bytes: int,
          playground: bool) -> None:
    """Serve with IIS CORS behaviour (on waitress; --dev: Werkzeug's development server).

    \b
      iiscors serve web.config --app myproject.wsgi:application
      iiscors serve web.config --app myproject.asgi:app    # ASGI: served by uvicorn
      iiscors serve --root ./wwwroot
      iiscors serve web.config --proxy http://127.0.0.1:5000
      iiscors serve                      # the bundled demo; prints what to try
      iiscors serve --playground         # the demo API and a page to try it from a browser

    CONFIG alone serves the demo API behind your web.config.
    """
    if playground:
        if root or proxy or apphost:
            raise click.UsageError("--playground goes with CONFIG and --app only")
        from iiscors.serving.playground import playground as playground_command

        ctx.invoke(playground_command, config=config, app=app, host=host, api_port=port,
                   page_port=port + 1 if port else 0)
        return
    if dev and threads is not None:
        raise click.UsageError("--threads sets waitress's threads; --dev runs Werkzeug's server")
    log = None if no_access_log else _open_log(access_log, access_log_format)
    settings = {"max_bytes": max_bytes, "reload": reload, "reload_interval": reload_interval,
                "strict": strict, "exempt_same_origin": exempt_same_origin,
                "all_or_nothing": all_or_nothing, "applications": applications}
    settings["apphost"] = _site_options(applications, apphost, site, maps)
    try:
        prepared = _prepare(config, root, app, proxy, log, dev, threads, settings)
    except ConfigError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    for diagnostic in prepared.middleware.config.diagnostics:
        click.echo(str(diagnostic), err=True)
    warning = exposure_warning(host, dev)
    if warning is not None:
        click.echo(warning, err=True)
    demo = (config is None and root is None and app is None and proxy is None
            and apphost is None)

    def announce(bound: int, server: str) -> None:
        _announce(prepared, host, bound, server, strict, demo)

    cut_off = _run(prepared, host, port, dev, threads or DEFAULT_THREADS, graceful_timeout,
                   announce)
    if log is not None:
        log.close()
    if cut_off:
        click.echo(f"iiscors: stopped; {cut_off} request(s) cut off", err=True)
        sys.exit(1)
    click.echo("iiscors: stopped")
