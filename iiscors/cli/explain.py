"""``iiscors explain``: what the middleware does with one request, and why.

It builds a :class:`~iiscors.policy.core.CorsRequest` from the options, asks
:meth:`iiscors.config.load.Config.evaluate` (or, with ``--exempt-same-origin``, the policy that
option compiles) for the :class:`~iiscors.policy.core.Decision`, and renders that very Decision:
there is no second evaluator here, so what explain prints is what the middleware acts on.

Exit codes: 0 rendered (and, with ``--expect``, the outcome is the expected one); 1 the outcome
differs from ``--expect``; 2 usage problems, a configuration that cannot be loaded, or a crash.

Everything printed echoes untrusted text (the request values given, the file's rule origins and
header values), so each line goes out through :mod:`iiscors.cli.escape`, and the file is opened
without blocking on a FIFO (:func:`iiscors.cli.files.read_regular`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from iiscors.cli.escape import json_document, line
from iiscors.cli.files import read_regular, unreadable
from iiscors.cli.guard import EXIT_PROBLEMS, EXIT_USAGE, GuardedCommand
from iiscors.cli.options import apphost_options, application_host, application_option
from iiscors.cli.report import diagnostic_json
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.load import Config, SourceFile, analyse
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.rules import Applications, application_paths
from iiscors.config.scope import applied
from iiscors.config.server import ApplicationHost, analyse_server
from iiscors.config.site import analyse_site
from iiscors.policy.core import CorsRequest, Outcome
from iiscors.policy.explanation import decision_json, render_text
from iiscors.policy.model import Location


@click.command(cls=GuardedCommand)
@click.argument("config", type=click.Path(), required=False)
@click.option("--origin", required=True, help="The Origin header the browser sends.")
@click.option("--method", default=None,
              help="The request method [default: OPTIONS with --request-method, else GET].")
@click.option("--request-method", default=None,
              help="Access-Control-Request-Method (makes an OPTIONS request a preflight).")
@click.option("--request-headers", default=None, help="Access-Control-Request-Headers.")
@click.option("--path", default="/", show_default=True,
              help="The request path (WSGI PATH_INFO), for <location path> scoping.")
@click.option("--exempt-same-origin", is_flag=True,
              help="Use the middleware's exempt_same_origin option (with --host).")
@click.option("--host", default=None, help="The request's Host header.")
@click.option("--scheme", default="http", show_default=True, type=click.Choice(["http", "https"]),
              help="The request's scheme.")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice(["text", "json"]))
@click.option("--expect", type=click.Choice([o.value for o in Outcome]), default=None,
              help="Exit 1 unless the outcome is this one (a CI assertion).")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for the file.")
@application_option
@apphost_options
def explain(config: str | None, origin: str, method: str | None, request_method: str | None,
            request_headers: str | None, path: str, exempt_same_origin: bool,
            host: str | None, scheme: str, format_name: str, expect: str | None,
            max_bytes: int, applications: tuple[str, ...], apphost: str | None,
            site: str | None, maps: tuple[str, ...]) -> None:
    """Show what the middleware does with one request to CONFIG, and why.

    CONFIG is a web.config, or a site's directory: its web.config and every sub-directory's,
    loaded as the middleware and serve --root load them (contract E1); or, instead of CONFIG,
    --apphost FILE --site NAME: a site of a server as IIS reads it (contract E4).

    Exit 0 when rendered (and the outcome is --expect's), 1 when the outcome differs from
    --expect, 2 on usage problems or a configuration that cannot be loaded.
    """
    server = application_host(apphost, site, maps)
    if (config is None) == (server is None):
        raise click.UsageError("give CONFIG, or --apphost FILE --site NAME (not both)")
    loaded = (_load_server(server, max_bytes, application_paths(applications))
              if server is not None
              else _load(str(config), max_bytes, application_paths(applications)))
    if method is None:
        method = "OPTIONS" if request_method else "GET"
    request = CorsRequest(method=method, origin=origin, request_method=request_method,
                          request_headers=request_headers, path=path, host=host, scheme=scheme)
    decision = loaded.decide(request, exempt_same_origin=exempt_same_origin)
    scope = loaded.scope_of(path)
    levels = contributing(loaded, scope)
    if format_name == "json":
        document = decision_json(decision, request, scope)
        document["levels"] = [{"section": name, "location": place, "file": where.file,
                               "line": where.line, "column": where.column}
                              for name, place, where in levels]
        document["warnings"] = [diagnostic_json(d) for d in loaded.diagnostics
                                if not d.is_error]
        # Contract E6: the errors of the configuration's unusable scopes (it loads, they 500).
        document["errors"] = [diagnostic_json(d) for d in loaded.errors]
        document["expected"] = expect
        click.echo(json_document(document))
    else:
        for text in render_text(decision, request, scope):
            click.echo(line(text))
            if text.startswith("scope:"):
                _echo_block("levels:", [level_text(*level) for level in levels])
                _echo_block("errors:", [str(d) for d in breaking(loaded, scope)])
        for diagnostic in loaded.diagnostics:
            click.echo(line(str(diagnostic)), err=True)
    if expect is not None and decision.outcome.value != expect:
        click.echo(f"expected {expect}, got {decision.outcome}", err=True)
        sys.exit(EXIT_PROBLEMS)


#: One contributing section: its name, the ``<location path>`` that holds it (None for a file's
#: own ``system.webServer``), and where it is written.
Contribution = tuple[str, str | None, Location]


def contributing(config: Config, scope: str) -> list[Contribution]:
    """Every section that contributed to the effective configuration of ``scope``, in the
    order IIS merges them (contract A9, E1): each web.config of the site down to the path's
    directory, and each ``<location>`` covering it."""
    path = tuple(segment for segment in scope.split("/") if segment)
    found: list[Contribution] = []
    for level in applied(path, config.levels, config.applications):
        place = level.display_path if level.location is not None else None
        for name, section in (("cors", level.cors), ("customHeaders", level.custom_headers),
                              ("modules", level.modules)):
            if section is not None:
                found.append((name, place, section.location))
    return found


def breaking(config: Config, scope: str) -> list[Diagnostic]:
    """The errors that make ``scope`` unusable (contract E6): those of every broken path at or
    above it."""
    path = tuple(segment for segment in scope.split("/") if segment)
    return [d for broken, found in config.broken.items() if path[:len(broken)] == broken
            for d in found]


def _echo_block(label: str, texts: Sequence[str]) -> None:
    """``label`` and its first text on one line, the others aligned below (the text format)."""
    for number, text in enumerate(texts):
        click.echo(line((f"{label:<10}" if number == 0 else " " * 10) + text))


def level_text(name: str, place: str | None, where: Location) -> str:
    """One contributing section as explain's text shows it."""
    inside = f' in <location path="{place}">' if place is not None else ""
    return f"<{name}>{inside} at {where}"


def _load(config: str, max_bytes: int, applications: Applications = ()) -> Config:
    """The configuration as the middleware loads it (contract E1; its unusable scopes marked,
    E6), or its diagnostics on standard error and exit 2 when its root level is unusable."""
    if os.path.isdir(config):
        loaded, diagnostics = analyse_site(config, max_bytes=max_bytes, all_or_nothing=False,
                                           applications=applications)[:2]
    else:
        try:
            # One byte past the limit, never more: the loader then reports E101 (contract A2).
            data = read_regular(config, max_bytes + 1)
        except OSError as exc:
            return _unusable(config, (unreadable(config, exc),))
        source = SourceFile(data, (), config, os.path.dirname(config) or os.curdir)
        loaded, diagnostics = analyse([source], max_bytes=max_bytes, all_or_nothing=False,
                                      applications=applications)
    if loaded is None:
        return _unusable(config, diagnostics)
    return loaded


def _load_server(server: ApplicationHost, max_bytes: int, applications: Applications) -> Config:
    """A site of a server, loaded as the middleware loads it (contract E4)."""
    analysis = analyse_server(server, max_bytes=max_bytes, all_or_nothing=False,
                              applications=applications)
    if analysis.config is None:
        return _unusable(server.description, analysis.diagnostics)
    return analysis.config


def _unusable(config: str, diagnostics: Sequence[Diagnostic]) -> NoReturn:
    # Contract A8: an unusable configuration has no behaviour to explain.
    for diagnostic in diagnostics:
        click.echo(line(str(diagnostic)), err=True)
    click.echo(line(f"{config}: the configuration cannot be loaded; nothing to explain."),
               err=True)
    sys.exit(EXIT_USAGE)
