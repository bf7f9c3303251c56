"""Loading: bytes or a path in, a checked :class:`Config` out (contract A1-A9, E6).

:func:`check_config` returns every diagnostic and never raises for a bad file;
:func:`load_config` returns a :class:`Config` or raises :class:`~iiscors.ConfigError` carrying
them all (contract A8: an unusable configuration never half-works).

Errors are scoped as on IIS (contract E6): an error makes unusable the scope of the place that
holds it (a ``<location path>``, a sub-directory's file) and everything below, not the rest.
:func:`analyse` with ``all_or_nothing=False`` (what the middleware uses) returns a
:class:`Config` whenever the root level is usable, its unusable scopes marked (they answer 500);
``all_or_nothing=True`` (the default of the functions here, and the middleware's explicit option)
returns nothing as soon as any error exists.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from iiscors.config.apphost import APPHOST_MAX_BYTES, site_locations
from iiscors.config.diagnostics import ConfigError, Diagnostic, has_errors, sort_key
from iiscors.config.filenotes import file_notes
from iiscors.config.files import Stamp
from iiscors.config.include import Includer
from iiscors.config.lint import lint
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source, load_document, release
from iiscors.config.locks import Registry, lock_violations
from iiscors.config.rules import Applications, Broken, Level, read_levels
from iiscors.config.scope import build_scopes, mark_unusable
from iiscors.policy.core import CorsRequest, Decision, Policy
from iiscors.policy.model import EffectiveSection


@dataclass(frozen=True)
class Config:
    """A usable configuration: the levels read from its files and the effective section of
    every configured path.  Immutable; build a new one to change anything.

    ``diagnostics`` holds its warnings and notes, and the errors of its unusable scopes
    (contract E6; a Config whose root level has an error is never built).
    """

    files: tuple[str, ...]
    levels: tuple[Level, ...]
    scopes: Mapping[tuple[str, ...], EffectiveSection]
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the file paths this configuration was read from (for reloading); empty for bytes
    paths: tuple[Path, ...] = field(default=())
    #: the errors found, by the path whose scope they make unusable (contract E6); empty when
    #: the files have no error
    broken: Mapping[tuple[str, ...], tuple[Diagnostic, ...]] = field(default_factory=dict)
    #: the configSource files read (contract E5), watched by hot reload as well
    includes: tuple[Path, ...] = field(default=())
    #: the child application paths it was built with (contract E3)
    applications: Applications = field(default=())

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The errors of the unusable scopes (empty for a configuration without errors)."""
        return tuple(d for d in self.diagnostics if d.is_error)

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
    #: where its configSource files are (contract E5), for bytes read from a file on disk;
    #: a path's own directory otherwise
    directory: str | None = None
    #: the directory its configSource files must stay in (contract E5; default: the site's)
    boundary: str | None = None
    #: its place in the hierarchy (default: its directory depth below the site root); an
    #: applicationHost.config is -1, above every web.config (contract E4)
    depth: int | None = None
    #: for an applicationHost.config, the site whose <location> entries apply (contract E4)
    site: str | None = None


class Analysis(NamedTuple):
    """What :func:`read_all` returns."""

    #: None when the configuration is unusable (see ``all_or_nothing``)
    config: Config | None
    diagnostics: list[Diagnostic]
    #: every configSource file looked at, with its stamp taken before it was read (contract
    #: E5: hot reload watches them too)
    watched: tuple[tuple[str, Stamp], ...]


def analyse(files: Sequence[SourceFile], *, max_bytes: int = DEFAULT_MAX_BYTES,
            all_or_nothing: bool = True, broken: Broken | None = None,
            root: str | None = None, applications: Applications = ()) -> tuple[
        Config | None, list[Diagnostic]]:
    """Read, check and merge ``files`` (a site root's web.config first); never raises.
    :func:`read_all` says what the parameters mean."""
    analysis = read_all(files, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                        broken=broken, root=root, applications=applications)
    return analysis.config, analysis.diagnostics


def read_all(files: Sequence[SourceFile], *, max_bytes: int = DEFAULT_MAX_BYTES,
             all_or_nothing: bool = True, broken: Broken | None = None,
             root: str | None = None, applications: Applications = (),
             registry: Registry | None = None) -> Analysis:
    """Read, check and merge ``files`` (a site root's web.config first); never raises.

    :param all_or_nothing: no :class:`Config` when there is any error (contract A8); else one
        whenever the root level is usable, its unusable scopes marked (contract E6).
    :param broken: errors already found (a site walk's), by the path whose scope they break.
    :param root: the site root: a configSource file must really be inside it (contract E5;
        by default, inside the including file's directory).
    :param applications: the site's child application paths (:func:`iiscors.config.rules.
        application_paths`), where ``inheritInChildApplications="false"`` stops (contract E3).
    :param registry: an applicationHost.config's section registrations (contract E4), which
        give each section's overrideModeDefault and allowDefinition; None: every section is
        delegated and may be defined anywhere.
    """
    with collector_paused():
        return _read_all(files, max_bytes, all_or_nothing, broken, root, applications,
                         registry)


def _read_all(files: Sequence[SourceFile], max_bytes: int, all_or_nothing: bool,
              broken: Broken | None, root: str | None, applications: Applications,
              registry: Registry | None) -> Analysis:
    reading = _Reading(max_bytes, root, broken or {})
    for file in files:
        reading.file(file)
    levels, diagnostics, broken = reading.levels, reading.diagnostics, reading.broken
    for path, violation in lock_violations(levels, registry, applications):  # E2, E4
        diagnostics.append(violation)
        broken.setdefault(path, []).append(violation)
    if reading.configurations and len(reading.no_cors) == len(reading.configurations):
        # W101 is about the whole site: no file of it does CORS (contract C2, E1), so a
        # lower file is never noted as if it stood alone.
        diagnostics.append(reading.no_cors[0])
    scopes, found = build_scopes(levels, broken, applications)
    diagnostics.extend(found)
    if not has_errors(diagnostics):
        diagnostics.extend(lint(levels, scopes))
    diagnostics = sorted(dict.fromkeys(diagnostics), key=sort_key)
    watched = tuple(reading.watched)
    scoped = {path: tuple(dict.fromkeys(found)) for path, found in broken.items() if found}
    if has_errors(diagnostics) and (all_or_nothing or not _root_usable(diagnostics, scoped)):
        return Analysis(None, diagnostics, watched)
    paths = tuple(Path(os.fspath(f.source)) for f in files if not isinstance(f.source, bytes))
    config = Config(tuple(reading.names), tuple(levels), mark_unusable(scopes, scoped),
                    tuple(diagnostics), paths, scoped,
                    tuple(dict.fromkeys(Path(path) for path, _ in watched)), applications)
    return Analysis(config, diagnostics, watched)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while files are read (issue 17): reading a 100,000-rule
    file allocates hundreds of thousands of objects, all kept or freed by reference counting,
    and each collection they trigger would walk all of them again for nothing (a seventh of
    the load).  The collector's previous state is restored, so nesting and a caller's own
    ``gc.disable()`` are respected."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Reading:
    """What :func:`read_all` has read so far, file by file."""

    def __init__(self, max_bytes: int, root: str | None, broken: Broken) -> None:
        self.max_bytes = max_bytes
        self.root = root
        self.levels: list[Level] = []
        self.diagnostics: list[Diagnostic] = [d for found in broken.values() for d in found]
        self.broken: Broken = {path: list(found) for path, found in broken.items()}
        self.names: list[str] = []
        #: the files whose root is <configuration> (W101 is about them together)
        self.configurations: list[str] = []
        #: their W101 notes (contract C2): given once, when every file has one
        self.no_cors: list[Diagnostic] = []
        self.watched: list[tuple[str, Stamp]] = []

    def file(self, file: SourceFile) -> None:
        # An applicationHost.config is larger than any web.config (contract E4).
        limit = self.max_bytes if file.site is None else max(self.max_bytes, APPHOST_MAX_BYTES)
        document, display, found = load_document(file.source, name=file.name, max_bytes=limit)
        self.names.append(display)
        self.diagnostics.extend(found)
        if document is None:
            # Contract E6: a file that cannot be read breaks its directory's scope.
            self.broken.setdefault(file.prefix, []).extend(d for d in found if d.is_error)
            return
        directory = file.directory
        if directory is None and not isinstance(file.source, bytes):
            directory = os.path.dirname(os.fspath(file.source)) or os.curdir
        includer = Includer(directory, file.boundary or self.root, self.max_bytes)
        reading = read_levels(
            document, prefix=file.prefix,
            depth=len(file.prefix) if file.depth is None else file.depth, includer=includer,
            locations=None if file.site is None else site_locations(file.site))
        self.watched.extend(includer.read)
        notes = file_notes(document)
        if document.root.tag == "configuration":
            self.configurations.append(display)
            self.no_cors.extend(d for d in notes if d.code == "W101")
        self.levels.extend(reading.levels)
        self.diagnostics.extend(reading.diagnostics)
        self.diagnostics.extend(d for d in notes if d.code != "W101")
        for path, errors in reading.broken.items():
            self.broken.setdefault(path, []).extend(errors)
        release(document)  # read: freed a slice at a time (issue 17)


def _root_usable(diagnostics: Sequence[Diagnostic],
                 scoped: Mapping[tuple[str, ...], Sequence[Diagnostic]]) -> bool:
    """Contract E6: the root level is usable when no error is about it, and every error was
    placed in some scope (one that was not could not be confined: it counts as the root's)."""
    placed = {d for found in scoped.values() for d in found}
    return () not in scoped and all(d in placed for d in diagnostics if d.is_error)


def check_config(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 name: str | None = None, directory: str | None = None,
                 applications: Applications = ()) -> list[Diagnostic]:
    """Every diagnostic for one web.config (path or bytes); never raises for a bad file.
    ``directory``: where the configSource files of bytes read from disk are (contract E5);
    ``applications``: child application paths (contract E3)."""
    return analyse([SourceFile(source, (), name, directory)], max_bytes=max_bytes,
                   applications=applications)[1]


def load_config(source: Source | Config, *, max_bytes: int = DEFAULT_MAX_BYTES,
                name: str | None = None, applications: Applications = ()) -> Config:
    """Load one web.config (path or bytes) into a :class:`Config`, or raise ConfigError.
    ``applications``: child application paths (contract E3)."""
    if isinstance(source, Config):
        return source
    return load_files([SourceFile(source, (), name)], max_bytes=max_bytes,
                      applications=applications)


def load_files(files: Iterable[SourceFile], *, max_bytes: int = DEFAULT_MAX_BYTES,
               applications: Applications = ()) -> Config:
    config, diagnostics = analyse(list(files), max_bytes=max_bytes, applications=applications)
    if config is None:
        raise ConfigError(diagnostics)
    return config
