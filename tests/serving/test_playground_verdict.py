"""The playground shows the browser's verdict (contract F1) computed by the one implementation
``iiscors explain`` uses: the explain endpoint's ``browser`` object is the CLI's, field for
field, and the page's script only renders it (tests/browser/test_playground.py checks the
rendered verdict against Chromium's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from iiscors import CorsMiddleware
from iiscors.cli.main import main
from iiscors.serving.demo.app import demo_app
from iiscors.serving.playground_apps import ASSETS, PlaygroundPage, RecordingApi

#: the Host werkzeug's test client sends, and so the page origin the endpoint uses
ORIGIN = "http://localhost"
CONFIG = """<configuration><system.webServer>
<cors enabled="true" failUnlistedOrigins="true">
<add origin="http://localhost" maxAge="60">
<allowMethods><add method="PUT" /></allowMethods>
<allowHeaders><add header="X-A" /><add header="*" /></allowHeaders>
</add>
</cors>
<httpProtocol><customHeaders><add name="X-Site" value="demo" /></customHeaders></httpProtocol>
</system.webServer></configuration>
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Client, Path]:
    path = tmp_path / "web.config"
    path.write_text(CONFIG, encoding="utf-8")
    api = RecordingApi(CorsMiddleware(demo_app, str(path), reload_interval=0))
    return Client(PlaygroundPage(api, "http://127.0.0.1:9")), path


def endpoint(client: Client, **params: str) -> dict[str, Any]:
    response = client.get("/__iiscors/explain", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    payload: dict[str, Any] = json.loads(response.get_data(as_text=True))
    return payload


def cli(path: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["explain", str(path), "--origin", ORIGIN, "-f", "json",
                                       *args])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize(("method", "headers", "credentials", "options", "verdict"), [
    ("GET", "", "same-origin", [], "allowed"),
    ("PUT", "X-A: 1", "omit", ["--method", "PUT", "--header", "X-A: 1",
                               "--credentials", "omit"], "allowed"),
    ("DELETE", "", "omit", ["--method", "DELETE", "--credentials", "omit"], "blocked"),
    ("GET", "Authorization: Bearer t", "omit",
     ["--header", "Authorization: Bearer t", "--credentials", "omit"], "blocked"),
    ("POST", "X-B: 2\nContent-Type: application/json", "include",
     ["--method", "POST", "--header", "X-B: 2", "--content-type", "application/json",
      "--credentials", "include"], "blocked"),
])
def test_the_endpoint_gives_the_cli_verdict(setup: tuple[Client, Path], method: str,
                                            headers: str, credentials: str,
                                            options: list[str], verdict: str) -> None:
    client, path = setup
    data = endpoint(client, method=method, path="/api/items", headers=headers,
                    credentials=credentials)
    expected = cli(path, "--path", "/api/items", *options)["browser"]
    assert data["browser"] == expected
    assert data["browser"]["verdict"] == verdict
    assert data["actual_sent"] is expected["actual_sent"]


def test_a_refused_preflight_says_so_in_the_verdict(setup: tuple[Client, Path]) -> None:
    client, _ = setup
    data = endpoint(client, method="DELETE", path="/api/items/1", credentials="omit")
    browser = data["browser"]
    assert browser["check"] == "MethodDisallowedByPreflightResponse"
    assert browser["message"] == ("Method DELETE is not allowed by Access-Control-Allow-Methods "
                                  "in preflight response.")
    assert data["actual_sent"] is False and data["preflight"]["status"] == 204


def test_the_page_renders_the_server_verdict() -> None:
    script = (ASSETS / "playground_page.js").read_text(encoding="utf-8")
    page = (ASSETS / "playground_page.html").read_text(encoding="utf-8")
    assert 'id="predicted-verdict"' in page
    assert 'setVerdict("predicted-verdict", data.browser.verdict' in script
    assert "browser_notes" not in script
