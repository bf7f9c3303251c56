"""The ``iiscors`` command: parse options, call the library, pick an exit code.

``validate`` is defined here; heavier commands (``explain``, ``diff``, ``fix``, ``serve``,
``playground``) live in their own modules and are imported only when run (:class:`LazyGroup`),
so that validating a whole tree of web.config files starts fast and never imports the server.

Exit codes of ``validate``: 0 no errors; 1 errors, or warnings under ``--strict``; 2 usage or
I/O problems (an unreadable file, a pattern or directory that matches nothing), and any crash
(:mod:`iiscors.cli.guard`).  Never a count, and never changed by a note (contract C3).

The files read and the names shown are untrusted: files are opened with
:func:`iiscors.cli.files.read_regular` (never blocking on a FIFO), the report is rendered whole
and then written once (:class:`iiscors.cli.output.Destination`), and every format escapes what
it prints (:mod:`iiscors.cli.escape`).
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from dataclasses import dataclass
from typing import ClassVar

import click

from iiscors.cli.discover import Target, expand
from iiscors.cli.files import read_regular, unreadable
from iiscors.cli.guard import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    CommandError,
    EscapedErrors,
    GuardedCommand,
)
from iiscors.cli.options import apphost_options, application_host, application_option
from iiscors.cli.output import Destination
from iiscors.cli.report import REPORTERS, FileResult, Report, resolve_format, use_colour
from iiscors.config.diagnostics import CATALOGUE, Diagnostic, Severity, make
from iiscors.config.load import check_config
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.rules import application_paths
from iiscors.config.server import ApplicationHost, analyse_server
from iiscors.config.site import SiteAnalysis


class LazyGroup(EscapedErrors, click.Group):
    """A group whose heavier commands are imported only when run, so that ``validate`` starts
    without importing the server (see click's documentation on lazily loading subcommands).
    Its error messages, and those of every subcommand, are escaped (:class:`EscapedErrors`)."""

    lazy: ClassVar[dict[str, str]] = {
        "diff": "iiscors.cli.diff:diff",
        "explain": "iiscors.cli.explain:explain",
        "fix": "iiscors.cli.fix:fix",
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
        if info.severity is Severity.ERROR:
            # An error means IIS refuses the file (contract A8): hiding it would pass a
            # configuration the middleware will not load.  Warnings and notes may be left out.
            raise click.BadParameter(f"{code} is an error and cannot be ignored", ctx, param)
    return frozenset(codes)


def _check(target: Target, max_bytes: int, applications: tuple[str, ...] = ()) -> FileResult:
    """Run the library on one target."""
    if target.kind == "missing":
        return FileResult(target.name, (make(
            "E100", "No configuration file found: no web.config, and no *.config with a "
            "<configuration> root, matches this argument", target.name),))
    if target.kind == "outside":
        return FileResult(target.name, (make(
            "W104", "Not followed: this symbolic link leads outside the directory searched",
            target.name),))
    try:
        # Read one byte past the limit, never more: the loader then reports E101 (contract A2).
        if target.kind == "stdin":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            data = read_regular(target.name, max_bytes + 1)
    except OSError as exc:
        return FileResult(target.name, (unreadable(target.name, exc),))
    # A named file's configSource files are beside it (contract E5); standard input has none.
    directory = None if target.kind == "stdin" else os.path.dirname(target.name) or os.curdir
    return FileResult(target.name, tuple(check_config(
        data, max_bytes=max_bytes, name=target.name, directory=directory,
        applications=application_paths(applications))))


def _check_site(root: str, max_bytes: int, applications: tuple[str, ...] = ()
                ) -> tuple[FileResult, ...]:
    """Judge a site as the runtime loads it (contract E1)."""
    from iiscors.config.site import analyse_site

    return _site_results(analyse_site(root, max_bytes=max_bytes,
                                      applications=application_paths(applications)))


def _site_results(analysis: SiteAnalysis) -> tuple[FileResult, ...]:
    """One result per file of a site (its applicationHost.config first, then its web.config
    files, root first), each holding the diagnostics located in it; a diagnostic about another
    file (the site root itself, a configSource file) gets a result of its own."""
    by_file: dict[str, list[Diagnostic]] = {
        os.fspath(file.source): [] for file in analysis.scan.files
        if not isinstance(file.source, bytes)}
    for diagnostic in analysis.diagnostics:
        by_file.setdefault(diagnostic.file, []).append(diagnostic)
    return tuple(FileResult(name, tuple(found)) for name, found in by_file.items())


def exit_code(report: Report) -> int:
    """0 clean; 1 errors (or warnings under --strict); 2 an I/O problem.  Notes never count,
    even under --strict (contract C3)."""
    if report.unreadable:
        return EXIT_USAGE
    if report.errors or (report.strict and report.warnings):
        return EXIT_PROBLEMS
    return EXIT_OK


@main.command(cls=GuardedCommand)
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice([*REPORTERS, "auto"]),
              help="Output format; auto is github under GitHub Actions, text elsewhere.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (never on notes).")
@click.option("--ignore", "ignore", multiple=True, metavar="CODES", callback=_ignored_codes,
              help="Warning or note codes to leave out, comma-separated (repeatable), e.g. "
                   "W213,N301.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each file (IIS's default is 250 KiB).")
@click.option("--color", "--colour", "colour", default="auto", show_default=True,
              type=click.Choice(["auto", "always", "never"]),
              help="Colour the text format: auto means on a terminal unless NO_COLOR is set.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the report to this file instead of standard output (replaced "
                   "whole, never left half-written).")
@click.option("--skip-unrelated", is_flag=True,
              help="Skip named *.config files whose root is not <configuration> "
                   "(packages.config...), as a directory search does; for pre-commit.")
@application_option
@click.option("--each-file", is_flag=True,
              help="Judge every web.config found in a directory on its own, instead of as "
                   "part of its site (a file then never sees its parent directories' files).")
@apphost_options
def validate(paths: tuple[str, ...], format_name: str, strict: bool, ignore: frozenset[str],
             max_bytes: int, colour: str, output: str | None, skip_unrelated: bool,
             applications: tuple[str, ...], each_file: bool, apphost: str | None,
             site: str | None, maps: tuple[str, ...]) -> None:
    """Check web.config files: PATH is a file, a directory, a glob, or - for standard input.

    A directory is searched for sites: each top-most web.config starts one, judged with every
    sub-directory's web.config as the middleware and serve --root load it; other *.config
    files with a <configuration> root are checked on their own (--each-file: every file alone).
    --apphost FILE --site NAME checks a site of a server as IIS reads it (PATH optional).

    Exit 0 when no errors, 1 on errors (or warnings with --strict; notes never count), 2 on
    usage or I/O problems.
    """
    server = application_host(apphost, site, maps)
    if not paths and server is None:
        raise click.UsageError("Missing argument 'PATH...' (or --apphost FILE --site NAME).")
    checks = _Checks(max_bytes, ignore, skip_unrelated, each_file, applications)
    try:
        destination = Destination(output)  # before any work: an unwritable FILE is exit 2
    except OSError as exc:
        raise _unwritable(output, exc) from exc
    with destination:
        report = Report(_check_all(paths, checks, server), strict=strict)
        rendered = io.StringIO()
        coloured = (use_colour(colour, sys.stdout, os.environ) if destination.path is None
                    else colour == "always")
        REPORTERS[resolve_format(format_name, os.environ)](rendered, colour=coloured).write(report)
        try:
            destination.commit(rendered.getvalue())
        except OSError as exc:
            raise _unwritable(output, exc) from exc
    sys.exit(exit_code(report))


@dataclass(frozen=True, slots=True)
class _Checks:
    """What ``validate``'s options ask of every target."""

    max_bytes: int
    ignore: frozenset[str]
    skip_unrelated: bool = False
    each_file: bool = False
    applications: tuple[str, ...] = ()


def _check_all(paths: tuple[str, ...], checks: _Checks,
               server: ApplicationHost | None = None) -> tuple[FileResult, ...]:
    found: list[FileResult] = []
    if server is not None:  # contract E4: the server's site first, as IIS reads it
        found.extend(_site_results(analyse_server(
            server, max_bytes=checks.max_bytes,
            applications=application_paths(checks.applications))))
    for target in expand(paths, skip_unrelated=checks.skip_unrelated,
                         sites=not checks.each_file):
        if target.kind == "site":
            found.extend(_check_site(target.name, checks.max_bytes, checks.applications))
        else:
            found.append(_check(target, checks.max_bytes, checks.applications))
    if checks.ignore:
        found = [FileResult(r.name, _without(r.diagnostics, checks.ignore)) for r in found]
    return tuple(found)


def _unwritable(output: str | None, error: OSError) -> CommandError:
    where = output if output not in (None, "-") else "standard output"
    return CommandError(f"cannot write the report to {where}: {error.strerror or error}")


def _without(diagnostics: tuple[Diagnostic, ...], ignore: frozenset[str]
             ) -> tuple[Diagnostic, ...]:
    return tuple(d for d in diagnostics if d.code not in ignore)
