"""The ``IISCORS_*`` Django settings, read and checked (:mod:`iiscors.options` has the table).

``IISCORS_CONFIG`` names the web.config file or the site directory (default
``BASE_DIR / "web.config"``); one setting per middleware option does the rest.  Django turns an
exception raised in a view into its own 500 response before any middleware sees it (the 500
then carries the CORS headers), so ``IISCORS_ANSWER_CRASHES`` does not apply here: setting it is
an error like any unknown ``IISCORS_*`` name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from iiscors.options import (
    BY_NAME,
    CONFIG,
    PREFIX,
    SETTINGS,
    Problem,
    config_path,
    read_settings,
)

#: The settings Django takes (every option but answer_crashes: see the module docstring).
DJANGO_SETTINGS = frozenset(name for name in BY_NAME if name != "IISCORS_ANSWER_CRASHES")
DEFAULT_TEXT = 'BASE_DIR / "web.config"'


@dataclass(frozen=True)
class Configured:
    """What the settings say: the web.config source, the middleware's options, the problems."""

    source: Path | None
    options: dict[str, object] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def read() -> Configured:
    """Read every ``IISCORS_*`` setting; never raises for a bad one (see :func:`require`)."""
    given = {name: getattr(settings, name) for name in dir(settings) if name.startswith(PREFIX)}
    options, problems = read_settings(given, DJANGO_SETTINGS)
    # every option Django takes, the table's default where not set (the policy needs them all)
    options = {s.option: s.default for s in SETTINGS if s.name in DJANGO_SETTINGS} | options
    base = getattr(settings, "BASE_DIR", None)
    default = Path(base) / "web.config" if isinstance(base, str | os.PathLike) else None
    source, problem = config_path(given.get(CONFIG), default=default, default_text=DEFAULT_TEXT)
    if problem is not None:
        problems.insert(0, problem)
    return Configured(source, options, tuple(problems))


def require() -> Configured:
    """The settings, or ImproperlyConfigured naming every unusable one."""
    configured = read()
    if configured.problems:
        raise ImproperlyConfigured("iiscors: " + " ".join(map(str, configured.problems)))
    return configured
