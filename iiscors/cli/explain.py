"""``iiscors explain``: what the middleware does with one request, why, and what the browser
then concludes (contract F1).

It builds a :class:`~iiscors.policy.core.CorsRequest` from the options, asks
:meth:`iiscors.config.load.Config.decide` for the :class:`~iiscors.policy.core.Decision` (the
policy ``--exempt-same-origin`` compiles, when given) and renders that very Decision: there is
no second evaluator here, so what explain prints is what the middleware acts on.

Beside IIS's answer it gives the browser's verdict (:mod:`iiscors.policy.verdict`): the request
as the page makes it (``--method``, ``--header``, ``--content-type``, ``--credentials``), the
preflight a browser sends first when one is needed, IIS's answer to each, and the Fetch check
that fails.  ``--request-method`` and ``--request-headers`` describe a raw preflight: the page's
request is then read back from them.

Exit codes: 0 rendered (and the ``--expect`` / ``--expect-iis`` assertions hold); 1 an assertion
does not hold; 2 usage problems, a configuration that cannot be loaded, or a crash.

Everything printed echoes untrusted text (the request values given, the file's rule origins and
header values), so each line goes out through :mod:`iiscors.cli.escape`, and the file is opened
without blocking on a FIFO (:func:`iiscors.cli.files.read_regular`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

import click

from iiscors.cli.escape import json_document
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
from iiscors.config.text import line
from iiscors.policy.core import CorsRequest, Outcome
from iiscors.policy.explanation import (
    Exchange,
    decision_json,
    render_text,
    verdict_json,
    verdict_text,
)
from iiscors.policy.fetch import (
    CREDENTIALS_MODES,
    DEFAULT_CREDENTIALS,
    BrowserRequest,
    FetchTypeError,
    browser_request,
    is_header_name,
    is_sendable_header_value,
    normalize_header_value,
    request_from_preflight,
)
from iiscors.policy.model import Location
from iiscors.policy.verdict import (
    DEFAULT_APP_STATUS,
    Verdict,
    flow,
    is_same_origin,
    judge,
    refused,
)

#: What ``--expect`` compares: the browser's verdict.
BROWSER_VERDICTS = ("allowed", "blocked")


class Page(NamedTuple):
    """The request as the page makes it, from the options."""

    headers: list[tuple[str, str]]
    credentials: str
    app_status: int


def _header(name: str, value: str) -> tuple[str, str]:
    """A header the page's script sets, refused as ``new Headers()`` would refuse it."""
    name, value = name.strip(), normalize_header_value(value)
    if not is_header_name(name):
        raise click.BadParameter(f"{name!r} is not a header name (fetch() throws a TypeError)")
    if not is_sendable_header_value(value):
        raise click.BadParameter(f"the value of {name} has a character fetch() cannot send "
                                 "(NUL, CR, LF or beyond ISO-8859-1)")
    return name, value


def _parse_headers(_ctx: click.Context, _param: click.Parameter,
                   values: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--header NAME[: value]`` (the value is empty without ``:``)."""
    return [_header(*given.partition(":")[::2]) for given in values]


def _parse_content_type(_ctx: click.Context, _param: click.Parameter,
                        value: str | None) -> tuple[str, str] | None:
    """``--content-type T``: the header ``Content-Type: T``."""
    return None if value is None else _header("Content-Type", value)


def _check_expect(_ctx: click.Context, _param: click.Parameter,
                  value: str | None) -> str | None:
    """``--expect`` judges the browser; IIS's own words get a pointer to ``--expect-iis``."""
    if value is None or value in BROWSER_VERDICTS:
        return value
    hint = ""
    if value in {o.value for o in Outcome}:
        hint = (f"; --expect judges what the browser concludes, use --expect-iis {value} to "
                "assert IIS's answer alone")
    raise click.BadParameter(f"{value!r} is not one of allowed, blocked{hint}")


@click.command(cls=GuardedCommand)
@click.argument("config", type=click.Path(), required=False)
@click.option("--origin", required=True, help="The Origin header the browser sends.")
@click.option("--method", default=None,
              help="The request method (the page's fetch() method) [default: OPTIONS with "
                   "--request-method, else GET].")
@click.option("--request-method", default=None,
              help="Access-Control-Request-Method (makes an OPTIONS request a preflight).")
@click.option("--request-headers", default=None, help="Access-Control-Request-Headers.")
@click.option("--header", "page_headers", multiple=True, callback=_parse_headers,
              metavar="'NAME[: value]'",
              help="A header the page's script sets (repeatable); a preflight's "
                   "Access-Control-Request-Headers is then derived as the browser does.")
@click.option("--content-type", default=None, callback=_parse_content_type,
              help="The Content-Type the page's script sets (as --header 'Content-Type: T').")
@click.option("--credentials", type=click.Choice(CREDENTIALS_MODES),
              default=DEFAULT_CREDENTIALS, show_default=True,
              help="The page's fetch() credentials mode.")
@click.option("--app-status", type=click.IntRange(100, 599), default=DEFAULT_APP_STATUS,
              show_default=True,
              help="The status the app answers with when the middleware lets a request through.")
@click.option("--path", default="/", show_default=True,
              help="The request path (WSGI PATH_INFO), for <location path> scoping.")
@click.option("--exempt-same-origin", is_flag=True,
              help="Use the middleware's exempt_same_origin option (with --host).")
@click.option("--host", default=None, help="The request's Host header.")
@click.option("--scheme", default="http", show_default=True, type=click.Choice(["http", "https"]),
              help="The request's scheme.")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice(["text", "json"]))
@click.option("--expect", default=None, callback=_check_expect, metavar="[allowed|blocked]",
              help="Exit 1 unless the BROWSER lets the page read the response (allowed) or "
                   "refuses it (blocked), through preflight and actual request.")
@click.option("--expect-iis", type=click.Choice([o.value for o in Outcome]), default=None,
              help="Exit 1 unless IIS's answer to the request described is this one.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for the file.")
@application_option
@apphost_options
def explain(config: str | None, origin: str, method: str | None, request_method: str | None,
            request_headers: str | None, page_headers: list[tuple[str, str]],
            content_type: tuple[str, str] | None, credentials: str, app_status: int, path: str,
            exempt_same_origin: bool, host: str | None, scheme: str, format_name: str,
            expect: str | None, expect_iis: str | None, max_bytes: int,
            applications: tuple[str, ...], apphost: str | None, site: str | None,
            maps: tuple[str, ...]) -> None:
    """Show what the middleware does with one request to CONFIG, why, and whether a browser
    then lets the page read the response.

    CONFIG is a web.config, or a site's directory: its web.config and every sub-directory's,
    loaded as the middleware and serve --root load them (contract E1); or, instead of CONFIG,
    --apphost FILE --site NAME: a site of a server as IIS reads it (contract E4).

    Exit 0 when rendered (and --expect / --expect-iis hold), 1 when one does not hold, 2 on
    usage problems or a configuration that cannot be loaded.
    """
    if content_type is not None:
        page_headers = [*page_headers, content_type]
    if request_headers is not None and page_headers:
        raise click.UsageError("--request-headers describes a raw preflight; --header and "
                               "--content-type describe the page's request: give one or the "
                               "other")
    loaded = _load_target(config, apphost, site, maps, max_bytes, applications)
    if method is None:
        method = "OPTIONS" if request_method else "GET"
    page = Page(page_headers, credentials, app_status)
    plan, described = _page_request(method, request_method, request_headers, page.headers)
    request = CorsRequest(method=method, origin=origin, request_method=request_method,
                          request_headers=described, path=path, host=host, scheme=scheme)
    decision = loaded.decide(request, exempt_same_origin=exempt_same_origin)
    scope = loaded.scope_of(path)
    verdict, exchanges = _browser(loaded, plan, request, page, exempt_same_origin)
    levels = contributing(loaded, scope)
    if format_name == "json":
        document = decision_json(decision, request, scope)
        document["browser"] = verdict_json(verdict, _plan_or_none(plan), credentials,
                                           *exchanges, scope)
        document["levels"] = [{"section": name, "location": place, "file": where.file,
                               "line": where.line, "column": where.column}
                              for name, place, where in levels]
        document["warnings"] = [diagnostic_json(d) for d in loaded.diagnostics
                                if not d.is_error]
        # Contract E6: the errors of the configuration's unusable scopes (it loads, they 500).
        document["errors"] = [diagnostic_json(d) for d in loaded.errors]
        document.update(expected=expect, expected_iis=expect_iis)
        click.echo(json_document(document))
    else:
        for text in [*render_text(decision, request, scope),
                     *verdict_text(verdict, _plan_or_none(plan), credentials, *exchanges)]:
            click.echo(line(text))
            if text.startswith("scope:"):
                _echo_block("levels:", [level_text(*level) for level in levels])
                _echo_block("errors:", [str(d) for d in breaking(loaded, scope)])
        for diagnostic in loaded.diagnostics:
            click.echo(line(str(diagnostic)), err=True)
    _assert(expect, verdict, expect_iis, decision.outcome.value)


def _load_target(config: str | None, apphost: str | None, site: str | None,
                 maps: tuple[str, ...], max_bytes: int, applications: tuple[str, ...]) -> Config:
    """CONFIG (a web.config or a site's directory, contract E1), or the site of a server's
    applicationHost.config (--apphost FILE --site NAME, contract E4): one of them."""
    server = application_host(apphost, site, maps)
    if (config is None) == (server is None):
        raise click.UsageError("give CONFIG, or --apphost FILE --site NAME (not both)")
    if server is not None:
        return _load_server(server, max_bytes, application_paths(applications))
    return _load(str(config), max_bytes, application_paths(applications))


def _plan_or_none(plan: BrowserRequest | str) -> BrowserRequest | None:
    return plan if isinstance(plan, BrowserRequest) else None


def _page_request(method: str, request_method: str | None, request_headers: str | None,
                  page_headers: list[tuple[str, str]]) -> tuple[BrowserRequest | str,
                                                                str | None]:
    """The page's fetch() (or why fetch() refuses it), and the Access-Control-Request-Headers
    of the request described: derived from ``--header`` for a preflight, as the browser
    derives it (lower-cased, sorted, the CORS-unsafe names only)."""
    preflight = method == "OPTIONS" and bool(request_method)  # contract B3
    try:
        if preflight and request_method is not None and not page_headers:
            return request_from_preflight(request_method, request_headers), request_headers
        plan = browser_request(request_method if preflight and request_method else method,
                               page_headers)
    except FetchTypeError as exc:
        return str(exc), request_headers
    return plan, plan.preflight_headers if preflight else request_headers


def _browser(loaded: Config, plan: BrowserRequest | str, request: CorsRequest, page: Page,
             exempt_same_origin: bool) -> tuple[Verdict, tuple[Exchange | None,
                                                               Exchange | None]]:
    """The verdict on the page's fetch(), and IIS's answer to the preflight (when one is sent)
    and to the actual request."""
    if isinstance(plan, str):
        return refused(plan), (None, None)
    assert request.origin is not None  # --origin is required
    first, then = flow(plan, request.origin, request.path, host=request.host,
                       scheme=request.scheme)
    preflight = None if first is None else Exchange(
        first, loaded.decide(first, exempt_same_origin=exempt_same_origin))
    actual = Exchange(then, loaded.decide(then, exempt_same_origin=exempt_same_origin))
    verdict = judge(plan, request.origin, page.credentials,
                    None if preflight is None else preflight.decision, actual.decision,
                    app_status=page.app_status,
                    same_origin=is_same_origin(request.origin, request.host, request.scheme))
    return verdict, (preflight, actual)


def _assert(expect: str | None, verdict: Verdict, expect_iis: str | None, outcome: str) -> None:
    """Exit 1 when ``--expect`` (the browser's verdict) or ``--expect-iis`` does not hold."""
    failed: list[str] = []
    if expect is not None and verdict.word != expect:
        why = f": {verdict.failure.message}" if verdict.failure is not None else ""
        failed.append(f"expected the browser to find it {expect}, got {verdict.word}{why}")
    if expect_iis is not None and outcome != expect_iis:
        failed.append(f"expected IIS's answer {expect_iis}, got {outcome}")
    for message in failed:
        click.echo(line(message), err=True)
    if failed:
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

