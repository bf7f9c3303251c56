"""The ``<cors>`` rule Access-Control-* custom headers become (``fix --migrate-custom-headers``).

:func:`read_rule` reads the values of the Access-Control-* ``<add>`` elements of one
``customHeaders`` and returns the :class:`RuleSpec` of the ``<add origin>`` rule that sends the
same headers, or the reason it cannot (:class:`NotMigratable`).  Only what maps one to one is
migrated:

- Access-Control-Allow-Origin: ``*`` or one serialized origin that the lint finds nothing wrong
  with (a browser sends it as written); anything else (several origins, ``null``, a path...) is
  left for the author to decide;
- Access-Control-Allow-Methods, -Allow-Headers, -Expose-Headers: comma-separated header-name
  tokens (or ``*``), each once; ``OPTIONS`` is left out of the methods (the CORS module answers
  preflights itself: contract B8, the W213 warning), and the report says so;
- Access-Control-Allow-Credentials: exactly ``true`` becomes ``allowCredentials``, beside one
  origin; any other value, and ``true`` beside ``*``, is dropped: browsers refuse credentials
  then either way, and the report says so;
- Access-Control-Max-Age: decimal digits (a signed 32-bit integer) become ``maxAge``.

Any other Access-Control-* name is not migrated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iiscors.config.lint import origin_problems
from iiscors.config.rules import parse_int32
from iiscors.policy import headers
from iiscors.policy.origins import is_serialized_origin

#: The only value of Access-Control-Allow-Credentials browsers accept (Fetch, "CORS check").
_TRUE = "true"
_WILDCARD = "*"
_OPTIONS = "OPTIONS"
#: The header names the migration knows, lower-cased, to the RuleSpec list they fill.
_LISTS = {headers.ALLOW_METHODS.lower(): "methods", headers.ALLOW_HEADERS.lower(): "headers",
          headers.EXPOSE_HEADERS.lower(): "expose"}
_SINGLE = {headers.ALLOW_ORIGIN.lower(), headers.ALLOW_CREDENTIALS.lower(),
           headers.MAX_AGE.lower()}


@dataclass(frozen=True, slots=True)
class Dropped:
    """A value the custom headers sent that the rule does not: ``value`` of ``header`` (an
    element of a list header, or the whole value of a single one), and why that is harmless."""

    header: str
    value: str
    why: str

    def __str__(self) -> str:
        if self.header == headers.ALLOW_METHODS:
            return f"{self.header} no longer lists {self.value} ({self.why})"
        return f"{self.header}: {self.value} is no longer sent ({self.why})"


class NotMigratable(Exception):
    """These headers cannot become a ``<cors>`` rule; the message says why, in a sentence."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One ``<add origin>`` rule, as the migration writes it.

    :param dropped: what the custom headers sent that the rule does not: OPTIONS in
        Allow-Methods, an Allow-Credentials value browsers ignore.
    """

    origin: str
    credentials: bool = False
    max_age: int | None = None
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    dropped: tuple[Dropped, ...] = ()


def read_rule(pairs: Iterable[tuple[str, str]]) -> RuleSpec:
    """The rule for the ``(name, value)`` Access-Control-* custom headers of one level."""
    values: dict[str, str] = {}
    for name, value in pairs:
        folded = name.lower()
        if folded not in _LISTS and folded not in _SINGLE:
            raise NotMigratable(f"{name} has no <cors> equivalent")
        values[folded] = value.strip()
    origin = values.get(headers.ALLOW_ORIGIN.lower())
    if origin is None:
        raise NotMigratable("there is no Access-Control-Allow-Origin custom header")
    _check_origin(origin)
    dropped: list[Dropped] = []
    methods = _list(values, headers.ALLOW_METHODS)
    for method in methods:
        if method.upper() == _OPTIONS:
            dropped.append(Dropped(headers.ALLOW_METHODS, method, "the CORS module answers "
                                   "preflights itself; only a fetch() whose own method is "
                                   "OPTIONS needed it"))
    methods = tuple(method for method in methods if method.upper() != _OPTIONS)
    return RuleSpec(origin, _credentials(values, origin, dropped), _max_age(values),
                    _list(values, headers.ALLOW_HEADERS), methods,
                    _list(values, headers.EXPOSE_HEADERS), tuple(dropped))


def _check_origin(origin: str) -> None:
    if origin == _WILDCARD:
        return
    if not is_serialized_origin(origin) or origin_problems(origin):
        raise NotMigratable(f'Access-Control-Allow-Origin "{origin}" is not * or one origin '
                            "as browsers send it: decide which origins you mean first")


def _credentials(values: dict[str, str], origin: str, dropped: list[Dropped]) -> bool:
    value = values.get(headers.ALLOW_CREDENTIALS.lower())
    if value is None:
        return False
    if value == _TRUE and origin != _WILDCARD:
        return True
    why = ("browsers refuse credentials with Access-Control-Allow-Origin: *" if value == _TRUE
           else "browsers accept only true")
    dropped.append(Dropped(headers.ALLOW_CREDENTIALS, value, f"{why}, so credentialed "
                           "requests are refused either way"))
    return False


def _max_age(values: dict[str, str]) -> int | None:
    value = values.get(headers.MAX_AGE.lower())
    if value is None:
        return None
    number = parse_int32(value)
    if number is None or number < 0 or not value.isdigit():
        raise NotMigratable(f'Access-Control-Max-Age "{value}" is not a number of seconds')
    return number


def _list(values: dict[str, str], name: str) -> tuple[str, ...]:
    """A list header's elements, each a token (or ``*``) written once."""
    items = headers.split_list(values.get(name.lower(), ""))
    seen: dict[str, str] = {}
    for item in items:
        if item != _WILDCARD and not headers.TOKEN.fullmatch(item):
            raise NotMigratable(f'{name} "{values[name.lower()]}" holds "{item}", which is not '
                                "a header name or method")
        earlier = seen.get(item.casefold())
        if earlier is not None and earlier != item:
            raise NotMigratable(f'{name} lists both "{earlier}" and "{item}": keep the one '
                                "you mean")
        seen.setdefault(item.casefold(), item)
    return tuple(seen.values())
