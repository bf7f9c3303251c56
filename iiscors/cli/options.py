"""Options shared by several commands of :mod:`iiscors.cli` (validate, explain).

``serve`` has its own copies: the serving room never imports the CLI room.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from iiscors.config.rules import application_paths
from iiscors.config.server import ApplicationHost


def _application_paths(ctx: click.Context, param: click.Parameter,
                       values: tuple[str, ...]) -> tuple[str, ...]:
    """``--application``: checked now, so that a bad path is a usage error (exit 2)."""
    try:
        application_paths(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return values


#: ``--application PATH`` of validate and explain (serve has its own: it never imports cli).
application_option = click.option(
    "--application", "applications", multiple=True, metavar="PATH",
    callback=_application_paths,
    help="A child application of the site, as a URL path (repeatable): "
         "<location inheritInChildApplications=\"false\"> stops there (contract E3).")


def apphost_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--apphost FILE --site NAME --map WINDOWS=LOCAL`` (contract E4), for validate and
    explain; :func:`application_host` checks them."""
    for option in reversed((
            click.option("--apphost", type=click.Path(dir_okay=False), default=None,
                         metavar="FILE", help="A server's applicationHost.config: read the "
                         "site --site names, with its web.config files (contract E4)."),
            click.option("--site", default=None, metavar="NAME",
                         help="The site of --apphost to read (case-insensitive)."),
            click.option("--map", "maps", multiple=True, metavar="WINDOWS=LOCAL",
                         help="Where a physical path of the site is here (repeatable), such "
                         "as 'C:\\inetpub\\wwwroot=./wwwroot'; %VARIABLE%s are expanded."))):
        command = option(command)
    return command


def application_host(apphost: str | None, site: str | None,
                     maps: tuple[str, ...]) -> ApplicationHost | None:
    """The :class:`ApplicationHost` the options name, or None; a usage error if they clash."""
    try:
        return ApplicationHost.from_options(apphost, site, maps)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
