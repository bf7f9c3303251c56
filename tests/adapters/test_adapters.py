"""One table, both adapters: (config, request) → (status, headers, app called).

Every row runs through :class:`iiscors.CorsMiddleware` (WSGI) and
:class:`iiscors.asgi.CorsMiddleware` (ASGI), called directly (no test client, so the
assertion sees exactly the headers the middleware produced, in order).  The drivers here are
reused by test_reload, test_auth_order and test_custom_headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from iiscors import CorsMiddleware as WsgiCors
from iiscors.asgi import CorsMiddleware as AsgiCors

H = list[tuple[str, str]]


def web_config(body: str) -> bytes:
    """A web.config whose system.webServer holds ``body``; ``<location>`` blocks may follow
    after a ``|||`` separator."""
    inner, _, outside = body.partition("|||")
    return (f"<configuration><system.webServer>{inner}</system.webServer>{outside}"
            "</configuration>").encode()


@dataclass(frozen=True)
class Req:
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    host: str = "api.contoso.com"


@dataclass
class Result:
    status: int
    headers: H
    body: bytes
    app_called: bool

    def cors(self) -> H:
        """The headers CORS and customHeaders are about, in order, names lower-cased."""
        return [(n.lower(), v) for n, v in self.headers
                if n.lower().startswith(("access-control-", "vary", "x-"))]

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


@dataclass
class App:
    """What the wrapped application answers: status, headers; records whether it ran."""

    status: int = 200
    headers: H = field(default_factory=lambda: [("Content-Type", "text/plain")])
    body: bytes = b"app body"
    calls: int = 0


# -- drivers -----------------------------------------------------------------------------------

def wsgi_app(spec: App) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        spec.calls += 1
        start_response(f"{spec.status} X", list(spec.headers))
        return [spec.body]
    return app


def asgi_app(spec: App) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        spec.calls += 1
        await send({"type": "http.response.start", "status": spec.status,
                    "headers": [(n.lower().encode(), v.encode()) for n, v in spec.headers]})
        await send({"type": "http.response.body", "body": spec.body})
    return app


def run_wsgi(middleware: Any, req: Req) -> tuple[int, H, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method, "PATH_INFO": req.path, "SCRIPT_NAME": "",
        "QUERY_STRING": "", "SERVER_NAME": req.host, "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": req.host, "wsgi.url_scheme": "https"}
    for name, value in req.headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        # As WSGI servers do: a header sent twice becomes one comma-joined value.
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: H, exc_info: Any = None) -> Any:
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers
        return lambda data: None

    body = b"".join(middleware(environ, start_response))
    return captured["status"], captured["headers"], body


def run_asgi(middleware: Any, req: Req) -> tuple[int, H, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": req.method, "scheme": "https", "path": req.path,
             "raw_path": req.path.encode("latin-1"), "root_path": "", "query_string": b"",
             "headers": [(b"host", req.host.encode())] + [
                 (n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in req.headers]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in start["headers"]]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


@dataclass(frozen=True)
class Adapter:
    name: str
    middleware: Callable[..., Any]
    app: Callable[[App], Any]
    run: Callable[[Any, Req], tuple[int, H, bytes]]

    def build(self, config: Any, spec: App | None = None, **options: Any) -> tuple[Any, App]:
        spec = spec if spec is not None else App()
        return self.middleware(self.app(spec), config, **options), spec

    def call(self, middleware: Any, spec: App, req: Req) -> Result:
        before = spec.calls
        status, headers, body = self.run(middleware, req)
        return Result(status, headers, body, spec.calls > before)


WSGI = Adapter("wsgi", WsgiCors, wsgi_app, run_wsgi)
ASGI = Adapter("asgi", AsgiCors, asgi_app, run_asgi)
ADAPTERS = [pytest.param(WSGI, id="wsgi"), pytest.param(ASGI, id="asgi")]


# -- the table ---------------------------------------------------------------------------------

EXACT = ('<cors enabled="true"><add origin="https://a.example" allowCredentials="true" '
         'maxAge="60"><allowMethods><add method="PUT"/><add method="DELETE"/></allowMethods>'
         '<allowHeaders><add header="X-One"/><add header="x-two"/></allowHeaders>'
         '<exposeHeaders><add header="X-Total"/></exposeHeaders></add></cors>')
STAR = '<cors enabled="true"><add origin="*"/></cors>'
FAIL = ('<cors enabled="true" failUnlistedOrigins="true"><add origin="https://a.example"/>'
        '<add origin="http://*" allowed="false"/><add origin="https://*.contoso.com"/></cors>')
ECHO = ('<cors enabled="true"><add origin="*"><allowHeaders allowAllRequestedHeaders="true">'
        '<add header="X-Fallback"/></allowHeaders></add><add origin="https://b.example"/></cors>')
CUSTOM = ('<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY"/>'
          '</customHeaders></httpProtocol>')
SCOPED = ('<cors enabled="false"><add origin="https://a.example"/></cors>|||'
          '<location path="api"><system.webServer><cors enabled="true"/></system.webServer>'
          '</location>')
REMOVED = (STAR + CUSTOM + '<modules><remove name="CorsModule"/></modules>')

A = ("Origin", "https://a.example")
PRE_PUT = (("Access-Control-Request-Method", "PUT"),)
V = ("vary", "Origin")
ACAO_A = ("access-control-allow-origin", "https://a.example")

# (id, web.config body, app, request, expected status, expected CORS/custom headers, app called)
CASES: list[tuple[str, str, App | None, Req, int, H, bool]] = [
    ("B1 disabled: untouched", '<cors enabled="false"><add origin="*"/></cors>', None,
     Req(headers=(A,)), 200, [], True),
    ("B2 no Origin: app, Vary only (B15)", EXACT, None, Req(), 200, [V], True),
    ("B2 no Origin, *-only: nothing", STAR, None, Req(), 200, [], True),
    ("B8 preflight: 204 with every header in order", EXACT, None,
     Req("OPTIONS", headers=(A, *PRE_PUT)), 204,
     [ACAO_A, ("access-control-allow-credentials", "true"),
      ("access-control-allow-methods", "PUT,DELETE"),
      ("access-control-allow-headers", "X-One,x-two"), ("access-control-max-age", "60"), V],
     False),
    ("B9 actual: ACAO, credentials, expose, Vary", EXACT, None,
     Req("POST", headers=(A,)), 200,
     [ACAO_A, ("access-control-allow-credentials", "true"),
      ("access-control-expose-headers", "X-Total"), V], True),
    ("B9 actual: any app status gets the headers", EXACT, App(status=500), Req(headers=(A,)),
     500, [ACAO_A, ("access-control-allow-credentials", "true"),
           ("access-control-expose-headers", "X-Total"), V], True),
    ("B10 *-only: static * on actual, no Vary", STAR, None, Req(headers=(A,)), 200,
     [("access-control-allow-origin", "*")], True),
    ("B10 *-only: static * on preflight", STAR, None,
     Req("OPTIONS", headers=(A, *PRE_PUT)), 204, [("access-control-allow-origin", "*")], False),
    ("B5 *-only matches null", STAR, None, Req(headers=(("Origin", "null"),)), 200,
     [("access-control-allow-origin", "*")], True),
    ("B3 OPTIONS without ACRM is an actual request", EXACT, None,
     Req("OPTIONS", headers=(A,)), 200,
     [ACAO_A, ("access-control-allow-credentials", "true"),
      ("access-control-expose-headers", "X-Total"), V], True),
    ("B8/B14 allowAllRequestedHeaders echoes as sent", ECHO, None,
     Req("OPTIONS", headers=(A, *PRE_PUT, ("Access-Control-Request-Headers",
                                            "content-type, X-Custom"))), 204,
     [ACAO_A, ("access-control-allow-headers", "content-type, X-Custom"), V], False),
    ("B14 malformed ACRH: the configured list instead", ECHO, None,
     Req("OPTIONS", headers=(A, *PRE_PUT, ("Access-Control-Request-Headers", "a,,b"))), 204,
     [ACAO_A, ("access-control-allow-headers", "X-Fallback"), V], False),
    ("B7 unlisted + failUnlistedOrigins: 403, app not called", FAIL, None,
     Req(headers=(("Origin", "https://evil.example"),)), 403, [V], False),
    ("B7 unlisted preflight + fail: 403", FAIL, None,
     Req("OPTIONS", headers=(("Origin", "https://evil.example"), *PRE_PUT)), 403, [V], False),
    ("B4 allowed=false on the most specific rule: 403", FAIL, None,
     Req(headers=(("Origin", "http://a.example"),)), 403, [V], False),
    ("B5 host wildcard", FAIL, None, Req(headers=(("Origin", "https://x.y.contoso.com"),)),
     200, [("access-control-allow-origin", "https://x.y.contoso.com"), V], True),
    ("B5 host wildcard never matches the apex", FAIL, None,
     Req(headers=(("Origin", "https://contoso.com"),)), 403, [V], False),
    ("B5 case-sensitive match", FAIL, None,
     Req(headers=(("Origin", "https://A.example"),)), 403, [V], False),
    ("B7 unlisted without fail: app, no ACAO", EXACT, None,
     Req(headers=(("Origin", "https://evil.example"),)), 200, [V], True),
    ("B7 unlisted preflight without fail reaches the app", EXACT, None,
     Req("OPTIONS", headers=(("Origin", "https://evil.example"), *PRE_PUT)), 200, [V], True),
    ("B6 not a serialized origin is never echoed", ECHO, None,
     Req(headers=(("Origin", "https://a.example/path"),)), 200, [V], True),
    ("B6 two Origin headers are one unusable value", ECHO, None,
     Req(headers=(A, ("Origin", "https://b.example"))), 200, [V], True),
    ("B11 app's Vary is merged, not duplicated", EXACT,
     App(headers=[("Content-Type", "text/plain"), ("Vary", "Accept")]), Req(headers=(A,)), 200,
     [("vary", "Accept, Origin"), ACAO_A, ("access-control-allow-credentials", "true"),
      ("access-control-expose-headers", "X-Total")], True),
    ("B11 app's own ACAO is kept and ours added, as on IIS", EXACT,
     App(headers=[("Access-Control-Allow-Origin", "*")]), Req(headers=(A,)), 200,
     [("access-control-allow-origin", "*"), ACAO_A,
      ("access-control-allow-credentials", "true"),
      ("access-control-expose-headers", "X-Total"), V], True),
    ("B11 Vary: * left alone", EXACT,
     App(headers=[("Vary", "*")]), Req(), 200, [("vary", "*")], True),
    ("A9 location enables /api only: outside untouched", SCOPED, None, Req(headers=(A,)), 200,
     [], True),
    ("A9 location enables /api: inside allowed", SCOPED, None,
     Req(path="/API/items", headers=(A,)), 200, [ACAO_A, V], True),
    ("A9 whole segments only: /apix is outside", SCOPED, None,
     Req(path="/apix", headers=(A,)), 200, [], True),
    ("C1 customHeaders on the 204", STAR + CUSTOM, None,
     Req("OPTIONS", headers=(A, *PRE_PUT)), 204,
     [("access-control-allow-origin", "*"), ("x-frame-options", "DENY")], False),
    ("C1 customHeaders on the 403", FAIL + CUSTOM, None,
     Req(headers=(("Origin", "https://evil.example"),)), 403,
     [V, ("x-frame-options", "DENY")], False),
    ("C1 customHeaders without Origin", STAR + CUSTOM, None, Req(), 200,
     [("x-frame-options", "DENY")], True),
    ("D1 CorsModule removed: customHeaders only", REMOVED, None,
     Req("OPTIONS", headers=(A, *PRE_PUT)), 200, [("x-frame-options", "DENY")], True),
]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("config", "app", "req", "status", "headers", "called"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_table(adapter: Adapter, config: str, app: App | None, req: Req, status: int,
               headers: H, called: bool) -> None:
    middleware, spec = adapter.build(web_config(config), app)
    result = adapter.call(middleware, spec, req)
    assert result.status == status
    assert result.cors() == headers
    assert result.app_called is called
    if status == 204:
        assert result.body == b""
    if status == 403:
        assert b"403" in result.body
        assert result.get_all("Content-Length") == [str(len(result.body))]


@pytest.mark.parametrize(("config", "app", "req", "status", "headers", "called"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_adapters_agree_on_every_header(config: str, app: App | None, req: Req, status: int,
                                        headers: H, called: bool) -> None:
    """Not only the CORS headers: the whole header list is the same through both adapters."""
    results = []
    for adapter in (WSGI, ASGI):
        spec = App(app.status, list(app.headers)) if app is not None else None
        middleware, spec = adapter.build(web_config(config), spec)
        result = adapter.call(middleware, spec, req)
        results.append((result.status, [(n.lower(), v) for n, v in result.headers],
                        result.body))
    assert results[0] == results[1]


def test_asgi_passes_websocket_and_lifespan_untouched() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = AsgiCors(app, web_config(FAIL))

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
