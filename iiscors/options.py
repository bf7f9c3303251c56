"""The middleware's keyword options as framework settings: ``IISCORS_*`` (Django, Flask).

One table, :data:`SETTINGS`, names every setting, the middleware option it sets, what it
accepts and its default; the Django and the Flask integrations read their settings through
:func:`read_settings` and :func:`config_path`, so both accept the same values and word their
errors alike.  Nothing here raises: the problems are returned, each naming its setting, and each
integration raises them its own way at start-up (Django's ``ImproperlyConfigured``, and its
system checks; :class:`SettingsError` for Flask).  docs/frameworks.md lists the settings.
"""

from __future__ import annotations

import difflib
import enum
import math
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.reload import DEFAULT_RELOAD_INTERVAL

#: Every setting starts with it; an unknown name with it is an error, not a silent no-op.
PREFIX = "IISCORS_"
#: The setting naming the web.config file or the site directory.
CONFIG = "IISCORS_CONFIG"


class Kind(enum.Enum):
    """What is wrong with a setting (the Django checks give each its own id)."""

    UNKNOWN = "unknown"  # a name no setting has (a typo, or not for this framework)
    TYPE = "type"  # a value of the wrong type or out of range
    MISSING = "missing"  # IISCORS_CONFIG names nothing on disk


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable setting: its name, the kind of problem, and a sentence naming it."""

    setting: str
    kind: Kind
    message: str

    def __str__(self) -> str:
        return self.message


class SettingsError(ValueError):
    """Settings that cannot be used; carries every problem, each naming its setting."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(map(str, self.problems)))


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_interval(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``IISCORS_*`` setting and the middleware option it sets."""

    name: str
    option: str
    expected: str  # what it accepts, in words, for the error message
    accepts: Callable[[object], bool]
    default: object
    help: str


_BOOL = "True or False"
SETTINGS: tuple[Setting, ...] = (
    Setting("IISCORS_MAX_BYTES", "max_bytes", "a whole number of bytes above 0", _is_size,
            DEFAULT_MAX_BYTES, "size limit for each web.config (IIS's default, 250 KiB)"),
    Setting("IISCORS_EXEMPT_SAME_ORIGIN", "exempt_same_origin", _BOOL, _is_bool, False,
            "requests whose Origin is the request's own scheme://Host go on untouched (B13)"),
    Setting("IISCORS_RELOAD", "reload", _BOOL, _is_bool, True,
            "notice web.config edits and swap the policy in atomically"),
    Setting("IISCORS_RELOAD_INTERVAL", "reload_interval", "a number of seconds, 0 or more",
            _is_interval, DEFAULT_RELOAD_INTERVAL, "seconds between two checks of the files"),
    Setting("IISCORS_STRICT", "strict", _BOOL, _is_bool, False,
            "while an edited web.config is unusable, answer 500 (IIS's 500.19)"),
    Setting("IISCORS_ANSWER_CRASHES", "answer_crashes", _BOOL, _is_bool, True,
            "answer an exception that escapes the application with a 500 carrying the CORS "
            "headers"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
BY_OPTION = {setting.option: setting for setting in SETTINGS}


def _shown(value: object) -> str:
    return f"{value!r} (a {type(value).__name__})"


def read_settings(values: Mapping[str, object], allowed: Collection[str]) -> tuple[
        dict[str, object], list[Problem]]:
    """The middleware's keyword options from ``values`` (every ``IISCORS_*`` setting given,
    :data:`CONFIG` included), and a problem for each unknown name or unusable value.

    :param allowed: the setting names this framework takes (:data:`CONFIG` is always allowed).
    """
    options: dict[str, object] = {}
    problems: list[Problem] = []
    known = sorted({*allowed, CONFIG})
    for name, value in sorted(values.items()):
        if name == CONFIG:
            continue
        setting = BY_NAME.get(name)
        if setting is None or name not in allowed:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]}?" if close else f" The settings are: {known}."
            problems.append(Problem(name, Kind.UNKNOWN, f"{name} is not an iiscors setting "
                                    f"here.{hint}"))
        elif not setting.accepts(value):
            problems.append(Problem(name, Kind.TYPE,
                                    f"{name} must be {setting.expected}, not {_shown(value)}."))
        else:
            options[setting.option] = value
    return options, problems


def read_keywords(keywords: Mapping[str, object], owner: str) -> tuple[
        dict[str, object], list[Problem]]:
    """The middleware's options given in code as keyword arguments (``reload=False``), and a
    problem for each unusable value, naming the keyword.

    :param owner: what took the keywords, for the message (``IISCors()``).
    :raises TypeError: a keyword that is no option, as Python says of an unexpected keyword.
    """
    options: dict[str, object] = {}
    problems: list[Problem] = []
    for key, value in sorted(keywords.items()):
        setting = BY_OPTION.get(key)
        if setting is None:
            raise TypeError(f"{owner} got an unexpected keyword argument {key!r}; its options "
                            f"are {sorted(BY_OPTION)}")
        if setting.accepts(value):
            options[key] = value
        else:
            problems.append(Problem(key, Kind.TYPE, f"{owner}'s {key} must be "
                                    f"{setting.expected}, not {_shown(value)}."))
    return options, problems


def config_path(value: object, *, default: Path | None,
                default_text: str) -> tuple[Path | None, Problem | None]:
    """The web.config file or site directory :data:`CONFIG` names, or its problem.

    :param value: the setting's value, None when it is not set.
    :param default: the path used when it is not set (None: there is none).
    :param default_text: how the framework's documentation writes that default.
    """
    if value is None:
        if default is None:
            return None, Problem(CONFIG, Kind.MISSING, f"{CONFIG} is not set, and there is no "
                                 f"{default_text} to default to.")
        if not default.exists():
            return None, Problem(CONFIG, Kind.MISSING, f"{CONFIG} is not set, and its default "
                                 f"{default_text} ({default}) does not exist: create it, or set "
                                 f"{CONFIG} to a web.config file or a site directory.")
        return default, None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        return None, Problem(CONFIG, Kind.TYPE, f"{CONFIG} must be the path of a web.config "
                             f"file or of a site directory, not {_shown(value)}.")
    path = Path(value)
    if not path.exists():
        return None, Problem(CONFIG, Kind.MISSING,
                             f"{CONFIG} names {path}, which does not exist.")
    return path, None
