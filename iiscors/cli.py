"""The ``iiscors`` command: parse options, call the library, pick an exit code.

Exit codes: 0 no errors; 1 errors; 2 usage or I/O problems.  Never a count.
"""

from __future__ import annotations

import importlib
import sys
from typing import ClassVar

import click

from .config import check_config
from .diagnostics import has_errors
from .loader import DEFAULT_MAX_BYTES


class LazyGroup(click.Group):
    """A group whose heavier commands are imported only when run, so that ``validate`` starts
    without importing the server (see click's documentation on lazily loading subcommands)."""

    lazy: ClassVar[dict[str, str]] = {"serve": "iiscors.serve:serve"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                return None  # not built yet
            command = getattr(module, attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="iiscors")
def main() -> None:
    """IIS CORS behaviour from web.config files: validate, explain, serve."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each file (IIS's default is 250 KiB).")
def validate(files: tuple[str, ...], max_bytes: int) -> None:
    """Check web.config FILES; print file:line:col: severity code message."""
    failed = False
    unreadable = False
    for file in files:
        diagnostics = check_config(file, max_bytes=max_bytes)
        for diagnostic in diagnostics:
            click.echo(str(diagnostic))
        unreadable |= any(d.code == "E100" for d in diagnostics)
        failed |= has_errors(diagnostics)
    sys.exit(2 if unreadable else 1 if failed else 0)
