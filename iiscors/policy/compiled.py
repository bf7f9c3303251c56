"""The response headers of a scope's rules, compiled once and shared (contract B8, B9, B12).

Rules of a large configuration mostly differ only in their origin: ten thousand
``<add origin="…" allowCredentials="true">`` with the same method list answer with the same
Access-Control-* headers.  :class:`RuleCompiler` builds one :class:`CompiledRule` (the headers)
per distinct set of flags and lists in a scope: a scope's origin table maps each origin straight
to them (:meth:`RuleCompiler.compiled_of`, :data:`DENIED` for ``allowed="false"``), so that a
configuration costs a dict entry per origin and nothing more (issue 17).  Which rule decided
(its line, for a Decision and explain) is a :class:`ScopeRule`, built only when a Decision is
asked for.  An answer kept for an origin (:class:`~iiscors.policy.core.Answer`) points at the
shared headers, never copies them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from iiscors.policy import headers
from iiscors.policy.model import OriginRule, RuleTable, table_steps

Headers = tuple[tuple[str, str], ...]
RawHeaders = tuple[tuple[bytes, bytes], ...]


def raw(pairs: Headers) -> RawHeaders:
    """``pairs`` as latin-1 bytes, the form ASGI servers take (every name and value was checked
    to be ISO-8859-1 when the configuration was read, contract A4)."""
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs)


class CompiledRule:
    """The response headers of an allowed rule, precomputed once (contract B8, B9, B12) and
    shared by every rule of its scope with the same flags and lists; ``rule`` is the first of
    them (they all answer alike)."""

    __slots__ = ("actual_tail", "actual_tail_raw", "last_echo", "preflight_after_echo",
                 "preflight_before_echo", "preflight_tail", "rule")

    def __init__(self, rule: OriginRule, *, actual_tail: Headers, preflight_tail: Headers,
                 preflight_before_echo: Headers | None, preflight_after_echo: Headers) -> None:
        self.rule = rule
        #: everything after Access-Control-Allow-Origin, for an actual request and a preflight
        self.actual_tail = actual_tail
        #: the same, as latin-1 bytes: what the ASGI adapter appends (never encoded per request)
        self.actual_tail_raw = raw(actual_tail)
        self.preflight_tail = preflight_tail
        #: with allowAllRequestedHeaders (B8, B14): the preflight headers before and after the
        #: echoed Access-Control-Allow-Headers; None when the rule never echoes
        self.preflight_before_echo = preflight_before_echo
        self.preflight_after_echo = preflight_after_echo
        #: the last Access-Control-Request-Headers value proven safe and its header: only ever
        #: replaced as one tuple (see :func:`iiscors.policy.core.preflight_headers`)
        self.last_echo: tuple[str | None, tuple[str, str]] = (None, ("", ""))


class Denied(enum.Enum):
    """What a scope's origin table holds for a rule with ``allowed="false"``: nothing to send."""

    DENIED = "denied"


#: The one value of every ``allowed="false"`` rule in a scope's origin table (contract B7).
DENIED = Denied.DENIED


class ScopeRule:
    """One rule of a scope, as the Decision's lookup finds it: the rule (for the Decision and
    explain) and its shared headers, None for a rule with ``allowed="false"``."""

    __slots__ = ("compiled", "rule")

    def __init__(self, rule: OriginRule, compiled: CompiledRule | None) -> None:
        self.rule = rule
        self.compiled = compiled


#: What makes two allowed rules of one scope answer alike: everything but the origin.
_Shape = tuple[bool, int, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


class RuleCompiler:
    """Compiles the rules of one scope, each distinct set of headers once.

    :param vary: the scope's ``Vary: Origin`` and customHeaders, which end every allowed
        answer (contract B15, C1).
    """

    __slots__ = ("_by_shape", "_vary")

    def __init__(self, vary: Headers) -> None:
        self._vary = vary
        self._by_shape: dict[_Shape, CompiledRule] = {}

    @property
    def compiled(self) -> list[CompiledRule]:
        """Every distinct CompiledRule built so far."""
        return list(self._by_shape.values())

    def rule(self, rule: OriginRule) -> ScopeRule:
        """``rule`` and its shared headers (None for ``allowed="false"``)."""
        compiled = self.compiled_of(rule)
        return ScopeRule(rule, None if compiled is DENIED else compiled)

    def compiled_of(self, rule: OriginRule) -> CompiledRule | Denied:
        """The shared headers of ``rule``, compiled at its shape's first rule; :data:`DENIED`
        for ``allowed="false"``."""
        if not rule.allowed:
            return DENIED
        shape = (rule.allow_credentials, rule.max_age, rule.allow_all_requested_headers,
                 rule.allow_headers, rule.allow_methods, rule.expose_headers)
        compiled = self._by_shape.get(shape)
        if compiled is None:
            compiled = self._by_shape[shape] = self._compile(rule)
        return compiled

    def compiled_all(self, rules: Sequence[OriginRule]) -> dict[str, CompiledRule | Denied]:
        """Each rule's origin -> its :meth:`compiled_of`, as one dict (a later rule of the same
        origin replaces the value, in the earlier one's place): the origin table in bulk
        (issue 17).  Rules that share one ``shape`` tuple (:meth:`OriginRule.shape_of` interns
        them: every rule of a large file but a few) ask :meth:`compiled_of` once per tuple,
        at its first rule, so the same headers are compiled, at the same rules and in the same
        order, as when asking it rule by rule.  The tuples are told apart by ``id``: ``rules``
        keeps each alive until the end."""
        if isinstance(rules, RuleTable):
            return self._compiled_columns(rules)
        by_shape: dict[int, CompiledRule | Denied] = {}
        table: dict[str, CompiledRule | Denied] = {}
        for rule in rules:
            shape = id(rule.shape)
            compiled = by_shape.get(shape)
            if compiled is None:
                compiled = by_shape[shape] = self.compiled_of(rule)
            table[rule.origin] = compiled
        return table

    def _compiled_columns(self, rules: RuleTable) -> dict[str, CompiledRule | Denied]:
        """:meth:`compiled_all` of a table, read by columns: each shape asks
        :meth:`compiled_of` at its first rule, in the order of their first rules (as rule by
        rule), and the origins map to their shape's headers a step of rows at a time; no
        rule is built but one per shape."""
        by_kind = list(map(self.compiled_of, rules.first_of_each_shape()))
        table: dict[str, CompiledRule | Denied] = {}
        for start, stop in table_steps(len(rules)):
            table.update(zip(rules.origins[start:stop],
                             map(by_kind.__getitem__, rules.kinds[start:stop]), strict=True))
        return table

    def _compile(self, rule: OriginRule) -> CompiledRule:
        def header(name: str, value: str, present: bool) -> Headers:
            return ((name, value),) if present else ()

        credentials = header(headers.ALLOW_CREDENTIALS, "true", rule.allow_credentials)
        methods = header(headers.ALLOW_METHODS, headers.join(rule.allow_methods),
                         bool(rule.allow_methods))
        allow_headers = header(headers.ALLOW_HEADERS, headers.join(rule.allow_headers),
                               bool(rule.allow_headers))
        max_age = header(headers.MAX_AGE, str(rule.max_age), rule.max_age >= 0)
        expose = header(headers.EXPOSE_HEADERS, headers.join(rule.expose_headers),
                        bool(rule.expose_headers))
        before = credentials + methods
        after = max_age + self._vary
        return CompiledRule(
            rule,
            actual_tail=credentials + expose + self._vary,
            preflight_tail=before + allow_headers + after,
            preflight_before_echo=before if rule.allow_all_requested_headers else None,
            preflight_after_echo=after,
        )
