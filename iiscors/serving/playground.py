"""``iiscors playground``: send a request from your own browser and compare with ``explain``.

Two loopback servers, two origins:

- the **API** (the bundled demo API, or ``--app module:attr``) wrapped in
  :class:`~iiscors.CorsMiddleware` with a web.config (default: the demo configuration);
- the **page** on a second port, so its ``fetch()`` calls to the API are cross-origin.

This module starts them (:class:`Playground`, threads on Werkzeug's development server) and is
the command (:func:`playground`); the applications themselves are in
:mod:`iiscors.serving.playground_apps`, the explain endpoint in
:mod:`iiscors.serving.playground_explain`, and the browser's model in
:mod:`iiscors.policy.fetch`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from iiscors.config.diagnostics import ConfigError
from iiscors.serving.hostguard import host_name
from iiscors.serving.network import is_loopback
from iiscors.serving.playground_apps import PlaygroundPage, RecordingApi
from iiscors.wsgi import CorsMiddleware

# -- running it ------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log (for tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def answered_names(host: str, allowed: Iterable[str]) -> tuple[str, ...]:
    """The names besides loopback both servers answer (:mod:`iiscors.serving.hostguard`):
    ``allowed``, and the listen address ``host`` when it names one interface (the user chose to
    browse by it), never a wildcard address such as 0.0.0.0."""
    names = list(allowed)
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if not wildcard:
        with contextlib.suppress(ValueError):  # not a name a browser could send: none to add
            names.append(host_name(host))
    return tuple(names)


def _check_hosts(ctx: click.Context, param: click.Parameter,
                 value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(host_name(name) for name in value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def _base(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class Playground:
    """The two servers, started in threads (the command runs them; tests may too).

    :param middleware: the API: an application wrapped in :class:`CorsMiddleware`.
    :param host: the interface both servers listen on.
    :param api_port: the API's port (0: any free port).
    :param page_port: the page's port (0: any free port).
    :param allowed_hosts: names besides loopback (and ``host``, when it names one interface)
        that requests may be addressed to; any other Host gets 421 (DNS rebinding,
        :mod:`iiscors.serving.hostguard`).
    :raises ValueError: an allowed host is not a host name or an IP address.
    """

    def __init__(self, middleware: CorsMiddleware, host: str = "127.0.0.1",
                 api_port: int = 0, page_port: int = 0, *, quiet: bool = False,
                 allowed_hosts: Iterable[str] = ()) -> None:
        handler: type[WSGIRequestHandler] = _QuietHandler if quiet else WSGIRequestHandler
        names = answered_names(host, allowed_hosts)
        self.api = RecordingApi(middleware, names)
        self.api_server = make_server(host, api_port, self.api, threaded=True,
                                      request_handler=handler)
        try:
            self.api_url = _base(host, self.api_server.server_port)
            self.page = PlaygroundPage(self.api, self.api_url, names)
            self.page_server = make_server(host, page_port, self.page, threaded=True,
                                           request_handler=handler)
        except BaseException:
            self.api_server.server_close()
            raise
        self.page_url = _base(host, self.page_server.server_port) + "/"
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for server in (self.api_server, self.page_server):
            thread = threading.Thread(target=server.serve_forever, daemon=True,
                                      name="iiscors-playground")
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        for server in (self.api_server, self.page_server):
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


#: The configuration used when none is given: lets the page's http origin in, refuses it on
#: /api/me, so both outcomes can be tried at once.
PLAYGROUND_CONFIG = Path(__file__).resolve().parent / "demo" / "playground.config"


def build_api(config: str | None, app: str | None) -> tuple[CorsMiddleware, str]:
    """The API the playground serves: the demo (or ``app``) behind ``config`` (or the
    playground's own configuration)."""
    from iiscors.serving.app import build

    return build(config or str(PLAYGROUND_CONFIG), None, app, None)


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--app", "app", metavar="MODULE:ATTRIBUTE",
              help="The WSGI application to wrap [default: the demo API].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface both servers listen on (loopback unless you mean otherwise).")
@click.option("--api-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The API's port (0: any free port).")
@click.option("--page-port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="The playground page's port (0: any free port).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME", callback=_check_hosts,
              help="Also answer requests addressed to NAME (repeatable). Otherwise only "
                   "localhost, 127.x.x.x, [::1] and --host are answered, against DNS rebinding.")
def playground(config: str | None, app: str | None, host: str, api_port: int,
               page_port: int, allow_hosts: tuple[str, ...] = ()) -> None:
    """Send requests to the API from your own browser and see, side by side, what the
    browser concluded and what `iiscors explain` says (rule, line, reason).

    \b
      iiscors playground                         # the demo API and configuration
      iiscors playground web.config --app myproject.wsgi:application
    """
    try:
        middleware, description = build_api(config, app)
    except ConfigError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    for diagnostic in middleware.config.diagnostics:
        click.echo(str(diagnostic), err=True)
    try:
        running = Playground(middleware, host, api_port, page_port, allowed_hosts=allow_hosts)
    except OSError as exc:
        click.echo(f"iiscors: cannot listen on {host}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    page_origin = running.page_url.rstrip("/")
    click.echo(f"iiscors: API:        {running.api_url}/  ({description})")
    click.echo(f"iiscors: playground: {running.page_url}  (open it in your browser; its "
               f"origin is {page_origin})")
    if config is None:
        click.echo(f"iiscors: using {PLAYGROUND_CONFIG}: {page_origin} may call /api/items "
                   "(allowed) and is refused on /api/me (403). Pass your own web.config to try "
                   "it instead.")
    if not is_loopback(host):
        click.echo("iiscors: warning: listening beyond loopback; this is a development "
                   f"server. It answers requests addressed to {host} or a loopback name; give "
                   "other names with --allow-host", err=True)
    sys.stdout.flush()
    running.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
