"""The ``iiscors`` command: parse options, call the library, pick an exit code.

``validate`` is defined here; heavier commands (``explain``, ``serve``) live in their own modules
and are imported only when run (:class:`LazyGroup`), so that validating a whole tree of
web.config files starts fast and never imports the server.

Exit codes of ``validate``: 0 no errors; 1 errors, or warnings under ``--strict``; 2 usage or
I/O problems (an unreadable file, a pattern or directory that matches nothing).  Never a count.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import ClassVar, TextIO

import click

from iiscors.cli.discover import Target, expand
from iiscors.cli.report import REPORTERS, FileResult, Report, resolve_format, use_colour
from iiscors.config.diagnostics import CATALOGUE, Diagnostic, Severity, make
from iiscors.config.load import check_config
from iiscors.config.loader import DEFAULT_MAX_BYTES

#: Exit codes (check-jsonschema's convention): never a count of problems.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class LazyGroup(click.Group):
    """A group whose heavier commands are imported only when run, so that ``validate`` starts
    without importing the server (see click's documentation on lazily loading subcommands)."""

    lazy: ClassVar[dict[str, str]] = {
        "diff": "iiscors.cli.diff:diff",
        "explain": "iiscors.cli.explain:explain",
        "playground": "iiscors.serving.playground:playground",
        "serve": "iiscors.serving.serve:serve",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise  # a real missing dependency, not a command that is not built yet
                return None
            command = getattr(module, attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="iiscors")
def main() -> None:
    """IIS CORS behaviour from web.config files: validate, explain, serve."""


def _ignored_codes(ctx: click.Context, param: click.Parameter,
                   values: tuple[str, ...]) -> frozenset[str]:
    codes = {code.strip().upper() for value in values for code in value.split(",")
             if code.strip()}
    for code in sorted(codes):
        info = CATALOGUE.get(code)
        if info is None:
            raise click.BadParameter(f"unknown code {code!r}", ctx, param)
        if info.severity is not Severity.WARNING:
            # An error means IIS refuses the file (contract A8): hiding it would pass a
            # configuration the middleware will not load.
            raise click.BadParameter(f"{code} is an error and cannot be ignored", ctx, param)
    return frozenset(codes)


def _check(target: Target, max_bytes: int) -> FileResult:
    """Run the library on one target."""
    if target.kind == "missing":
        return FileResult(target.name, (make(
            "E100", "No configuration file found: no web.config, and no *.config with a "
            "<configuration> root, matches this argument", target.name),))
    if target.kind == "stdin":
        # Read one byte past the limit, never more: the loader then reports E101 (contract A2).
        data = sys.stdin.buffer.read(max_bytes + 1)
        return FileResult(target.name, tuple(check_config(data, max_bytes=max_bytes,
                                                          name=target.name)))
    return FileResult(target.name, tuple(check_config(target.name, max_bytes=max_bytes)))


def exit_code(report: Report) -> int:
    """0 clean; 1 errors (or warnings under --strict); 2 an I/O problem."""
    if report.unreadable:
        return EXIT_USAGE
    if report.errors or (report.strict and report.warnings):
        return EXIT_PROBLEMS
    return EXIT_OK


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice([*REPORTERS, "auto"]),
              help="Output format; auto is github under GitHub Actions, text elsewhere.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--ignore", "ignore", multiple=True, metavar="CODES", callback=_ignored_codes,
              help="Warning codes to leave out, comma-separated (repeatable), e.g. W213,W222.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each file (IIS's default is 250 KiB).")
@click.option("--color", "--colour", "colour", default="auto", show_default=True,
              type=click.Choice(["auto", "always", "never"]),
              help="Colour the text format: auto means on a terminal unless NO_COLOR is set.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=False),
              help="Write the report to this file instead of standard output.")
@click.option("--skip-unrelated", is_flag=True,
              help="Skip named *.config files whose root is not <configuration> "
                   "(packages.config...), as a directory search does; for pre-commit.")
def validate(paths: tuple[str, ...], format_name: str, strict: bool, ignore: frozenset[str],
             max_bytes: int, colour: str, output: TextIO | None, skip_unrelated: bool) -> None:
    """Check web.config files: PATH is a file, a directory (searched for web.config and
    *.config files with a <configuration> root), a glob, or - for standard input.

    Exit 0 when no errors, 1 on errors (or warnings with --strict), 2 on usage or I/O problems.
    """
    stream = output if output is not None else sys.stdout
    results = []
    for target in expand(paths, skip_unrelated=skip_unrelated):
        result = _check(target, max_bytes)
        if ignore:
            result = FileResult(result.name, _without(result.diagnostics, ignore))
        results.append(result)
    report = Report(tuple(results), strict=strict)
    name = resolve_format(format_name, os.environ)
    reporter = REPORTERS[name](stream, colour=use_colour(colour, stream, os.environ))
    reporter.write(report)
    sys.exit(exit_code(report))


def _without(diagnostics: tuple[Diagnostic, ...], ignore: frozenset[str]
             ) -> tuple[Diagnostic, ...]:
    return tuple(d for d in diagnostics if d.code not in ignore)
