"""Options shared by several commands of :mod:`iiscors.cli` (validate, explain).

``serve`` has its own copy of ``--application``: the serving room never imports the CLI room.
"""

from __future__ import annotations

import click

from iiscors.config.rules import application_paths


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
