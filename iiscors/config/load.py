"""Loading: bytes or a path in, a checked :class:`Config` out (contract A1-A9).

:func:`check_config` returns every diagnostic and never raises for a bad file;
:func:`load_config` returns a :class:`Config` or raises :class:`~iiscors.ConfigError` carrying
them all (contract A8: an unusable configuration never half-works).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iiscors.config.diagnostics import ConfigError, Diagnostic, has_errors, sort_key
from iiscors.config.filenotes import file_notes
from iiscors.config.lint import lint
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source, load_document
from iiscors.config.rules import Level, read_levels
from iiscors.config.scope import build_scopes
from iiscors.policy.core import CorsRequest, Decision, Policy
from iiscors.policy.model import EffectiveSection


@dataclass(frozen=True)
class Config:
    """A usable configuration: the levels read from its files and the effective section of
    every configured path.  Immutable; build a new one to change anything.

    ``diagnostics`` holds its warnings and notes (a Config never has errors).
    """

    files: tuple[str, ...]
    levels: tuple[Level, ...]
    scopes: Mapping[tuple[str, ...], EffectiveSection]
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the file paths this configuration was read from (for reloading); empty for bytes
    paths: tuple[Path, ...] = field(default=())

    @functools.cached_property
    def policy(self) -> Policy:
        """The compiled policy (built on first use, then shared)."""
        return Policy(self.scopes)

    def compile(self, *, exempt_same_origin: bool = False) -> Policy:
        if not exempt_same_origin:
            return self.policy
        return Policy(self.scopes, exempt_same_origin=True)

    def evaluate(self, request: CorsRequest) -> Decision:
        """The decision the middleware would act on for ``request``."""
        return self.policy.evaluate(request)

    def decide(self, request: CorsRequest, *, exempt_same_origin: bool = False) -> Decision:
        """The decision of the middleware built with these options (contract B1-B15)."""
        return self.compile(exempt_same_origin=exempt_same_origin).evaluate(request)

    def scope_of(self, path: str) -> str:
        """The configured path whose effective section applies at ``path`` (contract A9)."""
        return "/" + "/".join(self.section_for(path).path)

    def section_for(self, path: str) -> EffectiveSection:
        return self.policy.scope_for(path).section


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One web.config of a site: where it is and which directory segments it applies below."""

    source: Source
    prefix: tuple[str, ...] = ()
    name: str | None = None


def analyse(files: Sequence[SourceFile], *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[
        Config | None, list[Diagnostic]]:
    """Read, check and merge ``files`` (a site root's web.config first); never raises."""
    levels: list[Level] = []
    diagnostics: list[Diagnostic] = []
    names: list[str] = []
    for file in files:
        document, display, found = load_document(file.source, name=file.name,
                                                 max_bytes=max_bytes)
        names.append(display)
        diagnostics.extend(found)
        if document is not None:
            file_levels, found = read_levels(document, prefix=file.prefix,
                                             depth=len(file.prefix))
            levels.extend(file_levels)
            diagnostics.extend(found)
            diagnostics.extend(file_notes(document))
    scopes, found = build_scopes(levels)
    diagnostics.extend(found)
    if not has_errors(diagnostics):
        diagnostics.extend(lint(levels, scopes))
    diagnostics = sorted(dict.fromkeys(diagnostics), key=sort_key)
    if has_errors(diagnostics):
        return None, diagnostics
    paths = tuple(Path(os.fspath(f.source)) for f in files if not isinstance(f.source, bytes))
    return Config(tuple(names), tuple(levels), scopes, tuple(diagnostics), paths), diagnostics


def check_config(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 name: str | None = None) -> list[Diagnostic]:
    """Every diagnostic for one web.config (path or bytes); never raises for a bad file."""
    return analyse([SourceFile(source, (), name)], max_bytes=max_bytes)[1]


def load_config(source: Source | Config, *, max_bytes: int = DEFAULT_MAX_BYTES,
                name: str | None = None) -> Config:
    """Load one web.config (path or bytes) into a :class:`Config`, or raise ConfigError."""
    if isinstance(source, Config):
        return source
    return load_files([SourceFile(source, (), name)], max_bytes=max_bytes)


def load_files(files: Iterable[SourceFile], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Config:
    config, diagnostics = analyse(list(files), max_bytes=max_bytes)
    if config is None:
        raise ConfigError(diagnostics)
    return config
