"""How the command line fails: escaped, in one line, with an exit code a CI step can trust.

- click's own error messages quote what the user typed (an option, a path) and are printed to
  standard error, which CI logs obey as much as standard output: :class:`EscapedErrors` passes
  every message through :func:`~iiscors.cli.escape.visible` first.
- ``validate`` documents ``|| test $? -eq 1`` for "problems found", so a crash must never exit
  1 (click's default for an uncaught exception is a traceback and 1): a command built with
  :class:`GuardedCommand` turns an unexpected exception into one line and exit 2, and an
  interruption into 130 (issue 12, item 11).
"""

from __future__ import annotations

from typing import Any

import click

from iiscors.config.text import line, visible

#: Exit codes (check-jsonschema's convention): never a count of problems.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
#: Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130


class CommandError(click.ClickException):
    """A problem the user can fix (an unwritable ``-o`` file...): one line, exit 2."""

    exit_code = EXIT_USAGE


class EscapedErrors(click.Command):
    """A command (or group: it sees its subcommands' errors too) whose error messages are
    escaped before click prints them."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            _escape_message(error)
            raise

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as error:
            _escape_message(error)
            raise


def _escape_message(error: click.ClickException) -> None:
    """Escape ``error``'s message before click shows it.  click declares ``message`` final for
    its own code; this instance has not been shown yet, and is ours to make safe."""
    object.__setattr__(error, "message", visible(error.message))


class GuardedCommand(EscapedErrors):
    """A command that never ends in a traceback, nor in exit 1 unless it chose to."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own way out, with its own exit code
        except KeyboardInterrupt:
            click.echo("iiscors: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as error:  # an I/O problem the user can act on
            raise CommandError(_describe(error)) from error
        except Exception as error:  # a bug: say so in one line, exit 2, never 1
            click.echo(line(f"iiscors {ctx.info_name}: internal error, please report it: "
                            f"{type(error).__name__}: {error}"), err=True)
            ctx.exit(EXIT_USAGE)


def _describe(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename is not None else ""
    return visible(f"{where}{error.strerror or error}")
