"""System checks: ``manage.py check`` (and ``runserver`` as it starts) report the ``IISCORS_*``
settings, the middleware's place, and every diagnostic of the web.config.

Registered by the ``iiscors.django`` application (add it to ``INSTALLED_APPS``), tagged
``iiscors``.  Their ids:

- ``iiscors.E001`` an ``IISCORS_*`` setting that does not exist (a typo);
- ``iiscors.E002`` a setting of the wrong type, or out of range;
- ``iiscors.E003`` ``IISCORS_CONFIG`` (or its default) names nothing on disk;
- ``iiscors.W001`` the middleware is not first in ``MIDDLEWARE``;
- ``iiscors.W002`` the application is installed but its middleware is not in ``MIDDLEWARE``;
- ``iiscors.<code>`` each diagnostic of the web.config files, with the code of the catalogue
  (``iiscors.E201``, ``iiscors.W215``, ...; docs/diagnostics.md): errors as Errors, warnings as
  Warnings, any other severity as Info.  The catalogue's codes start at 100, so the two sets
  never meet.

The web.config is read exactly as the middleware reads it (:func:`iiscors.reload.open_source`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from iiscors.config.diagnostics import Diagnostic, where
from iiscors.django.conf import read
from iiscors.options import Kind
from iiscors.reload import open_source

#: How the middleware may be written in MIDDLEWARE.
MIDDLEWARE_PATHS = frozenset({"iiscors.django.CorsMiddleware",
                              "iiscors.django.middleware.CorsMiddleware"})
_SETTINGS_IDS = {Kind.UNKNOWN: "iiscors.E001", Kind.TYPE: "iiscors.E002",
                 Kind.MISSING: "iiscors.E003"}
_LEVELS = {"error": checks.Error, "warning": checks.Warning}


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """iiscors.E001-E003: every unusable ``IISCORS_*`` setting, named."""
    return [checks.Error(problem.message, id=_SETTINGS_IDS[problem.kind])
            for problem in read().problems]


def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """iiscors.W001/W002: the middleware is in MIDDLEWARE, and first."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    positions = [i for i, path in enumerate(middleware) if path in MIDDLEWARE_PATHS]
    if not positions:
        return [checks.Warning(
            "iiscors.django is installed but iiscors.django.CorsMiddleware is not in "
            "MIDDLEWARE: no request gets CORS headers from it.",
            hint='Add "iiscors.django.CorsMiddleware" at the top of MIDDLEWARE (or silence '
                 "iiscors.W002 if wsgi.py or asgi.py wraps the application instead).",
            id="iiscors.W002")]
    if positions[0] == 0:
        return []
    before = ", ".join(middleware[:positions[0]])
    return [checks.Warning(
        f"iiscors.django.CorsMiddleware is not first in MIDDLEWARE: {before} run before it, "
        "so a preflight reaches them (authentication included) before it is answered, where "
        "IIS answers it first (contract B8), and the responses they make themselves get no "
        "CORS headers.",
        hint="Move it to the top of MIDDLEWARE.", id="iiscors.W001")]


def check_web_config(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """iiscors.<code>: every diagnostic of the configured web.config files."""
    configured = read()
    if configured.source is None or configured.problems:
        return []  # check_settings reports why there is nothing to read
    max_bytes = configured.options["max_bytes"]
    assert isinstance(max_bytes, int)
    _config, diagnostics, _stamps = open_source(configured.source, max_bytes=max_bytes).build()
    return [message(diagnostic) for diagnostic in diagnostics]


def message(diagnostic: Diagnostic) -> Any:
    """A diagnostic as a check message: its code, its place, its fix as the hint."""
    level = _LEVELS.get(str(diagnostic.severity), checks.Info)  # a new severity: Info
    return level(diagnostic.message, hint=diagnostic.fix, obj=where(diagnostic),
                 id=f"iiscors.{diagnostic.code}")
