"""The WSGI layer: when the application is called, and how headers are merged (B7-B11)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from iiscors import Config, CorsMiddleware, load_config
from iiscors.wsgi import merge_headers

from support import SAMPLES, Recorder, call, environ_for, web_config

REFERENCE = SAMPLES / "microsoft-reference.config"

#: (method, headers, app called?) over the reference sample (failUnlistedOrigins="true")
CALLS = [
    ("allowed-preflight", "OPTIONS", {"Origin": "https://a.microsoft.com",
                                      "Access-Control-Request-Method": "DELETE"}, False),
    ("denied-preflight-403", "OPTIONS", {"Origin": "http://a.microsoft.com",
                                         "Access-Control-Request-Method": "DELETE"}, False),
    ("denied-actual-403", "GET", {"Origin": "http://a.microsoft.com"}, False),
    ("allowed-actual", "POST", {"Origin": "https://a.microsoft.com"}, True),
    ("star-actual", "GET", {"Origin": "https://example.org"}, True),
    ("no-origin", "GET", {}, True),
    ("options-without-request-method", "OPTIONS", {"Origin": "https://example.org"}, True),
    ("plain-options", "OPTIONS", {}, True),
]


@pytest.mark.parametrize(("method", "headers", "called"), [c[1:] for c in CALLS],
                         ids=[c[0] for c in CALLS])
def test_app_is_called_exactly_when_the_middleware_does_not_answer(
        method: str, headers: dict[str, str], called: bool) -> None:
    app = Recorder()
    middleware = CorsMiddleware(app, REFERENCE)
    call(middleware, method, "/", headers)
    call(middleware, method, "/", headers)
    assert len(app.calls) == (2 if called else 0)


def test_config_may_be_a_path_bytes_or_a_config(tmp_path: Any) -> None:
    config = load_config(REFERENCE)
    assert isinstance(config, Config)
    for source in (REFERENCE, str(REFERENCE), REFERENCE.read_bytes(), config):
        middleware = CorsMiddleware(Recorder(), source)
        response = call(middleware, headers={"Origin": "https://example.org"})
        assert response.get_all("Access-Control-Allow-Origin") == ["https://example.org"]


def test_merge_headers_appends_and_merges_vary_without_mutating() -> None:
    original = [("Content-Type", "text/plain"), ("VARY", "Accept")]
    merged = merge_headers(original, (("Access-Control-Allow-Origin", "x"), ("Vary", "Origin")))
    assert merged == [("Content-Type", "text/plain"), ("VARY", "Accept, Origin"),
                      ("Access-Control-Allow-Origin", "x")]
    assert original == [("Content-Type", "text/plain"), ("VARY", "Accept")]
    assert merge_headers([("Vary", "")], (("Vary", "Origin"),)) == [("Vary", "Origin")]
    # Every Vary header the application sent counts: no token twice across them (B11).
    assert merge_headers([("Vary", "Accept"), ("Vary", "Origin")], (("Vary", "Origin"),)) == [
        ("Vary", "Accept"), ("Vary", "Origin")]
    assert merge_headers([("Vary", "Accept"), ("Vary", "*")], (("Vary", "Origin"),)) == [
        ("Vary", "Accept"), ("Vary", "*")]
    assert merge_headers([("Vary", "accept, ORIGIN")], (("Vary", "Origin"),)) == [
        ("Vary", "accept, ORIGIN")]


def test_b11_app_cors_headers_are_kept_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    app = Recorder(headers=[("Access-Control-Allow-Origin", "*")])
    middleware = CorsMiddleware(app, web_config(
        '<cors enabled="true"><add origin="https://a.example" /></cors>'))
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        for _ in range(3):
            response = call(middleware, headers={"Origin": "https://a.example"})
    assert response.get_all("Access-Control-Allow-Origin") == ["*", "https://a.example"]
    assert len([r for r in caplog.records if "Access-Control-Allow-Origin" in r.message]) == 1


def test_exc_info_and_the_write_callable_pass_through() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys
            write = start_response("500 Internal Server Error", [], sys.exc_info())
        write(b"partial")
        return [b"rest"]

    # Written out, not support.call: what the middleware passes to the server's start_response
    # (exc_info) and what it returns (the write callable) is the subject here.
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.update(status=status, headers=headers, exc_info=exc_info)
        return lambda data: seen.setdefault("written", data)

    middleware = CorsMiddleware(app, web_config(
        '<cors enabled="true"><add origin="https://a.example" /></cors>'))
    body = list(middleware(environ_for(headers={"Origin": "https://a.example"}),
                           start_response))
    assert body == [b"rest"]
    assert seen["written"] == b"partial"
    assert seen["exc_info"][0] is RuntimeError
    assert ("Access-Control-Allow-Origin", "https://a.example") in seen["headers"]


def test_app_iterable_is_returned_untouched_so_close_is_called() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"x"])

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    middleware = CorsMiddleware(app, REFERENCE)
    result = middleware(environ_for(headers={"Origin": "https://example.org"}),
                        lambda s, h, e=None: None)
    assert isinstance(result, Body)


def test_works_with_werkzeug_apps_and_the_test_client() -> None:
    @Request.application
    def app(request: Request) -> Response:
        return Response(f"hello {request.path}")

    client = Client(CorsMiddleware(app, REFERENCE))
    response = client.get("/x", headers={"Origin": "https://a.microsoft.com"})
    assert response.status_code == 200
    assert response.get_data() == b"hello /x"
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.microsoft.com"
    assert response.headers["Access-Control-Expose-Headers"] == "header1,header2"
    assert response.headers["Vary"] == "Origin"
    preflight = client.options("/x", headers={"Origin": "https://a.microsoft.com",
                                              "Access-Control-Request-Method": "DELETE"})
    assert preflight.status_code == 204
    assert preflight.get_data() == b""
    forbidden = client.get("/x", headers={"Origin": "http://a.microsoft.com"})
    assert forbidden.status_code == 403
    assert forbidden.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Access-Control-Allow-Origin" not in forbidden.headers


def test_flask_example_from_the_readme() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)

    @app.get("/api/orders")
    def orders() -> dict[str, list[int]]:
        return {"orders": [1, 2]}

    app.wsgi_app = CorsMiddleware(app.wsgi_app, REFERENCE)  # type: ignore[method-assign]
    response = app.test_client().get("/api/orders",
                                     headers={"Origin": "https://shop.microsoft.com"})
    assert response.json == {"orders": [1, 2]}
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
