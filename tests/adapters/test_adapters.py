"""The exact header list, in order, through both adapters: (config, request) -> (status, the
CORS and customHeaders headers in order, app called).

The behaviour table (tests/policy/test_behaviour.py) pins every contract rule through both
adapters, comparing header values by name.  This table pins what that comparison cannot see:
the order of the headers, the Allow-Headers echoed byte for byte, an Origin header sent twice,
the application's own Access-Control-Allow-Origin kept beside ours, customHeaders after the
CORS headers on the middleware's 204 and 403; and that WSGI and ASGI send the same whole
header list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from iiscors.asgi import CorsMiddleware as AsgiCors

from support import (
    ADAPTERS,
    ASGI,
    WSGI,
    Adapter,
    App,
    HeaderList,
    Req,
    asgi_scope,
    call_asgi,
    web_config,
)

# -- the table ---------------------------------------------------------------------------------

EXACT = web_config(
    '<cors enabled="true"><add origin="https://a.example" allowCredentials="true" '
    'maxAge="60"><allowMethods><add method="PUT"/><add method="DELETE"/></allowMethods>'
    '<allowHeaders><add header="X-One"/><add header="x-two"/></allowHeaders>'
    '<exposeHeaders><add header="X-Total"/></exposeHeaders></add></cors>')
STAR_XML = '<cors enabled="true"><add origin="*"/></cors>'
STAR = web_config(STAR_XML)
FAIL_XML = ('<cors enabled="true" failUnlistedOrigins="true"><add origin="https://a.example"/>'
            '<add origin="http://*" allowed="false"/><add origin="https://*.contoso.com"/></cors>')
FAIL = web_config(FAIL_XML)
ECHO = web_config(
    '<cors enabled="true"><add origin="*"><allowHeaders allowAllRequestedHeaders="true">'
    '<add header="X-Fallback"/></allowHeaders></add><add origin="https://b.example"/></cors>')
CUSTOM = ('<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY"/>'
          '</customHeaders></httpProtocol>')
DISABLED = web_config('<cors enabled="false"><add origin="*"/></cors>')
SCOPED = web_config('<cors enabled="false"><add origin="https://a.example"/></cors>',
                    outside='<location path="api"><system.webServer><cors enabled="true"/>'
                            "</system.webServer></location>")
REMOVED = web_config(STAR_XML, server=CUSTOM + '<modules><remove name="CorsModule"/></modules>')

A = ("Origin", "https://a.example")
EVIL = ("Origin", "https://evil.example")
PRE_PUT = (("Access-Control-Request-Method", "PUT"),)
V = ("vary", "Origin")
ACAO_A = ("access-control-allow-origin", "https://a.example")
ACAO_STAR = ("access-control-allow-origin", "*")
CREDENTIALS = ("access-control-allow-credentials", "true")
EXPOSE = ("access-control-expose-headers", "X-Total")
DENY = ("x-frame-options", "DENY")


@dataclass(frozen=True)
class Row:
    """One request and the response both adapters must give it."""

    id: str
    config: bytes
    req: Req
    status: int
    #: Access-Control-*, Vary and X-* headers, in order, names lower-cased
    headers: HeaderList
    app_called: bool
    #: what the application answers (None: 200 with a Content-Type only)
    app: App | None = None


ROWS = [
    Row("B1 disabled: untouched", DISABLED, Req(headers=(A,)),
        status=200, headers=[], app_called=True),
    Row("B2 no Origin: app, Vary only (B15)", EXACT, Req(),
        status=200, headers=[V], app_called=True),
    Row("B2 no Origin, *-only: nothing", STAR, Req(),
        status=200, headers=[], app_called=True),
    Row("B8 preflight: 204 with every header in order", EXACT,
        Req("OPTIONS", headers=(A, *PRE_PUT)),
        status=204, headers=[ACAO_A, CREDENTIALS, ("access-control-allow-methods", "PUT,DELETE"),
                             ("access-control-allow-headers", "X-One,x-two"),
                             ("access-control-max-age", "60"), V],
        app_called=False),
    Row("B9 actual: ACAO, credentials, expose, Vary", EXACT, Req("POST", headers=(A,)),
        status=200, headers=[ACAO_A, CREDENTIALS, EXPOSE, V], app_called=True),
    Row("B9 actual: any app status gets the headers", EXACT, Req(headers=(A,)),
        app=App(status=500),
        status=500, headers=[ACAO_A, CREDENTIALS, EXPOSE, V], app_called=True),
    Row("B10 *-only: static * on actual, no Vary", STAR, Req(headers=(A,)),
        status=200, headers=[ACAO_STAR], app_called=True),
    Row("B10 *-only: static * on preflight", STAR, Req("OPTIONS", headers=(A, *PRE_PUT)),
        status=204, headers=[ACAO_STAR], app_called=False),
    Row("B5 *-only matches null", STAR, Req(headers=(("Origin", "null"),)),
        status=200, headers=[ACAO_STAR], app_called=True),
    Row("B3 OPTIONS without ACRM is an actual request", EXACT, Req("OPTIONS", headers=(A,)),
        status=200, headers=[ACAO_A, CREDENTIALS, EXPOSE, V], app_called=True),
    Row("B8/B14 allowAllRequestedHeaders echoes as sent", ECHO,
        Req("OPTIONS", headers=(A, *PRE_PUT, ("Access-Control-Request-Headers",
                                              "content-type, X-Custom"))),
        status=204, headers=[ACAO_A, ("access-control-allow-headers", "content-type, X-Custom"),
                             V],
        app_called=False),
    Row("B14 malformed ACRH: the configured list instead", ECHO,
        Req("OPTIONS", headers=(A, *PRE_PUT, ("Access-Control-Request-Headers", "a,,b"))),
        status=204, headers=[ACAO_A, ("access-control-allow-headers", "X-Fallback"), V],
        app_called=False),
    Row("B7 unlisted + failUnlistedOrigins: 403, app not called", FAIL, Req(headers=(EVIL,)),
        status=403, headers=[V], app_called=False),
    Row("B7 unlisted preflight + fail: 403", FAIL, Req("OPTIONS", headers=(EVIL, *PRE_PUT)),
        status=403, headers=[V], app_called=False),
    Row("B4 allowed=false on the most specific rule: 403", FAIL,
        Req(headers=(("Origin", "http://a.example"),)),
        status=403, headers=[V], app_called=False),
    Row("B5 host wildcard", FAIL, Req(headers=(("Origin", "https://x.y.contoso.com"),)),
        status=200, headers=[("access-control-allow-origin", "https://x.y.contoso.com"), V],
        app_called=True),
    Row("B5 host wildcard never matches the apex", FAIL,
        Req(headers=(("Origin", "https://contoso.com"),)),
        status=403, headers=[V], app_called=False),
    Row("B5 case-sensitive match", FAIL, Req(headers=(("Origin", "https://A.example"),)),
        status=403, headers=[V], app_called=False),
    Row("B7 unlisted without fail: app, no ACAO", EXACT, Req(headers=(EVIL,)),
        status=200, headers=[V], app_called=True),
    Row("B7 unlisted preflight without fail reaches the app", EXACT,
        Req("OPTIONS", headers=(EVIL, *PRE_PUT)),
        status=200, headers=[V], app_called=True),
    Row("B6 not a serialized origin is never echoed", ECHO,
        Req(headers=(("Origin", "https://a.example/path"),)),
        status=200, headers=[V], app_called=True),
    Row("B6 two Origin headers are one unusable value", ECHO,
        Req(headers=(A, ("Origin", "https://b.example"))),
        status=200, headers=[V], app_called=True),
    Row("B11 app's Vary is merged, not duplicated", EXACT, Req(headers=(A,)),
        app=App(headers=[("Content-Type", "text/plain"), ("Vary", "Accept")]),
        status=200, headers=[("vary", "Accept, Origin"), ACAO_A, CREDENTIALS, EXPOSE],
        app_called=True),
    Row("B11 app's own ACAO is kept and ours added, as on IIS", EXACT, Req(headers=(A,)),
        app=App(headers=[("Access-Control-Allow-Origin", "*")]),
        status=200, headers=[ACAO_STAR, ACAO_A, CREDENTIALS, EXPOSE, V], app_called=True),
    Row("B11 Vary: * left alone", EXACT, Req(), app=App(headers=[("Vary", "*")]),
        status=200, headers=[("vary", "*")], app_called=True),
    Row("A9 location enables /api only: outside untouched", SCOPED, Req(headers=(A,)),
        status=200, headers=[], app_called=True),
    Row("A9 location enables /api: inside allowed", SCOPED, Req(path="/API/items", headers=(A,)),
        status=200, headers=[ACAO_A, V], app_called=True),
    Row("A9 whole segments only: /apix is outside", SCOPED, Req(path="/apix", headers=(A,)),
        status=200, headers=[], app_called=True),
    Row("C1 customHeaders on the 204", web_config(STAR_XML, server=CUSTOM),
        Req("OPTIONS", headers=(A, *PRE_PUT)),
        status=204, headers=[ACAO_STAR, DENY], app_called=False),
    Row("C1 customHeaders on the 403", web_config(FAIL_XML, server=CUSTOM), Req(headers=(EVIL,)),
        status=403, headers=[V, DENY], app_called=False),
    Row("C1 customHeaders without Origin", web_config(STAR_XML, server=CUSTOM), Req(),
        status=200, headers=[DENY], app_called=True),
    Row("D1 CorsModule removed: customHeaders only", REMOVED,
        Req("OPTIONS", headers=(A, *PRE_PUT)),
        status=200, headers=[DENY], app_called=True),
]
BY_ID = [pytest.param(row, id=row.id) for row in ROWS]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("row", BY_ID)
def test_table(adapter: Adapter, row: Row) -> None:
    middleware, spec = adapter.build(row.config, row.app)
    response = adapter.call(middleware, spec, row.req)
    assert response.status == row.status
    assert response.cors_and_custom() == row.headers
    assert response.app_called is row.app_called
    if row.status == 204:
        assert response.body == b""
    if row.status == 403:
        assert b"403" in response.body
        assert response.get_all("Content-Length") == [str(len(response.body))]


@pytest.mark.parametrize("row", BY_ID)
def test_adapters_agree_on_every_header(row: Row) -> None:
    """Not only the CORS headers: the whole header list is the same through both adapters."""
    results = []
    for adapter in (WSGI, ASGI):
        spec = App(row.app.status, list(row.app.headers)) if row.app is not None else None
        middleware, spec = adapter.build(row.config, spec)
        response = adapter.call(middleware, spec, row.req)
        results.append((response.status, [(n.lower(), v) for n, v in response.headers],
                        response.body))
    assert results[0] == results[1]


def spelled(req: Req, spell: Callable[[str], str]) -> dict[str, Any]:
    """The ASGI scope of ``req`` with every raw header name (Host too) respelled."""
    scope = asgi_scope(req)
    scope["headers"] = [(spell(name.decode("latin-1")).encode("latin-1"), value)
                        for name, value in scope["headers"]]
    return scope


SPELLINGS = [pytest.param(str.lower, id="lower"), pytest.param(str.title, id="Title"),
             pytest.param(str.upper, id="UPPER")]


@pytest.mark.parametrize("spell", SPELLINGS)
def test_asgi_finds_request_headers_whatever_the_case_of_their_raw_names(
        spell: Callable[[str], str]) -> None:
    """The ASGI spec asks servers to lower-case header names but does not require it, so the
    middleware must find Origin, Access-Control-Request-* and Host (contract B3, B8, B13)
    whatever the case of the raw names it is given."""
    preflight = Req("OPTIONS", headers=(A, *PRE_PUT, ("Access-Control-Request-Headers", "x-a")))
    scope = spelled(preflight, spell)
    assert scope["headers"][1][0] == spell("Origin").encode()  # as spelled, not lower-cased
    app = App()
    response = call_asgi(AsgiCors(app.asgi, ECHO), scope)
    assert (response.status, app.calls) == (204, 0)
    assert response.cors_and_custom() == [
        ACAO_A, ("access-control-allow-headers", "x-a"), V]
    # B13's opt-in: an unlisted Origin equal to https://<Host> passes to the application.
    own = spelled(Req(headers=(("Origin", "https://self.example"),), host="self.example"), spell)
    assert call_asgi(AsgiCors(app.asgi, FAIL), own).status == 403
    response = call_asgi(AsgiCors(app.asgi, FAIL, exempt_same_origin=True), own)
    assert (response.status, app.calls) == (200, 1)


def test_asgi_passes_websocket_and_lifespan_untouched() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = AsgiCors(app, FAIL)

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        raise AssertionError("the middleware must not answer a non-HTTP scope")

    for kind in ("websocket", "lifespan"):
        scope = {"type": kind, "path": "/", "headers": [(b"origin", b"https://evil.example")]}
        asyncio.run(middleware(scope, nothing, ignore))
    assert seen == ["websocket", "lifespan"]


def test_asgi_path_is_relative_to_root_path() -> None:
    """Contract A9: the path is relative to where the middleware is mounted, as PATH_INFO."""
    from iiscors.asgi import request_path

    assert request_path({"path": "/mount/api/x", "root_path": "/mount"}) == "/api/x"
    assert request_path({"path": "/api/é", "root_path": ""}) == "/api/é"
