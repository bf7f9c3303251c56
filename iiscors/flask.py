"""iiscors for Flask: an extension, in the shape flask-cors users know (``CORS(app)``,
``init_app``, ``app.config`` keys), around :class:`iiscors.CorsMiddleware`.

::

    from iiscors.flask import IISCors

    IISCors(app)                      # web.config beside the app, or app.config["IISCORS_CONFIG"]
    # or, with an application factory:  iiscors = IISCors(); ... iiscors.init_app(app)

It wraps ``app.wsgi_app`` (so Flask's test client sees the headers too), outermost at the time
it is called: call it after anything else that wraps ``app.wsgi_app``, except ProxyFix and its
kind, which fix the environ it reads and belong outside.  Options come from, first to last:
keywords of ``init_app``, keywords of ``IISCors()``, ``app.config["IISCORS_*"]`` (the names and
values of :mod:`iiscors.options`), the defaults.  ``answer_crashes`` is off by default here:
Flask answers a view's exception with its own 500 (which then carries the CORS headers), and
lets one through only when told to (``TESTING``, ``DEBUG``, ``PROPAGATE_EXCEPTIONS``), for a test
or a debugger to see; iiscors lets it through too.

It adds ``flask iiscors validate`` and ``flask iiscors explain``: the ``iiscors`` commands, run
on the application's web.config (every option of theirs works).  They need the application to
load, so an unusable web.config stops ``flask`` at start-up with its ConfigError (the first
error and how many more) instead: ``iiscors validate`` on the file lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from iiscors.config.diagnostics import ConfigError
from iiscors.options import (
    BY_NAME,
    CONFIG,
    PREFIX,
    SETTINGS,
    SettingsError,
    config_path,
    read_keywords,
    read_settings,
)
from iiscors.wsgi import CorsMiddleware

#: The key of ``app.extensions`` the extension sets.
EXTENSION = "iiscors"
DEFAULT_TEXT = 'app.root_path / "web.config"'
#: The defaults of the Flask extension: the middleware's, but answer_crashes (module docstring).
DEFAULTS: dict[str, object] = {s.option: s.default for s in SETTINGS} | {"answer_crashes": False}

ConfigPath = str | os.PathLike[str]


@dataclass(frozen=True)
class Installed:
    """What ``app.extensions["iiscors"]`` holds: the middleware and the path it reads."""

    middleware: CorsMiddleware
    config: Path


class IISCors:
    """The IIS CORS behaviour of a web.config for a Flask application.

    :param app: the application; None to call :meth:`init_app` later (an app factory).
    :param config: the web.config file or site directory; default
        ``app.config["IISCORS_CONFIG"]``, then ``web.config`` in ``app.root_path``.
    :param options: the middleware's keyword options (``reload=False``, ...).
    :raises SettingsError: an ``IISCORS_*`` key or an option is unusable, or the web.config
        named does not exist (each problem names its setting).
    :raises ConfigError: the web.config is unusable (every diagnostic attached).
    """

    def __init__(self, app: Flask | None = None, config: ConfigPath | None = None,
                 **options: object) -> None:
        self.config = config
        self.options = options
        read_keywords(options, "IISCors()")  # an unknown keyword fails here, not later
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, config: ConfigPath | None = None,
                 **options: object) -> CorsMiddleware:
        """Wrap ``app.wsgi_app`` and add the ``flask iiscors`` commands; return the
        middleware."""
        given = {k: v for k, v in app.config.items() if k.startswith(PREFIX)}
        from_settings, problems = read_settings(given, BY_NAME)
        from_code, code_problems = read_keywords({**self.options, **options}, "IISCors()")
        chosen = next((c for c in (config, self.config) if c is not None), given.get(CONFIG))
        source, problem = config_path(chosen, default=Path(app.root_path) / "web.config",
                                      default_text=DEFAULT_TEXT)
        problems = ([problem] if problem is not None else []) + problems + code_problems
        if problems or source is None:
            raise SettingsError(problems)
        try:
            middleware = CorsMiddleware(app.wsgi_app, source,
                                        **(DEFAULTS | from_settings | from_code))  # type: ignore[arg-type]
        except ConfigError as error:
            # the diagnostics are the news, not iiscors's frames: the traceback stops here
            raise error.with_traceback(None) from None
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION] = Installed(middleware, source)
        app.cli.add_command(cli)
        return middleware


@click.group(EXTENSION, cls=AppGroup)
def cli() -> None:
    """The iiscors commands on this application's web.config (IISCORS_CONFIG)."""


#: The commands hand every argument to the iiscors command line, --help included.
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True,
                 "help_option_names": []}


@cli.command("validate", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def validate(args: tuple[str, ...]) -> None:
    """iiscors validate on the application's web.config (its options: --help)."""
    _run("validate", args)


@cli.command("explain", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def explain(args: tuple[str, ...]) -> None:
    """iiscors explain on the application's web.config (--origin ...; its options: --help)."""
    _run("explain", args)


def _run(command: str, args: tuple[str, ...]) -> None:
    """Run ``iiscors COMMAND CONFIG ARGS...``; its exit status is flask's."""
    from iiscors.cli.main import main  # the command line, loaded only when a command runs

    installed = current_app.extensions.get(EXTENSION)
    if not isinstance(installed, Installed):
        raise click.UsageError("IISCors is not initialised on this application")
    main.main([command, str(installed.config), *args], prog_name="flask iiscors",
              standalone_mode=True)
