"""ASGI adapter cases that a mutation run of iiscors/asgi.py found no test for (docs/mutation.md):
each test pins one behaviour that a surviving mutant changed."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from iiscors.asgi import CorsMiddleware, request_path
from iiscors.layering import describe
from iiscors.policy.core import Outcome, RequestKind
from iiscors.reload import UNUSABLE_BODY

from support import App, Req, asgi_scope, call_asgi, eventually, web_config

A = "https://a.example"
B = "https://b.example"
HOST = "api.contoso.com"
OWN = f"https://{HOST}"  # the Origin of a request to support.Req's host and scheme
CONFIG = web_config(
    f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{A}">'
    '<allowHeaders allowAllRequestedHeaders="true" /><allowMethods><add method="PUT" />'
    "</allowMethods></add></cors>",
    outside='<location path="open"><system.webServer><cors enabled="false" />'
            "</system.webServer></location>")
BAD = b"<configuration><system.webServer><cors enabled='maybe'><add/></cors>"


# -- the request path (contract A9) --------------------------------------------------------------

def test_a_root_path_that_is_not_a_prefix_of_the_path_is_not_cut_off() -> None:
    assert request_path({"path": "/other/api", "root_path": "/mount"}) == "/other/api"


def test_a_scope_without_a_path_reads_as_the_empty_path() -> None:
    assert request_path({}) == ""
    assert request_path({"path": None, "root_path": None}) == ""
    assert request_path({"path": "/api", "root_path": None}) == "/api"


@pytest.mark.parametrize("path", ["/api/x", "XXXX/api", "/"])
def test_without_a_root_path_nothing_is_cut_from_any_path(path: str) -> None:
    """No root_path (absent, None or empty) means mounted at the top: the path is whole,
    whatever it starts with."""
    assert request_path({"path": path}) == path
    assert request_path({"path": path, "root_path": None}) == path
    assert request_path({"path": path, "root_path": ""}) == path


# -- the request headers -----------------------------------------------------------------------

def test_a_scope_without_headers_is_a_request_without_origin() -> None:
    spec = App()
    scope = asgi_scope(Req())
    del scope["headers"]  # the ASGI spec requires them; a hand-made scope may leave them out
    response = call_asgi(CorsMiddleware(spec.asgi, CONFIG, reload=False), scope)
    assert (response.status, spec.calls) == (200, 1)  # contract B2: the app answers
    assert response.get_all("Vary") == ["Origin"]  # contract B15


# -- CorsMiddleware.decide: what explain would say of an ASGI scope ------------------------------

def _middleware(**options: object) -> CorsMiddleware:
    return CorsMiddleware(App().asgi, CONFIG, reload=False, **options)


def test_decide_reads_the_preflight_fields_of_the_scope() -> None:
    scope = asgi_scope(Req("OPTIONS", "/x", (("Origin", A), ("Access-Control-Request-Method",
                                                           "PUT"),
                                             ("Access-Control-Request-Headers", "x-a"))))
    decision = _middleware().decide(scope)
    assert (decision.kind, decision.outcome, decision.status) == (
        RequestKind.PREFLIGHT, Outcome.ALLOWED, 204)
    assert decision.origin == A
    assert ("Access-Control-Allow-Headers", "x-a") in decision.headers
    assert ("Access-Control-Allow-Methods", "PUT") in decision.headers


def test_decide_finds_the_scope_of_the_path_below_root_path() -> None:
    scope = {**asgi_scope(Req("GET", "/mount/open/x", (("Origin", B),))), "root_path": "/mount"}
    assert _middleware().decide(scope).outcome is Outcome.PASSTHROUGH  # <cors> off there
    scope["path"] = "/mount/x"
    assert _middleware().decide(scope).status == 403  # the root scope: B is unlisted


def test_decide_applies_the_same_origin_exemption_only_when_opted_in() -> None:
    scope = asgi_scope(Req("GET", "/x", (("Origin", OWN),)))
    exempt = _middleware(exempt_same_origin=True).decide(scope)
    assert (exempt.status, exempt.kind, exempt.origin) == (None, RequestKind.NOT_CORS, OWN)
    assert _middleware().decide(scope).status == 403  # judged: the own origin is unlisted
    plain_http = {**scope, "scheme": "http"}  # the own origin is then http://, not OWN
    assert _middleware(exempt_same_origin=True).decide(plain_http).status == 403
    no_scheme = asgi_scope(Req("GET", "/x", (("Origin", f"http://{HOST}"),)))
    del no_scheme["scheme"]  # ASGI's default scheme is http
    assert _middleware(exempt_same_origin=True).decide(no_scheme).kind is RequestKind.NOT_CORS


# -- strict mode (contract A8) -------------------------------------------------------------------

def test_strict_mode_answers_its_500_and_never_calls_the_application(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    spec = App()
    middleware = CorsMiddleware(spec.asgi, str(path), reload_interval=0, strict=True)
    fine = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))  # checked, good
    assert (fine.status, fine.get_all("Access-Control-Allow-Origin"), spec.calls) == (200, [A], 1)
    path.write_bytes(BAD)
    os.utime(path, (1, 1))  # another stat, whatever the file system's time resolution
    response = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
    assert (response.status, response.body) == (500, UNUSABLE_BODY)
    assert response.headers == [("content-type", "text/plain; charset=utf-8"),
                                ("content-length", str(len(UNUSABLE_BODY)))]
    assert spec.calls == 1  # not called again


def test_strict_mode_answers_500_between_checks_once_the_error_is_known(tmp_path: Path) -> None:
    """With a reload thread, requests do not check the files themselves: a known error alone
    makes them answer the 500."""
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    spec = App()
    middleware = CorsMiddleware(spec.asgi, str(path), reload_interval=0.05, strict=True)
    path.write_bytes(BAD)
    os.utime(path, (1, 1))  # another stat, whatever the file system's time resolution
    assert eventually(lambda: middleware.config_error is not None)
    response = call_asgi(middleware, asgi_scope(Req()))
    assert (response.status, response.body) == (500, UNUSABLE_BODY)
    assert spec.calls == 0


# -- what the log says: the layers named -----------------------------------------------------

def test_the_nested_layer_warning_names_the_inner_and_the_outer_layer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    inner = CorsMiddleware(App().asgi, str(path), reload=False)
    outer = CorsMiddleware(inner, CONFIG, reload=False)
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        call_asgi(outer, asgi_scope(Req(headers=(("Origin", A),))))
    [record] = [r for r in caplog.records if "steps aside" in r.getMessage()]
    assert record.getMessage().startswith(
        f"iiscors: a request reached {describe(inner)} after {describe(outer)}; ")
    assert str(path) in describe(inner)


def test_the_crash_log_names_the_layer_that_answered(caplog: pytest.LogCaptureFixture) -> None:
    async def raising(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("the application failed")

    middleware = CorsMiddleware(raising, CONFIG, reload=False)
    with caplog.at_level(logging.ERROR, logger="iiscors"), pytest.raises(LookupError):
        call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().startswith(
        f"iiscors: the application raised before starting its response; {describe(middleware)} "
        "answered 500")


# -- URL Rewrite's OPTIONS recipe (contract C2) --------------------------------------------------

RECIPE = ('<rewrite><rules><rule name="CORS Preflight" stopProcessing="true">'
          '<match url=".*" /><conditions><add input="{REQUEST_METHOD}" pattern="^OPTIONS$" />'
          '</conditions><action type="CustomResponse" statusCode="200" statusReason="Preflight" '
          'statusDescription="Preflight answered" /></rule></rules></rewrite>')
WITH_RECIPE = web_config(
    f'<cors enabled="true"><add origin="{A}"><allowHeaders allowAllRequestedHeaders="true" />'
    "</add></cors>", server=RECIPE)


def test_an_allowed_preflight_under_the_recipe_echoes_the_requested_headers() -> None:
    middleware = CorsMiddleware(App().asgi, WITH_RECIPE, reload=False)
    response = call_asgi(middleware, asgi_scope(Req("OPTIONS", "/x", (
        ("Origin", A), ("Access-Control-Request-Method", "PUT"),
        ("Access-Control-Request-Headers", "x-a, x-b")))))
    assert response.status == 204  # CORS answers first (contract C2)
    assert response.get_all("Access-Control-Allow-Headers") == ["x-a, x-b"]  # contract B14


@pytest.mark.parametrize(("origin", "allow_origin"), [(A, [A]), (B, [])],
                         ids=["allowed", "unlisted"])
def test_a_scope_without_a_method_is_a_get_that_the_recipe_leaves_to_the_app(
        origin: str, allow_origin: list[str]) -> None:
    spec = App()
    middleware = CorsMiddleware(spec.asgi, WITH_RECIPE, reload=False)
    scope = asgi_scope(Req(headers=(("Origin", origin),)))
    del scope["method"]
    response = call_asgi(middleware, scope)
    assert (response.status, spec.calls) == (200, 1)
    assert response.get_all("Access-Control-Allow-Origin") == allow_origin


def test_decide_reads_a_scope_without_a_method_as_a_get_under_the_recipe() -> None:
    """``decide`` (explain, the playground) defaults a missing method to GET as the request path
    does: under the recipe, whose condition reads the method, it is an actual request that the
    recipe leaves alone, never a failure to read the method (mutants ``decide`` 18 and 20)."""
    middleware = CorsMiddleware(App().asgi, WITH_RECIPE, reload=False)
    scope = asgi_scope(Req(headers=(("Origin", A),)))
    del scope["method"]
    decision = middleware.decide(scope)
    assert decision.kind == RequestKind.ACTUAL
    assert decision.headers == middleware.decide(asgi_scope(Req(headers=(("Origin", A),)))).headers


# -- the application's response start (contract B11) ---------------------------------------------

def test_the_app_setting_cors_headers_itself_is_warned_about_once(
        caplog: pytest.LogCaptureFixture) -> None:
    spec = App(headers=[("Access-Control-Allow-Origin", "*")])
    middleware = CorsMiddleware(spec.asgi, CONFIG, reload=False)
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        for _ in range(2):
            response = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
            assert response.get_all("Access-Control-Allow-Origin") == ["*", A]  # both kept
    warned = [r for r in caplog.records if "sets Access-Control-Allow-Origin" in r.getMessage()]
    assert len(warned) == 1


def test_a_response_start_without_headers_gets_the_cors_headers() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})  # "headers" is optional
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = CorsMiddleware(bare, CONFIG, reload=False)
    response = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
    assert response.status == 200
    assert response.get_all("Access-Control-Allow-Origin") == [A]
    assert response.get_all("Vary") == ["Origin"]


# -- the application gets the request as sent ----------------------------------------------------

STAR = web_config('<cors enabled="true"><add origin="*" /></cors>')


@pytest.mark.parametrize(("config", "origin"), [(STAR, None), (CONFIG, A)],
                         ids=["nothing-to-add", "headers-to-add"])
def test_the_application_reads_the_scope_and_the_request_body(config: bytes,
                                                                origin: str | None) -> None:
    """Whether or not the middleware adds headers, the application is called with the scope
    and the receive channel it was given (here it echoes the path and the request body)."""
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body",
                    "body": scope["path"].encode() + b" " + message["body"]})

    headers = (("Origin", origin),) if origin else ()
    response = call_asgi(CorsMiddleware(echo, config, reload=False),
                         asgi_scope(Req(path="/items", headers=headers)))
    assert (response.status, response.body) == (200, b"/items ")
