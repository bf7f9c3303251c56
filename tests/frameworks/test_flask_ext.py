"""iiscors.flask: the extension on real Flask applications, through Flask's test client and the
``flask`` command (``flask --app ... iiscors validate|explain`` in a subprocess)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from flask import Flask, abort, request

from iiscors.flask import IISCors, Installed
from iiscors.options import SettingsError
from iiscors.policy.plan import FORBIDDEN_BODY
from iiscors.wsgi import CorsMiddleware

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://app.example"
WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://app.example" allowCredentials="true">
        <allowMethods><add method="DELETE" /></allowMethods>
      </add>
    </cors>
  </system.webServer>
</configuration>
"""
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}


def make_app(root: Path, **config: Any) -> Flask:
    """An app whose every route needs a login (a before_request hook answers 401)."""
    app = Flask("orders", root_path=str(root))
    app.config.update(config)

    @app.before_request
    def needs_login() -> None:
        if request.headers.get("Authorization") != "Bearer ok":
            abort(401)

    @app.get("/orders")
    def orders() -> dict[str, list[str]]:
        return {"orders": []}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("the view failed")

    return app


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    return tmp_path


def test_the_test_client_sees_the_headers(site: Path) -> None:
    app = make_app(site)
    IISCors(app)  # web.config in app.root_path, the default
    client = app.test_client()
    preflight = client.options("/orders", headers=PREFLIGHT)
    assert preflight.status_code == 204  # before the login hook (contract B8)
    assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE"
    unauthorised = client.get("/orders", headers={"Origin": ORIGIN})
    assert unauthorised.status_code == 401  # the app's 401, with the headers (B9)
    assert unauthorised.headers.getlist("Access-Control-Allow-Origin") == [ORIGIN]
    refused = client.get("/orders", headers={"Origin": "https://evil.example"})
    assert (refused.status_code, refused.data) == (403, FORBIDDEN_BODY)


def test_config_key_and_app_factory(site: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "conf"
    elsewhere.mkdir()
    (elsewhere / "web.config").write_text(WEB_CONFIG.replace(ORIGIN, "https://other.example"))
    iiscors = IISCors()
    app = make_app(site, IISCORS_CONFIG=str(elsewhere / "web.config"))
    middleware = iiscors.init_app(app)
    assert app.wsgi_app is middleware and isinstance(middleware, CorsMiddleware)
    installed = app.extensions["iiscors"]
    assert isinstance(installed, Installed) and installed.config == elsewhere / "web.config"
    response = app.test_client().get("/orders", headers={"Origin": "https://other.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://other.example"


def test_options_precedence(site: Path) -> None:
    # init_app's keywords, then IISCors()'s, then app.config, then the defaults
    app = make_app(site, IISCORS_RELOAD=False, IISCORS_STRICT=True, IISCORS_RELOAD_INTERVAL=5)
    middleware = IISCors(reload_interval=7, strict=False).init_app(app, reload_interval=9)
    assert (middleware.reload, middleware.strict, middleware.reload_interval) == (False, False, 9)
    assert middleware.answer_crashes is False and middleware.exempt_same_origin is False


def test_it_wraps_outermost(site: Path) -> None:
    app = make_app(site)

    def auth_everything(inner: Any) -> Any:  # a wsgi_app wrapper added before IISCors
        def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"no"]
        return wrapped

    app.wsgi_app = auth_everything(app.wsgi_app)  # type: ignore[method-assign]
    IISCors(app)
    assert app.test_client().options("/orders", headers=PREFLIGHT).status_code == 204


def test_a_views_crash_is_flasks_500_with_the_headers(site: Path) -> None:
    app = make_app(site)
    IISCors(app)
    response = app.test_client().get("/boom", headers={"Origin": ORIGIN,
                                                       "Authorization": "Bearer ok"})
    assert response.status_code == 500 and response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_under_testing_the_exception_reaches_the_test(site: Path) -> None:
    app = make_app(site, TESTING=True)
    IISCors(app)
    with pytest.raises(RuntimeError, match="the view failed"):
        app.test_client().get("/boom", headers={"Origin": ORIGIN, "Authorization": "Bearer ok"})


def test_answer_crashes_can_be_turned_on(site: Path) -> None:
    app = make_app(site, TESTING=True, IISCORS_ANSWER_CRASHES=True)
    IISCors(app)
    response = app.test_client().get("/boom", headers={"Origin": ORIGIN,
                                                       "Authorization": "Bearer ok"})
    assert response.status_code == 500 and response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_initialised_twice_headers_once(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(site)
    IISCors(app)
    IISCors(app)
    for _ in range(2):
        response = app.test_client().get("/orders", headers={"Origin": ORIGIN})
        assert response.headers.getlist("Access-Control-Allow-Origin") == [ORIGIN]
    assert len([r for r in caplog.records if r.name == "iiscors"
                and r.levelno == logging.WARNING and "steps aside" in r.getMessage()]) == 1


@pytest.mark.parametrize(("config", "keywords", "expected"), [
    ({"IISCORS_RELOAD": "no"}, {}, "IISCORS_RELOAD must be True or False, not 'no' (a str)"),
    ({"IISCORS_STICT": True}, {}, "IISCORS_STICT is not an iiscors setting here. Did you mean "
                                  "IISCORS_STRICT?"),
    ({"IISCORS_CONFIG": "missing/web.config"}, {},
     "IISCORS_CONFIG names missing/web.config, which does not exist"),
    ({}, {"max_bytes": -1}, "IISCors()'s max_bytes must be a whole number of bytes above 0"),
], ids=["type", "typo", "missing", "keyword"])
def test_bad_settings_name_the_setting(site: Path, config: dict[str, Any],
                                       keywords: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        IISCors(make_app(site, **config), **keywords)
    assert expected in str(raised.value)


def test_no_web_config_beside_the_app(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r'its default app.root_path / "web.config"'):
        IISCors(make_app(tmp_path))


def test_an_unknown_keyword_is_a_type_error(site: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'relaod'"):
        IISCors(relaod=False)


# The flask command -------------------------------------------------------------------------

APP_MODULE = '''
from flask import Flask
from iiscors.flask import IISCors

app = Flask(__name__)
IISCors(app)
'''


def flask(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (site / "served.py").write_text(APP_MODULE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)]),
           "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "served", "iiscors", *args],
                          cwd=site, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_flask_iiscors_validate(site: Path) -> None:
    result = flask(site, "validate")
    assert result.returncode == 0, result.stderr
    assert "W222" in result.stdout and str(site / "web.config") in result.stdout
    assert flask(site, "validate", "--strict").returncode == 1  # its options pass through
    json_report = flask(site, "validate", "--format", "json")
    assert json_report.stdout.lstrip().startswith("{")


def test_flask_iiscors_explain(site: Path) -> None:
    result = flask(site, "explain", "--origin", ORIGIN, "--method", "OPTIONS",
                   "--request-method", "DELETE")
    assert result.returncode == 0, result.stderr
    assert "204" in result.stdout and "Access-Control-Allow-Methods: DELETE" in result.stdout


def test_flask_iiscors_help_is_the_commands(site: Path) -> None:
    result = flask(site, "validate", "--help")
    assert result.returncode == 0 and "Usage: flask iiscors validate" in result.stdout
    assert "--format" in result.stdout
    assert "validate" in flask(site, "--help").stdout


def test_an_unusable_web_config_stops_the_app_with_its_diagnostics(site: Path) -> None:
    (site / "web.config").write_text('<configuration><system.webServer><cors enabled="maybe" '
                                     'bogus="1" /></system.webServer></configuration>')
    result = flask(site, "validate")
    assert result.returncode != 0
    *_, last_frame, error = result.stderr.strip().splitlines()
    assert error.startswith("iiscors.config.diagnostics.ConfigError: ")
    assert "E20" in error and "(and 1 more errors)" in error
    # the traceback stops where IISCors raised it, not inside iiscors
    assert last_frame.strip() == "raise error.with_traceback(None) from None"
    assert "reload.py" not in result.stderr
