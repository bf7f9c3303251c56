"""WSGI middleware behaviours that a mutation run of iiscors/wsgi.py found no test for
(docs/mutation.md).

Each test drives :class:`iiscors.wsgi.CorsMiddleware` through its public surface: a WSGI call
(environ in, ``start_response`` and body out) or :meth:`CorsMiddleware.decide`, the decision
``iiscors serve``'s access log reads for a request.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from iiscors.layering import CRASH_BODY
from iiscors.policy import headers
from iiscors.reload import UNUSABLE_BODY
from iiscors.wsgi import CorsMiddleware

from support import Recorder, environ_for, web_config

ORIGIN = "https://app.example"
#: allowed everywhere, every requested header echoed; under /admin, nothing is allowed
CONFIG = web_config(
    f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{ORIGIN}">'
    '<allowMethods><add method="GET" /></allowMethods>'
    '<allowHeaders allowAllRequestedHeaders="true" /></add></cors>',
    outside='<location path="admin"><system.webServer><cors enabled="true" '
    'failUnlistedOrigins="true"><clear /></cors></system.webServer></location>')
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "X-Token"}


def middleware(app: Any = None, **options: Any) -> CorsMiddleware:
    return CorsMiddleware(app or Recorder(), CONFIG, reload=False, **options)


# -- decide: the decision for one environ ---------------------------------------------------------

def test_decide_reads_the_preflight_method_and_headers() -> None:
    preflight = middleware().decide(environ_for("OPTIONS", "/", PREFLIGHT))
    assert preflight.status == 204 and preflight.origin == ORIGIN
    # contract B8: allowAllRequestedHeaders echoes Access-Control-Request-Headers
    assert dict(preflight.headers)[headers.ALLOW_HEADERS] == "X-Token"
    # contract B3: an OPTIONS without Access-Control-Request-Method is an actual request
    actual = middleware().decide(environ_for("OPTIONS", "/", {"Origin": ORIGIN}))
    assert actual.status is None and headers.ALLOW_METHODS not in dict(actual.headers)


def test_decide_reads_the_request_path() -> None:
    # contract A9: /admin has its own, empty, rule list
    assert middleware().decide(environ_for("GET", "/items", {"Origin": ORIGIN})).status is None
    assert middleware().decide(environ_for("GET", "/admin/x", {"Origin": ORIGIN})).status == 403


def test_decide_without_a_path_or_a_method_is_a_get_at_the_root() -> None:
    environ = environ_for("OPTIONS", "/admin", {"Origin": ORIGIN})
    del environ["PATH_INFO"], environ["REQUEST_METHOD"]
    decision = middleware().decide(environ)
    assert decision.status is None  # the root's rules, for a GET
    assert dict(decision.headers)[headers.ALLOW_ORIGIN] == ORIGIN


def test_decide_applies_the_same_origin_exemption_only_when_asked() -> None:
    own = environ_for("GET", "/admin", {"Origin": "https://api.contoso.com"})
    # contract B13's opt-in: an Origin equal to the request's own is no CORS request
    assert middleware(exempt_same_origin=True).decide(own).status is None
    assert middleware().decide(own).status == 403


def test_the_same_origin_exemption_assumes_http_without_a_url_scheme() -> None:
    app = Recorder()
    environ = environ_for("GET", "/admin", {"Origin": "http://api.contoso.com"}, scheme="http")
    del environ["wsgi.url_scheme"]
    body = middleware(app, exempt_same_origin=True)(environ, Started())
    assert list(body) == [b"app body"] and len(app.calls) == 1


# -- a crash: the application raises --------------------------------------------------------------

class Started:
    """A ``start_response`` that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []

    def __call__(self, status: str, response_headers: list[tuple[str, str]],
                 exc_info: Any = None) -> Any:
        self.calls.append((status, response_headers, exc_info))
        return lambda data: None


def raising_before_start(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("boom")


def raising_after_start(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    raise RuntimeError("boom")


def test_a_crash_before_the_response_is_a_500_with_its_length_and_no_exc_info(
        caplog: pytest.LogCaptureFixture) -> None:
    start = Started()
    with caplog.at_level(logging.ERROR, "iiscors"):
        body = middleware(raising_before_start)(environ_for("GET", "/", {"Origin": ORIGIN}), start)
    assert list(body) == [CRASH_BODY]
    ((status, sent, exc_info),) = start.calls
    assert status.startswith("500") and exc_info is None  # nothing to replace: PEP 3333
    assert dict(sent)[headers.CONTENT_LENGTH] == str(len(CRASH_BODY))
    assert dict(sent)[headers.ALLOW_ORIGIN] == ORIGIN
    # the log names the layer that answered, by its class
    assert "iiscors.wsgi.CorsMiddleware" in caplog.records[0].getMessage()


def test_a_crash_after_the_response_started_passes_exc_info() -> None:
    start = Started()
    middleware(raising_after_start)(environ_for("GET", "/", {"Origin": ORIGIN}), start)
    (_, _, first), (status, _, exc_info) = start.calls
    assert first is None and status.startswith("500")
    assert exc_info is not None and exc_info[0] is RuntimeError


# -- strict mode: the configuration became unusable ----------------------------------------------

def test_strict_mode_answers_a_plain_500_while_the_file_is_unusable(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(CONFIG)
    app = Recorder()
    wrapped = CorsMiddleware(app, str(config), reload_interval=0, strict=True)
    config.write_bytes(b"<configuration><system.webServer><cors")  # not XML any more
    os.utime(config, (1, 1))  # a different mtime whatever the clock's resolution
    start = Started()
    body = wrapped(environ_for("GET", "/", {"Origin": ORIGIN}), start)
    # contract A8, like IIS's 500.19: the application does not run, no CORS header
    assert list(body) == [UNUSABLE_BODY] and app.calls == []
    assert start.calls == [("500 Internal Server Error", [
        (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
        (headers.CONTENT_LENGTH, str(len(UNUSABLE_BODY)))], None)]


# -- URL Rewrite's OPTIONS recipe (contract C2) --------------------------------------------------

RECIPE = web_config(
    f'<cors enabled="true"><add origin="{ORIGIN}">'
    '<allowHeaders allowAllRequestedHeaders="true" /></add></cors>'
    '<rewrite><rules><rule name="Preflight"><match url=".*" /><conditions>'
    '<add input="{REQUEST_METHOD}" pattern="OPTIONS" /></conditions>'
    '<action type="CustomResponse" statusCode="200" statusReason="Pre flight" '
    'statusDescription="answered" /></rule></rules></rewrite>')


def test_where_the_recipe_matches_a_preflight_still_echoes_the_requested_headers() -> None:
    start = Started()
    app = Recorder()
    body = CorsMiddleware(app, RECIPE, reload=False)(environ_for("OPTIONS", "/", PREFLIGHT), start)
    # contract C2: CORS answers the preflight before URL Rewrite; B8: the headers echoed
    assert list(body) == [b""] and app.calls == []
    ((status, sent, _),) = start.calls
    assert status == "204 No Content"
    assert dict(sent)[headers.ALLOW_HEADERS] == "X-Token"


# -- the defaults: scoped errors (contract E6), the last good policy kept (contract A8) ----------

BROKEN_LOCATION = web_config(
    f'<cors enabled="true"><add origin="{ORIGIN}" /></cors>',
    outside='<location path="admin"><system.webServer><cors enabled="true">'
    f'<add origin="{ORIGIN}" /><add origin="{ORIGIN}" /></cors></system.webServer></location>')


def test_by_default_an_error_under_a_location_only_breaks_that_location() -> None:
    wrapped = CorsMiddleware(Recorder(), BROKEN_LOCATION, reload=False)  # starts: contract E6
    start = Started()
    assert list(wrapped(environ_for("GET", "/admin/x", {"Origin": ORIGIN}), start)) != [b"app body"]
    assert start.calls[0][0].startswith("500")
    start = Started()
    assert list(wrapped(environ_for("GET", "/x", {"Origin": ORIGIN}), start)) == [b"app body"]
    assert dict(start.calls[0][1])[headers.ALLOW_ORIGIN] == ORIGIN


def test_by_default_an_edit_that_breaks_the_file_keeps_the_last_good_policy(
        tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(CONFIG)
    wrapped = CorsMiddleware(Recorder(), str(config), reload_interval=0)
    config.write_bytes(b"<configuration><system.webServer><cors")  # not XML any more
    os.utime(config, (1, 1))
    start = Started()
    # contract A8: not strict, so the last good policy still answers
    assert list(wrapped(environ_for("GET", "/", {"Origin": ORIGIN}), start)) == [b"app body"]
    assert dict(start.calls[0][1])[headers.ALLOW_ORIGIN] == ORIGIN


def test_exc_info_reaches_the_server_when_the_app_restarts_a_response_with_vary() -> None:
    """PEP 3333: an application's error handler calls start_response again with exc_info, so
    that the server may replace the response; a Vary in it takes the merging path (B11)."""
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Vary", "Accept")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [("Vary", "Accept")], sys.exc_info())
        return [b"error page"]

    start = Started()
    middleware(app)(environ_for("GET", "/", {"Origin": ORIGIN}), start)
    first, again = start.calls
    assert first[2] is None
    status, sent, exc_info = again
    assert status.startswith("500") and dict(sent)["Vary"] == "Accept, Origin"
    assert exc_info is not None and exc_info[0] is ValueError


# -- two layers (iiscors.layering) ---------------------------------------------------------------

def test_the_nested_layer_warning_names_both_layers(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(CONFIG)
    inner = CorsMiddleware(Recorder(), str(config), reload=False)
    outer = middleware(inner)
    with caplog.at_level(logging.WARNING, "iiscors"):
        outer(environ_for("GET", "/", {"Origin": ORIGIN}), Started())
    (record,) = caplog.records
    # the inner layer (read from the file) stepped aside for the outer one (read from bytes)
    assert (f"reached iiscors.wsgi.CorsMiddleware ({config}) after "
            "iiscors.wsgi.CorsMiddleware (<bytes>)") in record.getMessage()
