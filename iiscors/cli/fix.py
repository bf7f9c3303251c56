"""``iiscors fix``: repair web.config files in place, formatting kept.

By default a dry run: the unified diff of what would change goes to standard output (a patch
``git apply`` takes), and the report (each fix with what it changes in the answers, each fixable
problem left alone and why, each refused file) to standard error.  ``--write`` replaces the files
(atomically; see :mod:`iiscors.cli.fixes.writer`).  What is repaired, and how, is
:data:`iiscors.cli.fixes.catalogue.FIXES`.  ``--migrate-custom-headers`` also turns
customHeaders CORS into a ``<cors>`` section (:mod:`iiscors.cli.fixes.migration`); a migration
that widens access needs ``--allow-widening`` too.

Exit codes: 0 nothing to fix (or everything fixed with ``--write``); 1 a dry run found fixes
to make (so CI can run ``iiscors fix`` as a check); 2 usage or I/O problems, or a refused file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click

from iiscors.cli.discover import Target, expand
from iiscors.cli.fixes.migration import MigrationPlan, plan_migration
from iiscors.cli.fixes.patch import shown, unified_diff
from iiscors.cli.fixes.planner import FilePlan, plan_file
from iiscors.cli.fixes.source import Unfixable
from iiscors.cli.fixes.writer import read_snapshot, replace_file
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.policy.model import format_location

#: Exit codes, as ``validate``'s: never a count.
EXIT_OK, EXIT_FIXES, EXIT_REFUSED = 0, 1, 2


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    write: bool
    max_bytes: int
    migrate: bool = False
    allow_widening: bool = False


@dataclass
class Tally:
    """What the run did, for the summary and the exit code."""

    files: int = 0
    changed: int = 0
    fixes: int = 0
    refused: int = 0


def _where(plan_name: str, line: int | None, column: int | None) -> str:
    return format_location(shown(plan_name), line, column)


def _report(plan: FilePlan, write: bool) -> None:
    verb = "fixed" if write else "would fix"
    for fix in plan.fixes:
        effect = fix.effect.describe() if fix.effect is not None else ""
        click.echo(f"{_where(plan.name, fix.line, fix.column)}: {verb} {'+'.join(fix.codes)}: "
                   f"{fix.text}; behaviour: {effect}", err=True)
    for skip in plan.skipped:
        click.echo(f"{_where(plan.name, skip.line, skip.column)}: not fixed "
                   f"{'+'.join(skip.codes)}: {skip.text}", err=True)


def _report_migrations(name: str, migration: MigrationPlan, write: bool) -> None:
    verb = "migrated" if write else "would migrate"
    for done in migration.migrations:
        where = _where(name, done.line, done.column)
        if done.effect is None:
            click.echo(f"{where}: not migrated customHeaders CORS: {done.text}", err=True)
            continue
        click.echo(f"{where}: {verb} customHeaders CORS to <cors>: {done.text}", err=True)
        for line in done.effect.lines():
            click.echo(f"  {line}", err=True)


def _migrated(plan: FilePlan, options: Options) -> MigrationPlan:
    """The migration of a planned file (contract C2); announced only, for the next run, when
    other repairs change the text in this one (its report would count lines in a text the
    user has not seen)."""
    assert plan.source is not None
    if not options.migrate:
        return MigrationPlan(plan.text)
    return plan_migration(plan.source, plan.text, plan.name, options.max_bytes,
                          allow_widening=options.allow_widening, deferred=plan.changed)


def _refuse(name: str, reason: str, tally: Tally) -> None:
    tally.refused += 1
    click.echo(f"{shown(name)}: refused, file left unchanged: {reason}", err=True)


def _fix_one(target: Target, options: Options, tally: Tally) -> None:
    if target.kind == "missing":
        _refuse(target.name, "no configuration file found: no web.config, and no *.config "
                "with a <configuration> root, matches this argument", tally)
        return
    if target.kind == "stdin":
        _refuse(target.name, "standard input cannot be fixed in place; name the file", tally)
        return
    tally.files += 1
    try:
        snapshot = read_snapshot(target.name, options.max_bytes)
    except Unfixable as exc:
        _refuse(target.name, str(exc), tally)
        return
    plan = plan_file(snapshot.data, target.name, options.max_bytes)
    if plan.refused is not None or plan.source is None:
        _refuse(target.name, plan.refused or "it cannot be decoded", tally)
        return
    migration = _migrated(plan, options)
    text = migration.text  # plan.text, migrated when asked (and nothing else changed it)
    changed = text != plan.source.body
    if changed and options.write:
        try:
            replace_file(snapshot, plan.source.encode(text))
        except Unfixable as exc:
            _refuse(target.name, str(exc), tally)
            return
    elif changed:
        click.echo(unified_diff(target.name, plan.source.body, text), nl=False)
    _report(plan, options.write)
    _report_migrations(plan.name, migration, options.write)
    if changed:
        tally.changed += 1
        tally.fixes += len(plan.fixes) + sum(m.done for m in migration.migrations)


def _summary(tally: Tally, write: bool) -> str:
    def count(number: int, word: str) -> str:
        return f"{number} {word}{'' if number == 1 else 'es' if word == 'fix' else 's'}"

    checked = f"Checked {count(tally.files, 'file')}"
    if tally.fixes and write:
        done = f"made {count(tally.fixes, 'fix')} in {count(tally.changed, 'file')}"
    elif tally.fixes:
        done = (f"{count(tally.fixes, 'fix')} to make in {count(tally.changed, 'file')} "
                "(dry run, nothing written: run with --write to apply)")
    else:
        done = "nothing to fix"
    refused = f"; {count(tally.refused, 'file')} refused" if tally.refused else ""
    return f"{checked}: {done}{refused}."


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--write", is_flag=True,
              help="Edit the files (atomically); without it, print the diff and write nothing.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for each file (IIS's default is 250 KiB).")
@click.option("--migrate-custom-headers", "migrate", is_flag=True,
              help="Also turn Access-Control-* custom headers (with URL Rewrite's OPTIONS rule "
                   "and the OPTIONSVerbHandler removal) into a <cors> section; the report says "
                   "where behaviour changes.")
@click.option("--allow-widening", is_flag=True,
              help="With --migrate-custom-headers: also apply migrations that widen access.")
def fix(paths: tuple[str, ...], write: bool, max_bytes: int, migrate: bool,
        allow_widening: bool) -> None:
    """Repair the unambiguous problems of web.config files, keeping their formatting.

    PATH is a file, a directory (searched as validate searches it) or a glob.  Without --write,
    a dry run: the diff goes to standard output, the report to standard error.

    Exit 0 when there is nothing to fix (or all was fixed with --write), 1 when a dry run found
    fixes to make, 2 on usage or I/O problems or a refused file.
    """
    if allow_widening and not migrate:
        raise click.UsageError("--allow-widening applies to --migrate-custom-headers only")
    options = Options(write, max_bytes, migrate, allow_widening)
    tally = Tally()
    for target in expand(paths):
        _fix_one(target, options, tally)
    click.echo(_summary(tally, write), err=True)
    if tally.refused:
        sys.exit(EXIT_REFUSED)
    sys.exit(EXIT_FIXES if tally.fixes and not write else EXIT_OK)
