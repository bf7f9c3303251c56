"""What a migration of customHeaders CORS to ``<cors>`` changes, and what it does not.

Custom headers go on every response (contract C1): to every origin, to requests without Origin,
preflight-only headers on actual responses too.  A ``<cors>`` rule answers only CORS requests
from the origins it lists, adds ``Vary: Origin`` when it echoes (B10, B15), sends
Allow-Methods, Allow-Headers and Max-Age on preflight answers only (B8, B9), and answers
preflights itself with 204 (B8).  :func:`migration_effect` says, as data, which of these
differences a given migration has (:class:`Change`), and what stays the same
(:attr:`MigrationEffect.unchanged`): what browsers read from the preflights and the actual
requests of the origins the headers served.  ``tests/cli/test_fix_migration.py`` holds every
migration to it by running both configurations through the middleware.

A migration **widens** access when a request the browser refused before may be allowed after
(:attr:`MigrationEffect.widening`): without URL Rewrite's OPTIONS rule, preflights were the
app's (or IIS's OPTIONSVerbHandler's) to answer, with a status nobody can know here; the CORS
module answers them 204.  ``fix`` applies such a migration only with ``--allow-widening``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from iiscors.cli.fixes.migration_find import Pieces
from iiscors.cli.fixes.migration_rule import Dropped, RuleSpec


class Change(enum.StrEnum):
    """A difference between the answers before and after, in the report's words."""

    NO_ORIGIN = ("requests without Origin (not CORS requests) no longer get Access-Control-* "
                 "headers")
    VARY = "every response now carries Vary: Origin (the rule echoes the Origin)"
    PREFLIGHT_ONLY = ("Access-Control-Allow-Methods, -Allow-Headers and -Max-Age are sent on "
                      "preflight answers only, no longer on every response")
    EXPOSE_ACTUAL_ONLY = ("Access-Control-Expose-Headers is sent on actual responses only, no "
                          "longer on preflight answers (browsers read it only there)")
    OTHER_ORIGINS = ("requests from other origins get no Access-Control-Allow-Origin instead of "
                     "{origin} (browsers refuse them either way)")
    OTHER_PREFLIGHTS = ("preflights from other origins reach the app instead of the rewrite "
                        "rule's {status} (browsers refuse them either way)")
    PREFLIGHT_204 = ("preflights are answered 204 by the CORS module instead of the rewrite "
                     "rule's {status} (both are ok statuses for browsers)")
    OPTIONS_TO_APP = ("OPTIONS requests that are not preflights (no Origin, or no "
                      "Access-Control-Request-Method) reach the app instead of the rewrite "
                      "rule's {status}")
    VERB_HANDLER = ("on IIS, OPTIONS requests that are not preflights go to IIS's "
                    "OPTIONSVerbHandler again (iiscors does not model handlers)")
    WIDENING = ("preflights were answered by the app (or IIS's OPTIONSVerbHandler), with its "
                "status; the CORS module now answers them 204, so where the app refused them "
                "the browser now allows requests it refused before: this widens access")


@dataclass(frozen=True, slots=True)
class MigrationEffect:
    """What one migration changes (see the module docstring).

    :param served: the origin the headers served (``*``: every origin), whose preflights and
        actual requests browsers read the same before and after (apart from ``dropped``).
    :param changes: the differences, in order.
    :param dropped: values the custom headers sent that the rule does not
        (:attr:`RuleSpec.dropped`).
    """

    served: str
    changes: tuple[Change, ...]
    dropped: tuple[Dropped, ...]
    recipe_status: str = ""

    @property
    def widening(self) -> bool:
        return Change.WIDENING in self.changes

    @property
    def unchanged(self) -> str:
        whom = "every origin" if self.served == "*" else self.served
        return (f"what browsers read from preflights and actual requests of {whom} (ok status, "
                "Access-Control-Allow-Origin and -Credentials; -Methods, -Headers and "
                "-Max-Age on preflights; -Expose-Headers, status and body on actual "
                "requests)")

    def lines(self) -> list[str]:
        """The report's sentences: what is unchanged, then each change."""
        said = [f"unchanged: {self.unchanged}"]
        for change in self.changes:
            said.append("changes: " + change.value.format(origin=self.served,
                                                          status=self.recipe_status))
        said.extend(f"changes: {dropped}" for dropped in self.dropped)
        return said


def migration_effect(pieces: Pieces, rule: RuleSpec) -> MigrationEffect:
    """The effect of migrating ``pieces`` to ``rule``."""
    changes = [Change.NO_ORIGIN]
    if rule.origin != "*":
        changes += [Change.VARY, Change.OTHER_ORIGINS]
    if rule.allow_methods or rule.allow_headers or rule.max_age is not None:
        changes.append(Change.PREFLIGHT_ONLY)
    if rule.expose_headers:
        changes.append(Change.EXPOSE_ACTUAL_ONLY)
    status = ""
    if pieces.recipe is None:
        changes.append(Change.WIDENING)
    else:
        status = f"{pieces.recipe.status} {pieces.recipe.reason}"
        if rule.origin != "*":
            changes.append(Change.OTHER_PREFLIGHTS)
        changes += [Change.PREFLIGHT_204, Change.OPTIONS_TO_APP]
    if pieces.verb_handler is not None:
        changes.append(Change.VERB_HANDLER)
    return MigrationEffect(rule.origin, tuple(changes), rule.dropped, status)
