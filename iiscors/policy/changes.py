"""A change in access, as :func:`iiscors.policy.access.compare_access` reports it (issue 16).

Plain data: what changed (:class:`~iiscors.policy.grants.Aspect`), for which origins and
scopes, why, and where it is written; the reporters of ``iiscors diff`` render it and
:func:`failing` decides ``--fail-on``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from iiscors.policy.grants import DIRECTION_ORDER, Aspect, Direction
from iiscors.policy.model import Location
from iiscors.policy.witnesses import OriginKind

#: ``--fail-on`` choices: never, a change that widens, one that widens with credentials, any.
FAIL_ON = ("none", "widen", "credentials", "any")


class Cause(enum.StrEnum):
    """What in the configuration made the change."""

    RULE = "rule"
    ENABLED = "enabled"
    MODULE = "module"
    FAIL_UNLISTED = "failUnlistedOrigins"
    CUSTOM_HEADERS = "customHeaders"

    def __str__(self) -> str:
        return self.value


class Side(enum.StrEnum):
    """Which configuration a change's location is in: the new one, or the old one when what
    made the change was removed."""

    NEW = "new"
    OLD = "old"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Change:
    """One change in access.

    :param scopes: the paths (``/``, ``/api``...) where requests get the new answer.
    :param origin: the pattern, or a label for a region without one
        (:mod:`iiscors.policy.witnesses`).
    :param kind: the pattern's form, or the region's.
    :param direction: ``widens`` if any aspect widens, else ``narrows`` if any narrows.
    :param credentials: it widens what a credentialed request from the origin gets (loudest).
    :param aspects: what changed, each with its own class.
    :param cause: what in the configuration made the change; ``location`` is where it is
        written, in the new configuration or (``side`` old) in the old one.
    :param witness: an Origin value whose answers differ (None for customHeaders).
    """

    scopes: tuple[str, ...]
    origin: str
    kind: OriginKind
    direction: Direction
    credentials: bool
    aspects: tuple[Aspect, ...]
    cause: Cause
    location: Location | None
    side: Side
    witness: str | None

    def sort_key(self) -> tuple[object, ...]:
        where = self.location
        return (not self.credentials, DIRECTION_ORDER[self.direction],
                where.file if where else "", (where.line or 0) if where else 0,
                self.scopes, self.origin)


def failing(change: Change, fail_on: str) -> bool:
    """``--fail-on``: ``any`` change, a change that ``widen``s, one that widens with
    ``credentials``, or ``none``."""
    if fail_on == "any":
        return True
    if fail_on == "widen":
        return change.direction is Direction.WIDENS
    if fail_on == "credentials":
        return change.credentials
    return False
