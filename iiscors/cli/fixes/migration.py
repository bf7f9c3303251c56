"""``iiscors fix --migrate-custom-headers``: customHeaders CORS becomes a ``<cors>`` section.

Most sites do CORS with Access-Control-* custom headers, often with URL Rewrite's OPTIONS rule
and ``<remove name="OPTIONSVerbHandler"/>`` beside them (contract C2).  :func:`plan_migration`
turns that into the IIS CORS module's section, in one all-or-nothing set of edits:

1. find the pieces (:mod:`~iiscors.cli.fixes.migration_find`) and the rule they become
   (:mod:`~iiscors.cli.fixes.migration_rule`), or say why not;
2. say what changes (:mod:`~iiscors.cli.fixes.migration_effect`); a migration that widens
   access is applied only when ``allow_widening`` is given;
3. edit (:mod:`~iiscors.cli.fixes.migration_text`), analyse the result and check it: no error,
   the ``<cors>`` rule in force where the headers were and below, no Access-Control-* custom
   header and no OPTIONS rule left there, and no new warning but those about values carried over
   as written (:data:`CARRIED`).  Otherwise nothing is migrated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lxml import etree

from iiscors.cli.fixes.context import Analysis
from iiscors.cli.fixes.migration_effect import Change, MigrationEffect, migration_effect
from iiscors.cli.fixes.migration_find import Pieces, Refused, find_pieces
from iiscors.cli.fixes.migration_rule import NotMigratable, RuleSpec, read_rule
from iiscors.cli.fixes.migration_text import insertion, removals
from iiscors.cli.fixes.source import SourceText, Unfixable
from iiscors.config.edits import Edit, apply_edits
from iiscors.policy import headers

#: New warnings a migration may bring, because they judge a value carried over as written:
#: credentials over http (W203), an Access-Control-* name exposed (W214), a Max-Age above what
#: browsers honour (W215).  The custom headers sent the same values.
CARRIED = frozenset({"W203", "W214", "W215"})
#: Why a file with other repairs to make is not migrated in the same run.
AFTER_REPAIRS = ("the repairs above come first: run fix --migrate-custom-headers again once "
                 "they are made")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration (or the reason there is none), placed at the first Access-Control-*
    ``<add>`` of the original text."""

    line: int | None
    column: int | None
    text: str
    effect: MigrationEffect | None = None

    @property
    def done(self) -> bool:
        return self.effect is not None


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """The migrated text (the given one when nothing is migrated) and what was decided."""

    text: str
    migrations: tuple[Migration, ...] = ()


def plan_migration(source: SourceText, text: str, name: str, max_bytes: int, *,
                   allow_widening: bool = False, deferred: bool = False) -> MigrationPlan:
    """Plan the migration of one file's text (see the module docstring).  ``deferred``: other
    repairs change the text in this run, so a migration is only announced as left for the
    next run."""
    analysis = Analysis(source, text, name, max_bytes)
    if any(d.is_error for d in analysis.diagnostics):
        return MigrationPlan(text)  # the repair planner refuses such a file
    try:
        pieces = find_pieces(analysis)
        if pieces is None:
            return MigrationPlan(text)
        rule = _rule(pieces)
    except Refused as refused:
        return MigrationPlan(text, (_placed(analysis, refused.element, str(refused)),))
    anchor = pieces.adds[0]
    effect = migration_effect(pieces, rule)
    if deferred:  # placed nowhere: lines are counted in the repaired text here
        return MigrationPlan(text, (Migration(None, None, AFTER_REPAIRS),))
    if effect.widening and not allow_widening:
        return MigrationPlan(text, (_placed(analysis, anchor, (
            f"it would widen access ({Change.WIDENING.value}): run with --allow-widening to "
            "apply it")),))
    try:
        migrated, carried = _migrate(analysis, pieces, rule, source, name, max_bytes)
    except Unfixable as exc:
        return MigrationPlan(text, (_placed(analysis, anchor, str(exc)),))
    summary = _summary(analysis, pieces, rule, carried)
    return MigrationPlan(migrated, (_placed(analysis, anchor, summary, effect),))


def _rule(pieces: Pieces) -> RuleSpec:
    try:
        return read_rule(pieces.pairs)
    except NotMigratable as exc:
        raise Refused(pieces.adds[0], str(exc)) from exc


def _placed(analysis: Analysis, element: etree._Element, text: str,
            effect: MigrationEffect | None = None) -> Migration:
    line, column = analysis.document.locator.element(element)
    return Migration(line, column, text, effect)


def _migrate(analysis: Analysis, pieces: Pieces, rule: RuleSpec, source: SourceText, name: str,
             max_bytes: int) -> tuple[str, list[str]]:
    """The migrated text and the carried-over warning codes; Unfixable when the result
    fails its checks."""
    deleted = removals(analysis, pieces)
    insert = insertion(analysis, pieces, rule)
    # An inline <httpProtocol> deleted with the blanks before it: insert where they start.
    at = min((edit.start for edit in deleted if edit.start <= insert.start < edit.end),
             default=insert.start)
    migrated = apply_edits(analysis.text, [*deleted, Edit(at, at, insert.replacement)])
    after = Analysis(source, migrated, name, max_bytes)
    return migrated, _verify(analysis, after, pieces, rule)


def _verify(before: Analysis, after: Analysis, pieces: Pieces, rule: RuleSpec) -> list[str]:
    problem = "the migration would make the configuration invalid"
    if after.config is not None and not any(d.is_error for d in after.diagnostics):
        problem = _scope_problem(after, pieces, rule) or ""
    if problem:
        raise Unfixable(f"{problem}; nothing was migrated (please report this)")
    found = Counter(d.code for d in after.diagnostics if not d.is_error)
    found.subtract(d.code for d in before.diagnostics)
    new = sorted(code for code, count in found.items() if count > 0)
    if set(new) - CARRIED:
        raise Unfixable(f"the migration would add {', '.join(new)}; nothing was migrated "
                        "(please report this)")
    return new


def _scope_problem(after: Analysis, pieces: Pieces, rule: RuleSpec) -> str | None:
    """Is the ``<cors>`` rule in force, alone, where the headers were and below?"""
    assert after.config is not None
    for path, section in after.config.scopes.items():
        if path[:len(pieces.path)] != pieces.path:
            continue
        if not section.active or [r.origin for r in section.rules] != [rule.origin]:
            return "the <cors> rule would not be in force everywhere the headers were"
        if section.options_recipe is not None or any(
                name.lower().startswith(headers.ACCESS_CONTROL_PREFIX)
                for name, _ in section.custom_headers):
            return "custom headers or the OPTIONS rule would be left"
    return None


def _summary(analysis: Analysis, pieces: Pieces, rule: RuleSpec, carried: list[str]) -> str:
    """What is written and what is taken out, in a sentence."""
    details = ["allowCredentials" if rule.credentials else "",
               f"maxAge={rule.max_age}" if rule.max_age is not None else ""]
    for label, values in (("allowHeaders", rule.allow_headers),
                          ("allowMethods", rule.allow_methods),
                          ("exposeHeaders", rule.expose_headers)):
        if values:
            details.append(f"{label} {','.join(values)}")
    shown = ", ".join(d for d in details if d)
    said = f'<cors> rule origin="{rule.origin}"' + (f" ({shown})" if shown else "")
    names = ", ".join(add.get("name", "") for add in pieces.adds)
    said += f" replaces the custom headers {names}"
    if pieces.rule is not None:
        said += f"; the URL Rewrite rule \"{pieces.rule.get('name')}\" (line " \
                f"{_line(analysis, pieces.rule)}) is removed"
    if pieces.verb_handler is not None:
        said += (f"; <remove name=\"OPTIONSVerbHandler\"/> (line "
                 f"{_line(analysis, pieces.verb_handler)}) is removed")
    elif pieces.handler_routes_options:
        said += "; <remove name=\"OPTIONSVerbHandler\"/> is kept (a handler there takes OPTIONS)"
    if carried:
        said += f"; warnings carried over with the values: {', '.join(carried)}"
    return said


def _line(analysis: Analysis, element: etree._Element) -> int | None:
    return analysis.document.locator.element(element)[0]
