"""The playground's page server in process: the explain endpoint's JSON (the same rendering as
``iiscors explain --format json``), what the browser is predicted to send, 400s for bad input
(a JSON message, never a traceback), the config and seen-request endpoints, and the page's own
safety (no inline script, no innerHTML, a strict CSP)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from iiscors import CorsMiddleware
from iiscors.cli.main import main
from iiscors.policy.core import CorsRequest
from iiscors.policy.explanation import decision_json
from iiscors.policy.fetch import browser_request
from iiscors.serving.demo.app import demo_app
from iiscors.serving.playground_apps import ASSETS, PlaygroundPage, RecordingApi
from iiscors.serving.playground_explain import PlaygroundInputError

API = "http://127.0.0.1:9"
#: the Host werkzeug's test client sends, and so the page origin explain uses
ORIGIN = "http://localhost"

CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="http://localhost" allowCredentials="true" maxAge="60">
        <allowMethods>
          <add method="PUT" />
        </allowMethods>
        <allowHeaders>
          <add header="X-A" />
        </allowHeaders>
      </add>
    </cors>
  </system.webServer>
</configuration>
"""
STAR = CONFIG.replace('origin="http://localhost" allowCredentials="true"', 'origin="*"')


def setup(tmp_path: Path, text: str = CONFIG) -> tuple[Client, RecordingApi, Path]:
    path = tmp_path / "web.config"
    path.write_text(text, encoding="utf-8")
    api = RecordingApi(CorsMiddleware(demo_app, str(path), reload_interval=0))
    return Client(PlaygroundPage(api, API)), api, path


def explain(client: Client, **params: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/__iiscors/explain", query_string=params)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    payload: dict[str, Any] = json.loads(text)
    return response.status_code, payload


def test_simple_get_is_the_cli_explain_json(tmp_path: Path) -> None:
    client, _, path = setup(tmp_path)
    status, data = explain(client, method="GET", path="/api/items?x=1",
                           credentials="include")
    assert status == 200
    assert data["simple"] is True and data["preflight"] is None and data["actual_sent"]
    assert data["origin"] == ORIGIN and data["credentials"] == "include"
    # The actual request's block is exactly what `iiscors explain --format json` prints.
    result = CliRunner().invoke(main, ["explain", str(path), "--origin", ORIGIN, "--path",
                                       "/api/items", "-f", "json"])
    cli = json.loads(result.output)
    for key in ("request", "scope", "kind", "outcome", "status", "headers", "rule", "reason"):
        assert data["actual"][key] == cli[key], key
    assert data["actual"]["outcome"] == "allowed"
    assert data["actual"]["rule"]["line"] == 5 and data["actual"]["rule"]["file"] == str(path)
    assert data["browser"]["verdict"] == "allowed" and data["browser"]["check"] is None


def test_preflighted_put_explains_preflight_and_actual(tmp_path: Path) -> None:
    client, api, _ = setup(tmp_path)
    config = api.middleware.config
    status, data = explain(client, method="put", path="/api/items",
                           headers="X-B: 2\nx-a: 1\n\nContent-Type: text/plain")
    assert status == 200
    assert data["simple"] is False and data["method"] == "PUT"
    assert data["why_preflight"][0].startswith("PUT is not a CORS-safelisted method")
    preflight = CorsRequest(method="OPTIONS", origin=ORIGIN, request_method="PUT",
                            request_headers="x-a,x-b", path="/api/items")
    expected = decision_json(config.decide(preflight), preflight, config.scope_of("/api"))
    assert data["preflight"] == expected
    assert data["preflight"]["status"] == 204
    # The middleware allows it, but the browser also needs x-b in Allow-Headers (F1).
    assert data["browser"]["check"] == "HeaderDisallowedByPreflightResponse"
    assert data["browser"]["message"] == ("Request header field x-b is not allowed by "
                                          "Access-Control-Allow-Headers in preflight response.")
    assert data["actual_sent"] is False
    assert data["actual"]["request"]["method"] == "PUT"
    assert data["sent_headers"] == [["X-B", "2"], ["x-a", "1"], ["Content-Type", "text/plain"]]


def test_denied_origin_gives_the_reason_and_no_actual_request(tmp_path: Path) -> None:
    client, _, _ = setup(tmp_path, CONFIG.replace("http://localhost", "https://other.example"))
    status, data = explain(client, method="DELETE", path="/api/items/1")
    assert status == 200
    assert data["preflight"]["outcome"] == "denied" and data["preflight"]["status"] == 403
    assert "no rule matches 'http://localhost'" in data["preflight"]["reason"]
    assert data["preflight"]["rule"] is None
    assert data["actual_sent"] is False


def test_credentials_with_a_star_rule_get_the_browser_verdict(tmp_path: Path) -> None:
    client, _, _ = setup(tmp_path, STAR)
    _, data = explain(client, method="GET", path="/", credentials="include")
    assert data["browser"]["verdict"] == "blocked"
    assert data["browser"]["check"] == "WildcardOriginNotAllowed"
    assert "must not be the wildcard '*'" in data["browser"]["message"]
    _, data = explain(client, method="GET", path="/", credentials="omit")
    assert data["browser"]["verdict"] == "allowed"


@pytest.mark.parametrize(("method", "headers", "simple", "acrh", "sent_method"), [
    ("GET", "", True, None, "GET"),
    ("post", "Content-Type: text/plain;charset=UTF-8", True, None, "POST"),
    ("POST", "Content-Type: application/json", False, "content-type", "POST"),
    ("GET", "Accept: " + "a" * 129, False, "accept", "GET"),
    ("GET", "Accept-Language: en-GB\nContent-Language: fr", True, None, "GET"),
    ("GET", "Accept-Language: en(GB)", False, "accept-language", "GET"),
    ("GET", "Range: bytes=0-99", True, None, "GET"),
    ("GET", "X-Z: 1\nX-A: 2\nx-z: 3", False, "x-a,x-z", "GET"),
    ("patch", "", False, None, "patch"),  # fetch() upper-cases only the six standard methods
    ("GET", "Cookie: a=b\nOrigin: https://evil.example\nSec-Fetch-Mode: no-cors", True, None,
     "GET"),
])
def test_what_the_browser_sends(method: str, headers: str, simple: bool, acrh: str | None,
                                sent_method: str) -> None:
    from iiscors.serving.playground_explain import parse_header_lines

    plan = browser_request(method, parse_header_lines(headers))
    assert plan.needs_preflight is (not simple)
    assert plan.preflight_headers == acrh
    assert plan.method == sent_method


def test_forbidden_headers_are_dropped_and_repeats_joined() -> None:
    from iiscors.serving.playground_explain import parse_header_lines

    plan = browser_request("GET", parse_header_lines(
        "Cookie: a=b\nX-A: 1\nx-a: 2\nProxy-Authorization: x"))
    assert plan.dropped == ("Cookie", "Proxy-Authorization")
    assert plan.headers == (("X-A", "1, 2"),)


def test_safelisted_values_over_1024_bytes_need_a_preflight() -> None:
    from iiscors.serving.playground_explain import parse_header_lines

    lines = "\n".join(f"Accept: {'a' * 120}" for _ in range(9))
    plan = browser_request("GET", parse_header_lines(lines))
    assert plan.needs_preflight and plan.preflight_headers == "accept"


@pytest.mark.parametrize(("params", "message"), [
    ({"path": "/"}, "missing query parameter 'method'"),
    ({"method": "GET"}, "missing query parameter 'path'"),
    ({"method": "GET", "path": "api"}, "path must start with a single /"),
    ({"method": "GET", "path": "//evil.example/"}, "path must start with a single /"),
    ({"method": "GET", "path": "/a b"}, "spaces or control characters"),
    ({"method": "GET", "path": "/", "credentials": "all"}, "credentials must be one of"),
    ({"method": "GET", "path": "/", "headers": "no colon here"}, "has no colon"),
    ({"method": "GET", "path": "/", "headers": "Bad Name: 1"}, "not a valid header name"),
    ({"method": "GET", "path": "/", "headers": "X-A: \u20ac"}, "cannot send"),
    ({"method": "GET", "path": "/", "headers": "X: 1\n" * 51}, "at most 50 header lines"),
    ({"method": "G T", "path": "/"}, "not a valid method"),
    ({"method": "connect", "path": "/"}, "refuses the method CONNECT"),
    ({"method": "HEAD", "path": "/", "body": "x"}, "cannot have a body"),
    ({"method": "GET", "path": "/" + "a" * 9000}, "longer than 8192"),
    ({"method": "GET", "path": "/", "origin": "https://x.example"},
     "unknown query parameter 'origin'"),
])
def test_bad_input_is_a_400_with_a_message(tmp_path: Path, params: dict[str, str],
                                           message: str) -> None:
    client, _, _ = setup(tmp_path)
    status, data = explain(client, **params)
    assert status == 400
    assert set(data) == {"error"} and message in data["error"], data


def test_a_repeated_parameter_is_a_400(tmp_path: Path) -> None:
    client, _, _ = setup(tmp_path)
    response = client.get("/__iiscors/explain?method=GET&method=PUT&path=/")
    assert response.status_code == 400
    assert "more than once" in response.get_json()["error"]


def test_input_errors_are_the_only_exceptions_caught() -> None:
    assert issubclass(PlaygroundInputError, ValueError)


def test_explain_follows_an_edited_config(tmp_path: Path) -> None:
    client, _, path = setup(tmp_path)
    assert explain(client, method="GET", path="/")[1]["actual"]["outcome"] == "allowed"
    path.write_text(CONFIG.replace("http://localhost", "https://other.example"),
                    encoding="utf-8")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    data = explain(client, method="GET", path="/")[1]
    assert data["actual"]["outcome"] == "denied"
    config = client.get("/__iiscors/config").get_json()
    assert "https://other.example" in config["files"][0]["text"]


def test_config_endpoint(tmp_path: Path) -> None:
    client, _, path = setup(tmp_path)
    data = client.get("/__iiscors/config").get_json()
    assert data["api"] == API and data["origin"] == ORIGIN and data["reload"] is True
    assert data["files"] == [{"name": str(path), "text": CONFIG}]
    assert isinstance(data["warnings"], list)


def test_seen_lists_what_reached_the_api(tmp_path: Path) -> None:
    client, api, _ = setup(tmp_path)
    before = client.get("/__iiscors/seen").get_json()["last"]
    api_client = Client(api)
    api_client.options("/api/items", headers={"Origin": "https://evil.example",
                                              "Access-Control-Request-Method": "PUT"})
    api_client.get("/api/items", headers={"Origin": ORIGIN})
    data = client.get(f"/__iiscors/seen?after={before}").get_json()
    assert data["last"] == before + 2
    assert [(r["method"], r["preflight"], r["status"]) for r in data["requests"]] == [
        ("OPTIONS", True, 403), ("GET", False, 200)]
    assert data["requests"][0]["origin"] == "https://evil.example"
    assert client.get(f"/__iiscors/seen?after={data['last']}").get_json()["requests"] == []
    bad = client.get("/__iiscors/seen?after=-1")
    assert bad.status_code == 400 and "non-negative integer" in bad.get_json()["error"]


def test_other_paths_and_methods(tmp_path: Path) -> None:
    client, _, _ = setup(tmp_path)
    assert client.get("/nope").status_code == 404
    response = client.post("/__iiscors/explain")
    assert response.status_code == 405 and "error" in response.get_json()


def test_the_page_and_its_assets(tmp_path: Path) -> None:
    client, _, _ = setup(tmp_path)
    for url, kind in (("/", "text/html"), ("/playground.js", "text/javascript"),
                      ("/playground.css", "text/css")):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == kind
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and f"connect-src 'self' {API};" in csp
    html = client.get("/").get_data(as_text=True)
    # No inline script or external resource: only the page's own files.
    assert "<script src=\"/playground.js\"" in html and "<script>" not in html
    assert "http://" not in html and "https://" not in html
    script = (ASSETS / "playground_page.js").read_text(encoding="utf-8")
    # Every value reaches the DOM through textContent: no HTML is ever parsed from data.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_the_command_is_registered() -> None:
    runner = CliRunner()
    assert "playground" in runner.invoke(main, ["--help"]).output
    result = runner.invoke(main, ["playground", "--help"])
    assert result.exit_code == 0
    for option in ("--app", "--host", "--api-port", "--page-port"):
        assert option in result.output


def test_an_unusable_config_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text("<configuration><system.webServer><cors enabled=\"maybe\"/>"
                    "</system.webServer></configuration>", encoding="utf-8")
    result = CliRunner().invoke(main, ["playground", str(path), "--api-port", "0",
                                       "--page-port", "0"])
    assert result.exit_code == 1
