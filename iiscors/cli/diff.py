"""``iiscors diff``: who can now do what that they could not before (issue 16).

It loads the two configurations (files, site directories, or each changed configuration file
against its version at a git revision), asks :func:`iiscors.policy.access.compare_access` for
the changes in access, and renders them (:mod:`iiscors.cli.diff_report`).

Exit codes: 0 no failing change (``--fail-on``, default ``none``: every run that compares exits
0); 1 failing changes; 2 usage or I/O problems, or a configuration that cannot be loaded (its
errors are reported, located).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import click

from iiscors.cli.diff_report import DIFF_REPORTERS, Compared, DiffReport, printable
from iiscors.cli.escape import github_data, github_property
from iiscors.cli.gitfiles import GitError, changed_files
from iiscors.cli.report import resolve_format
from iiscors.config.diagnostics import Diagnostic, make
from iiscors.config.load import SourceFile, analyse
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source
from iiscors.config.site import analyse_site
from iiscors.policy.access import FAIL_ON, NO_CONFIGURATION, Change, Scopes, compare_access

EXIT_OK, EXIT_FAILING, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Loaded:
    """One side of a comparison: its effective sections, or the errors that make it unusable
    (``suffix`` marks them, e.g. `` (at HEAD~1)``)."""

    scopes: Scopes | None
    errors: tuple[Diagnostic, ...] = ()
    suffix: str = ""


def _usable(config_scopes: Scopes | None, diagnostics: Iterable[Diagnostic],
            suffix: str = "") -> Loaded:
    errors = tuple(d for d in diagnostics if d.is_error)  # warnings change no answer (A7)
    return Loaded(None if errors else config_scopes, errors, suffix)


def load_path(path: str, max_bytes: int) -> Loaded:
    """A file, or a directory read as a site (contract E1: its web.config files merged)."""
    if os.path.isdir(path):
        config, diagnostics, scan = analyse_site(path, max_bytes=max_bytes)
        if config is not None and not scan.files:
            return _usable(None, [make("E100", "No web.config in this directory", path)])
    else:
        config, diagnostics = analyse([SourceFile(path)], max_bytes=max_bytes)
    return _usable(config.scopes if config else None, diagnostics)


def load_bytes(data: bytes | None, name: str, max_bytes: int, suffix: str = "") -> Loaded:
    """One version of a file (None: there is no such file, which grants nothing)."""
    if data is None:
        return Loaded(NO_CONFIGURATION, (), suffix)
    source: Source = data
    config, diagnostics = analyse([SourceFile(source, (), name)], max_bytes=max_bytes)
    return _usable(config.scopes if config else None, diagnostics, suffix)


def _report_errors(sides: Iterable[Loaded], github: bool, stream: TextIO) -> bool:
    """Write every error (standard error; annotations too under ``github``); True if any."""
    found = False
    for side in sides:
        for d in side.errors:
            found = True
            click.echo(printable(f"{d}{side.suffix}"), err=True)
            if github:
                where = f"file={github_property(printable(d.file))}"
                where += f",line={d.line}" if d.line is not None else ""
                text = github_data(printable(f"{d.code} {d.message}{side.suffix}"))
                click.echo(f"::error {where},title=iiscors diff::{text}", file=stream)
    return found


def _pairs(old: str | None, new: str | None, rev: str | None, max_bytes: int
           ) -> tuple[list[tuple[Compared, Loaded, Loaded]], list[str]]:
    if rev is None:
        assert old is not None and new is not None
        return [(Compared(old, new), load_path(old, max_bytes), load_path(new, max_bytes))], []
    files, notes = changed_files(rev, max_bytes)
    suffix = f" (at {rev})"
    pairs = []
    for file in files:
        before = load_bytes(file.old, file.path, max_bytes, suffix)
        after = load_bytes(file.new, file.path, max_bytes)
        if file.problem is not None:
            after = Loaded(None, (file.problem,))
        pairs.append((Compared(f"{rev}:{file.path}" if file.old is not None else None,
                               file.path if file.new is not None else None), before, after))
    return pairs, notes


@click.command(short_help="Who can now do what that they could not before (changes in access).")
@click.argument("old", required=False, metavar="OLD")
@click.argument("new", required=False, metavar="NEW")
@click.option("--git", "rev", metavar="REV",
              help="Compare every changed configuration file of the working tree with its "
                   "version at the git revision REV (instead of OLD and NEW).")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice([*DIFF_REPORTERS, "auto"]),
              help="Output format; auto is github under GitHub Actions, text elsewhere.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="none", show_default=True,
              help="Exit 1 on changes that widen access, widen it with credentials, or any "
                   "change; none never fails on a change.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each file (IIS's default is 250 KiB).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=False),
              help="Write the report to this file instead of standard output.")
def diff(old: str | None, new: str | None, rev: str | None, format_name: str, fail_on: str,
         max_bytes: int, output: TextIO | None) -> None:
    """Show who can now do what that they could not before: the changes in access from OLD to
    NEW (each a web.config file or a site directory), or, with --git REV, from REV to the
    working tree.

    Exit 0 when no change fails --fail-on, 1 when some do, 2 on usage or I/O problems or a
    configuration that cannot be loaded.
    """
    if rev is None and (old is None or new is None):
        raise click.UsageError("Give OLD and NEW, or --git REV.")
    if rev is not None and (old is not None or new is not None):
        raise click.UsageError("--git REV compares the working tree: give no OLD or NEW.")
    stream = output if output is not None else sys.stdout
    name = resolve_format(format_name, os.environ)
    try:
        pairs, notes = _pairs(old, new, rev, max_bytes)
    except GitError as exc:
        click.echo(printable(f"iiscors diff: {exc}"), err=True)
        sys.exit(EXIT_USAGE)
    for note in notes:
        click.echo(printable(f"iiscors diff: {note}"), err=True)
    sides = [side for _, before, after in pairs for side in (before, after)]
    if _report_errors(sides, name == "github", stream):
        click.echo("iiscors diff: a configuration cannot be loaded; nothing compared.",
                   err=True)
        sys.exit(EXIT_USAGE)
    changes: list[Change] = []
    for _, before, after in pairs:
        assert before.scopes is not None and after.scopes is not None
        changes.extend(compare_access(before.scopes, after.scopes))
    report = DiffReport(tuple(c for c, _, _ in pairs), tuple(sorted(changes, key=Change.sort_key)),
                        fail_on, f"at {rev}" if rev is not None else "old")
    DIFF_REPORTERS[name](report, stream)
    sys.exit(EXIT_FAILING if report.failing else EXIT_OK)
