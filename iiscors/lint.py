"""Lint: configurations IIS accepts but that do not do what their author meant (warnings W2xx).

Runs only on configurations without errors, over the levels as written and the effective
sections.  Warnings never change behaviour (contract A7).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .diagnostics import Diagnostic, make
from .rules import Level, Location
from .scope import EffectiveSection


def _at(code: str, message: str, where: Location | None) -> Diagnostic:
    if where is None:
        return make(code, message, "<unknown>")
    return make(code, message, where.file, where.line, where.column)


def lint(levels: Sequence[Level], scopes: Mapping[tuple[str, ...], EffectiveSection]
         ) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for section in scopes.values():
        found.extend(_section_checks(section))
    return list(dict.fromkeys(found))


def _section_checks(section: EffectiveSection) -> Iterable[Diagnostic]:
    where = section.cors_locations[-1] if section.cors_locations else None
    if section.cors_configured and section.enabled and not section.rules:
        yield _at("W217", "CORS is enabled but has no origin rules: every CORS request is "
                  "unlisted", where)
    if section.cors_configured and not section.enabled and section.rules:
        yield _at("W218", "Origin rules are configured but CORS is not enabled here",
                  where)
    if section.cors_configured and not section.cors_module:
        yield _at("W221", "The CorsModule is removed here while <cors> is configured: the "
                  "section has no effect", section.modules_location)
    if section.active:
        for (name, _), header_at in zip(section.custom_headers,
                                        section.custom_header_locations, strict=True):
            if name.lower().startswith("access-control-"):
                yield _at("W220", f"customHeaders adds '{name}' where <cors> is enabled: every "
                          "response carries it twice and browsers reject it", header_at)
