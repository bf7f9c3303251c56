"""``manage.py check`` on the Django test project: every web.config diagnostic with its code,
the middleware's place, and the settings (iiscors.django.checks).

Each test runs the real ``manage.py check`` in a subprocess, with a settings module written
for it (the project's settings, then the lines the test is about).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django")

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "django_project"
BAD = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" bogus="1">
      <remove origin="https://gone.example" />
      <add origin="https://App.example" maxAge="99999" />
    </cors>
  </system.webServer>
</configuration>
"""
#: warnings only (lint runs once the errors are gone): W204 upper case, W215 maxAge
WARNED = BAD.replace(' bogus="1"', "").replace('      <remove origin="https://gone.example" />\n',
                                                "")


def check(tmp_path: Path, *lines: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` with the project's settings plus ``lines``."""
    (tmp_path / "check_settings.py").write_text(
        "from corsite.settings import *  # noqa: F403\n" + "\n".join(lines) + "\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "check_settings",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(PROJECT), str(tmp_path)])}
    return subprocess.run([sys.executable, str(PROJECT / "manage.py"), "check"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_projects_web_config_has_no_error(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    # its failUnlistedOrigins warning (W222) is reported, with its place and code
    assert f"{PROJECT / 'web.config'}:4:26: (iiscors.W222)" in result.stderr


def test_a_bad_web_config_gives_errors_and_warnings_with_their_codes(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(BAD)
    result = check(tmp_path, f"IISCORS_CONFIG = {str(config)!r}")
    assert result.returncode == 1
    errors, _, warnings = result.stderr.partition("WARNINGS:")
    assert "SystemCheckError" in errors and "ERRORS:" in errors
    assert f"{config}:4:26: (iiscors.E201) Unrecognized attribute 'bogus'" in errors  # located
    assert "\tHINT: Remove the attribute" in errors  # the diagnostic's fix
    assert f"{config}:5:15: (iiscors.W103)" in warnings
    assert "(iiscors.W" not in errors and "(iiscors.E" not in warnings


def test_warnings_alone_do_not_fail_the_check(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(WARNED)
    result = check(tmp_path, f"IISCORS_CONFIG = {str(config)!r}")
    assert result.returncode == 0, result.stderr
    assert "(iiscors.W204)" in result.stderr and "(iiscors.W215)" in result.stderr


def test_a_site_directory_is_checked_whole(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "api").mkdir(parents=True)
    (site / "web.config").write_text(WARNED.replace("App.example", "app.example"))
    (site / "api" / "web.config").write_text(BAD)
    result = check(tmp_path, f"IISCORS_CONFIG = {str(site)!r}")
    assert result.returncode == 1 and "(iiscors.E201)" in result.stderr
    assert "api" in result.stderr.split("(iiscors.E201)")[0].splitlines()[-1]


def test_the_middleware_must_come_first(tmp_path: Path) -> None:
    result = check(tmp_path, 'MIDDLEWARE = MIDDLEWARE[1:] + ["iiscors.django.CorsMiddleware"]')
    assert result.returncode == 0
    assert "(iiscors.W001) iiscors.django.CorsMiddleware is not first in MIDDLEWARE" \
        in result.stderr
    assert "django.contrib.auth.middleware.AuthenticationMiddleware" in result.stderr


def test_an_installed_app_without_its_middleware_is_reported(tmp_path: Path) -> None:
    result = check(tmp_path, "MIDDLEWARE = MIDDLEWARE[1:]")
    assert "(iiscors.W002)" in result.stderr


@pytest.mark.parametrize(("line", "expected"), [
    ("IISCORS_RELAOD = False", "(iiscors.E001) IISCORS_RELAOD is not an iiscors setting here. "
                               "Did you mean IISCORS_RELOAD?"),
    ("IISCORS_STRICT = 'true'", "(iiscors.E002) IISCORS_STRICT must be True or False, "
                                "not 'true' (a str)."),
    ("IISCORS_CONFIG = '/nonexistent/web.config'",
     "(iiscors.E003) IISCORS_CONFIG names /nonexistent/web.config, which does not exist."),
], ids=["unknown", "type", "missing"])
def test_bad_settings(tmp_path: Path, line: str, expected: str) -> None:
    result = check(tmp_path, line)
    assert result.returncode == 1 and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_only_the_iiscors_checks_with_their_tag(tmp_path: Path) -> None:
    (tmp_path / "check_settings.py").write_text("from corsite.settings import *  # noqa: F403\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "check_settings",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(PROJECT), str(tmp_path)])}
    result = subprocess.run([sys.executable, str(PROJECT / "manage.py"), "check", "--tag",
                             "iiscors"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and "(iiscors.W222)" in result.stderr


def test_each_severity_becomes_its_check_level(django_project: Path) -> None:
    # errors as Error, warnings as Warning, any other severity (a note, say) as Info
    from typing import Any, cast

    from django.core import checks

    from iiscors.config.diagnostics import Diagnostic, Severity
    from iiscors.django.checks import message

    def level(severity: Any) -> Any:
        return message(Diagnostic("X100", cast(Severity, severity), "m", "web.config", 3, 5))

    error, warning, note = level(Severity.ERROR), level(Severity.WARNING), level("note")
    assert (type(error), type(warning), type(note)) == (checks.Error, checks.Warning, checks.Info)
    assert (error.id, error.obj, str(note)) == ("iiscors.X100", "web.config:3:5",
                                                "web.config:3:5: (iiscors.X100) m")
