"""The answers a scope keeps for the allowed origins it has seen (iiscors.policy.core.Answer).

The WSGI middleware answers a repeated allowed origin from ``ScopePolicy.answers`` without
calling the policy (issue 6).  These tests pin what may enter that table, that it stays bounded,
that it never outlives a reload, and — the property that matters — that a middleware which has
seen any sequence of requests answers exactly as a fresh one does.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiscors import CorsMiddleware
from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.policy.core import (
    ANSWER_CACHE_MAX_ORIGIN,
    ANSWER_CACHE_SIZE,
    LAST_ECHO_MAX,
    CompiledRule,
    CorsRequest,
    ScopePolicy,
    preflight_headers,
)
from iiscors.policy.model import OriginRule
from iiscors.wsgi import FORBIDDEN_BODY, merge_headers

from support import (
    App,
    Recorder,
    Req,
    Response,
    asgi_response,
    asgi_scope,
    call,
    call_environ,
    environ_for,
    web_config,
)

MIXED = web_config(
    '<cors enabled="true" failUnlistedOrigins="false">'
    '<add origin="https://app.contoso.com" allowCredentials="true" />'
    '<add origin="https://*.contoso.com" maxAge="60">'
    '<allowHeaders allowAllRequestedHeaders="true"><add header="X-A" /></allowHeaders>'
    '<allowMethods><add method="PUT" /></allowMethods></add>'
    '<add origin="https://blocked.contoso.com" allowed="false" />'
    '<add origin="*" />'
    "</cors>",
    outside='<location path="api"><system.webServer>'
            '<cors enabled="true" failUnlistedOrigins="true"><clear />'
            '<add origin="https://*.contoso.com" /></cors>'
            "</system.webServer></location>"
            '<location path="off"><system.webServer><cors enabled="false" />'
            "</system.webServer></location>"
            '<location path="star"><system.webServer><cors enabled="true"><clear />'
            '<add origin="*" /></cors></system.webServer></location>')

STAR = web_config('<cors enabled="true"><add origin="*" /></cors>')
STAR_DENIED = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                         '<add origin="*" allowed="false" /></cors>')


def root_scope(middleware: CorsMiddleware) -> ScopePolicy:
    return middleware.policy.root


def test_only_allowed_serialized_origins_are_kept() -> None:
    middleware = CorsMiddleware(Recorder(), MIXED)
    for origin in ("https://app.contoso.com", "https://www.contoso.com",
                   "https://blocked.contoso.com",       # allowed="false"
                   "https://x.contoso.com/path",        # not serialized: "*" never echoes it
                   "http://evil.example"):              # matched by "*": allowed, echoed
        call(middleware, headers={"Origin": origin})
    call(middleware)                                    # no Origin
    assert set(root_scope(middleware).answers) == {
        "https://app.contoso.com", "https://www.contoso.com", "http://evil.example"}


def test_denied_and_unlisted_origins_are_never_kept() -> None:
    config = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                        '<add origin="https://*.contoso.com" />'
                        '<add origin="https://bad.contoso.com" allowed="false" /></cors>')
    middleware = CorsMiddleware(Recorder(), config)
    for n in range(50):
        assert call(middleware, headers={"Origin": f"https://u{n}.evil.example"}).status == 403
        assert call(middleware, headers={"Origin": "https://bad.contoso.com"}).status == 403
    assert root_scope(middleware).answers == {}


def test_the_table_is_bounded_and_answers_stay_right_past_the_bound() -> None:
    middleware = CorsMiddleware(Recorder(), MIXED)
    answers = root_scope(middleware).answers
    for n in range(ANSWER_CACHE_SIZE + 25):
        origin = f"https://u{n}.contoso.com"
        response = call(middleware, headers={"Origin": origin})
        assert response.get_all("Access-Control-Allow-Origin") == [origin]
        assert len(answers) <= ANSWER_CACHE_SIZE
    assert 0 < len(answers) <= ANSWER_CACHE_SIZE


def test_long_origins_are_answered_but_not_kept() -> None:
    middleware = CorsMiddleware(Recorder(), MIXED)
    origin = "https://" + "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 \
        + ".contoso.com"
    assert len(origin) > ANSWER_CACHE_MAX_ORIGIN
    for _ in range(2):
        response = call(middleware, headers={"Origin": origin})
        assert response.get_all("Access-Control-Allow-Origin") == [origin]
    assert origin not in root_scope(middleware).answers


def test_static_star_keeps_one_answer_for_every_origin() -> None:
    middleware = CorsMiddleware(Recorder(), STAR)
    scope = root_scope(middleware)
    assert scope.any_answer is not None
    for origin in ("https://a.example", "null", "not an origin"):
        response = call(middleware, headers={"Origin": origin})
        assert response.get_all("Access-Control-Allow-Origin") == ["*"]
    assert scope.answers == {}  # nothing per origin: the one answer serves them all


def test_static_star_denied_has_no_answer() -> None:
    middleware = CorsMiddleware(Recorder(), STAR_DENIED)
    assert root_scope(middleware).any_answer is None
    for _ in range(2):
        assert call(middleware, headers={"Origin": "https://a.example"}).status == 403


def _rule(echo: bool = True, tail: tuple[tuple[str, str], ...] = (("T", "2"),)) -> CompiledRule:
    return CompiledRule(OriginRule("https://*.a.example"), actual_tail=(("A", "1"),),
                        preflight_tail=(("P", "static"),),
                        preflight_before_echo=(("H", "1"),) if echo else None,
                        preflight_after_echo=tail)


ORIGIN_HEADER = (("Access-Control-Allow-Origin", "https://x.a.example"),)


def test_a_static_star_answers_only_its_own_scope() -> None:
    """B10 and A9: a root with the static "*" and a <location> with its own rules; each scope
    answers from its own tables, first sight and repeat."""
    config = web_config(
        '<cors enabled="true"><add origin="*" /></cors>',
        outside='<location path="api"><system.webServer>'
                '<cors enabled="true" failUnlistedOrigins="true"><clear />'
                '<add origin="https://app.contoso.com" /></cors></system.webServer></location>')
    middleware = CorsMiddleware(Recorder(), config)
    for _ in range(2):
        assert call(middleware, headers={"Origin": "https://evil.example"}).get_all(
            "Access-Control-Allow-Origin") == ["*"]
        assert call(middleware, path="/api/x", headers={
            "Origin": "https://evil.example"}).status == 403
        assert call(middleware, path="/api/x", headers={
            "Origin": "https://app.contoso.com"}).get_all("Access-Control-Allow-Origin") == [
            "https://app.contoso.com"]


def test_preflight_headers_echo_only_safe_values() -> None:
    answer = (ORIGIN_HEADER, _rule())
    static = [*ORIGIN_HEADER, ("P", "static")]
    assert preflight_headers(answer, "x-a, x-b") == [
        *ORIGIN_HEADER, ("H", "1"), ("Access-Control-Allow-Headers", "x-a, x-b"), ("T", "2")]
    for unsafe in ("x-a\r\nSet-Cookie: a=b", "", "x-a,", " x-a", "x" * 8193, "é"):
        assert preflight_headers(answer, unsafe) == static, unsafe
    assert preflight_headers(answer, "x" * 8192)[2] == ("Access-Control-Allow-Headers", "x" * 8192)
    assert preflight_headers(answer, None) == static
    assert preflight_headers((ORIGIN_HEADER, _rule(echo=False)), "x-a") == static
    first = preflight_headers(answer, None)
    first.append(("X", "mutated by a server"))
    assert preflight_headers(answer, None) == static  # a new list every time


def test_the_last_echo_holds_only_a_proven_value_and_its_own_header() -> None:
    rule = _rule(tail=())
    answer = (ORIGIN_HEADER, rule)
    echo = ("Access-Control-Allow-Headers", "x-a")
    assert preflight_headers(answer, "x-a") == [*ORIGIN_HEADER, ("H", "1"), echo]
    assert rule.last_echo == ("x-a", echo)
    assert preflight_headers(answer, "x-a") == [*ORIGIN_HEADER, ("H", "1"), echo]  # the slot
    assert preflight_headers(answer, "X-A")[2] == ("Access-Control-Allow-Headers", "X-A")
    assert preflight_headers(answer, "x-a\n") == [*ORIGIN_HEADER, ("P", "static")]
    assert preflight_headers(answer, "") == [*ORIGIN_HEADER, ("P", "static")]
    assert rule.last_echo[0] == "X-A"                              # the unsafe ones never kept
    long = ",".join(["x-long"] * 60)
    assert len(long) > LAST_ECHO_MAX
    assert preflight_headers(answer, long)[2] == ("Access-Control-Allow-Headers", long)
    assert rule.last_echo[0] == "X-A"                              # bounded
    # The slot belongs to the rule, the Allow-Origin to the origin: another origin of the same
    # rule reuses the proven value with its own Access-Control-Allow-Origin.
    other = (("Access-Control-Allow-Origin", "https://y.a.example"),)
    assert preflight_headers((other, rule), "X-A")[0] == other[0]


def test_the_tables_of_a_policy_share_one_bound() -> None:
    """Every <location> has its own table; together they hold at most ANSWER_CACHE_SIZE."""
    config = web_config(
        '<cors enabled="true"><add origin="https://*.contoso.com" /></cors>',
        outside="".join(f'<location path="p{n}"><system.webServer><cors enabled="true">'
                        '<clear /><add origin="https://*.contoso.com" /></cors>'
                        "</system.webServer></location>" for n in range(4)))
    middleware = CorsMiddleware(Recorder(), config)
    policy = middleware.policy
    scopes = [policy.root, *(policy.scope_for(f"/p{n}") for n in range(4))]
    for n in range(3 * ANSWER_CACHE_SIZE):
        origin = f"https://u{n}.contoso.com"
        response = call(middleware, path=f"/p{n % 5}" if n % 5 < 4 else "/", headers={
            "Origin": origin})
        assert response.get_all("Access-Control-Allow-Origin") == [origin]
        assert sum(len(scope.answers) for scope in scopes) <= ANSWER_CACHE_SIZE
    assert all(scope.answers for scope in scopes)


def test_a_full_table_stays_small_whatever_the_rule_carries() -> None:
    """A kept answer is the origin's own header and a reference to its rule's shared headers:
    200 customHeaders and long lists do not multiply by the number of origins."""
    custom = "".join(f'<add name="X-Custom-{n}" value="{"v" * 100}" />' for n in range(200))
    config = web_config(
        '<cors enabled="true"><add origin="https://*.contoso.com" allowCredentials="true">'
        '<allowHeaders allowAllRequestedHeaders="true" /></add></cors>',
        server=f"<httpProtocol><customHeaders>{custom}</customHeaders></httpProtocol>")
    middleware = CorsMiddleware(Recorder(), config, reload=False)
    label = "a" * 50
    acrh = ",".join(["x-" + "h" * 20] * 11)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(ANSWER_CACHE_SIZE):
            origin = f"https://{n:06d}{label}.{label}.{label}.{label}.contoso.com"
            call(middleware, "OPTIONS", headers={
                "Origin": origin, "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": acrh})
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(root_scope(middleware).answers) == ANSWER_CACHE_SIZE
    assert held < 1.5 * 1024 * 1024, held


def test_a_kept_answer_never_outlives_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(web_config('<cors enabled="true" failUnlistedOrigins="true">'
                                '<add origin="https://a.example" /></cors>'))
    middleware = CorsMiddleware(Recorder(), path, reload_interval=0)
    origin = {"Origin": "https://a.example"}
    assert call(middleware, headers=origin).status == 200
    assert call(middleware, headers=origin).status == 200  # from the kept answer
    new = tmp_path / "web.config.new"
    new.write_bytes(web_config('<cors enabled="true" failUnlistedOrigins="true">'
                               '<add origin="https://b.example" /></cors>'))
    os.replace(new, path)
    response = call(middleware, headers=origin)
    assert response.status == 403
    assert response.get_all("Access-Control-Allow-Origin") == []


def test_repeated_origins_do_not_call_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The design of issue 6: the policy decides an allowed origin once (by its first-sight
    lookup, ``admit``, since issue 17, or by ``verdict``); the repeats are one dict lookup in
    the adapter.  (A static "*" is never decided per origin at all.)"""
    calls: list[str | None] = []
    verdict, admit = ScopePolicy.verdict, ScopePolicy.admit

    def counting(self: ScopePolicy, method: str, origin: str | None,
                 *args: Any) -> Any:
        calls.append(origin)
        return verdict(self, method, origin, *args)

    def counting_admit(self: ScopePolicy, origin: str) -> Any:
        calls.append(origin)
        return admit(self, origin)

    monkeypatch.setattr(ScopePolicy, "verdict", counting)
    monkeypatch.setattr(ScopePolicy, "admit", counting_admit)
    middleware = CorsMiddleware(Recorder(), MIXED)
    preflight = {"Origin": "https://www.contoso.com", "Access-Control-Request-Method": "PUT"}
    for _ in range(3):
        call(middleware, headers={"Origin": "https://www.contoso.com"})
        call(middleware, "OPTIONS", headers=preflight)
        call(middleware)
    assert calls == ["https://www.contoso.com"]
    calls.clear()
    star = CorsMiddleware(Recorder(), STAR)
    for origin in ("https://a.example", "https://b.example", "null"):
        call(star, headers={"Origin": origin})
    assert calls == []


# --- every request, first sight and repeat, against the policy's Decision -------------------

_ORIGINS = [
    None, "https://app.contoso.com", "https://www.contoso.com", "https://a.b.contoso.com",
    "https://blocked.contoso.com", "http://www.contoso.com", "https://evil.example", "null",
    "https://x.contoso.com/p", "https://contoso.com", "HTTPS://WWW.CONTOSO.COM",
    "https://api.example:8443", "https://self.example", "http://self.example",
]
_APP_SETS: list[list[tuple[str, str]]] = [
    [], [("Vary", "Accept")], [("vary", "*")], [("access-control-allow-origin", "*")]]
#: (Host, scheme): the B13 exemption compares the Origin with both
_HOSTS = [("self.example", "https"), ("self.example", "http"), ("other.example", "https")]


@functools.cache
def _environ(method: str, path: str, headers: tuple[tuple[str, str], ...], host: str,
             scheme: str) -> dict[str, Any]:
    """One environ per distinct request of the products below, shared by their parameters
    (create_environ costs about 60 µs, and the products send some 160,000 requests): every
    call gets a copy, ``dict(environ)``."""
    return environ_for(method, path, headers, host=host, scheme=scheme)


def _parts(response: Response) -> tuple[Any, ...]:
    return response.status, response.headers, response.body


def _answer(middleware: CorsMiddleware, environ: dict[str, Any]) -> tuple[Any, ...]:
    """(status, headers, body) of one WSGI call with a prepared environ."""
    return _parts(call_environ(middleware, environ))


def _expected(reference: CorsMiddleware, environ: dict[str, Any],
              app_headers: list[tuple[str, str]]) -> tuple[Any, ...]:
    """What the middleware must do with ``environ``, from the Decision of a policy that has
    forgotten everything it decided before (contract B7-B9, B11): the oracle for the
    adapter's own tables."""
    reference.policy.forget_answers()
    # Policy.evaluate, not the adapter's decide(): it computes the B13 own origin itself.
    decision = reference.policy.evaluate(CorsRequest(
        environ["REQUEST_METHOD"], environ.get("HTTP_ORIGIN"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"), environ["PATH_INFO"],
        environ.get("HTTP_HOST"), environ["wsgi.url_scheme"]))
    if decision.status == 204:
        return 204, list(decision.headers), b""
    if decision.status == 403:
        return 403, [("Content-Type", "text/plain; charset=utf-8"),
                     ("Content-Length", str(len(FORBIDDEN_BODY))),
                     *decision.headers], FORBIDDEN_BODY
    return 200, merge_headers(app_headers, decision.headers), b"app body"


@pytest.mark.parametrize("exempt", [False, True], ids=["plain", "exempt-same-origin"])
@pytest.mark.parametrize("app_sets", _APP_SETS, ids=["no-vary", "vary", "vary-star", "acao"])
def test_every_request_first_and_repeated_matches_the_decision(
        app_sets: list[tuple[str, str]], exempt: bool) -> None:
    """Every request three times: on a long-lived middleware that has seen all the requests
    before it (``warm``), on one that has just forgotten everything (``first``: the policy
    decides), and again right after (``repeat``: read from what it kept).  All three must equal
    the response the Decision of a fresh policy calls for."""
    app_headers = [("Content-Type", "text/plain"), *app_sets]

    def build() -> CorsMiddleware:
        return CorsMiddleware(Recorder(headers=app_headers), MIXED, exempt_same_origin=exempt,
                              reload=False)

    reference, warm, cold = build(), build(), build()
    for origin, method, path, request_method, request_headers, (host, scheme) in (
            itertools.product(_ORIGINS, ["GET", "POST", "OPTIONS", "options"],
                              ["/", "/api/x", "/API", "/off/y", "/star/z"],
                              [None, "", "PUT"], [None, "x-a", "X-A", "X-A, content-type", "x a"],
                              _HOSTS)):
        headers = {"Origin": origin, "Access-Control-Request-Method": request_method,
                   "Access-Control-Request-Headers": request_headers}
        environ = _environ(method, path, tuple((k, v) for k, v in headers.items()
                                               if v is not None), host, scheme)
        expected = _expected(reference, dict(environ), app_headers)
        where = (method, path, host, scheme, headers)
        assert _answer(warm, dict(environ)) == expected, ("warm", *where)
        cold.policy.forget_answers()
        assert _answer(cold, dict(environ)) == expected, ("first", *where)
        assert _answer(cold, dict(environ)) == expected, ("repeat", *where)


async def _call_asgi(middleware: AsgiCorsMiddleware, method: str, path: str,
                     headers: dict[str, str], host: str, scheme: str) -> tuple[Any, ...]:
    return _parts(await asgi_response(middleware, asgi_scope(
        Req(method, path, tuple(headers.items()), host, scheme))))


@pytest.mark.parametrize("exempt", [False, True], ids=["plain", "exempt-same-origin"])
@pytest.mark.parametrize("app_sets", _APP_SETS, ids=["no-vary", "vary", "vary-star", "acao"])
def test_the_asgi_adapter_first_and_repeated_matches_the_decision(
        app_sets: list[tuple[str, str]], exempt: bool) -> None:
    """The same product through the ASGI adapter (which has the same tables-first path)."""
    app_headers = [("Content-Type", "text/plain"), *app_sets]
    reference = CorsMiddleware(Recorder(headers=app_headers), MIXED, exempt_same_origin=exempt,
                               reload=False)

    def build() -> AsgiCorsMiddleware:
        return AsgiCorsMiddleware(App(headers=app_headers).asgi, MIXED,
                                  exempt_same_origin=exempt, reload=False)

    async def run() -> None:
        warm, cold = build(), build()
        for origin, method, path, request_method, request_headers, (host, scheme) in (
                itertools.product(_ORIGINS, ["GET", "OPTIONS", "options"],
                                  ["/", "/api/x", "/off/y", "/star/z"], [None, "PUT"],
                                  [None, "x-a", "X-A", "x a"], _HOSTS)):
            headers = {k: v for k, v in {
                "Origin": origin, "Access-Control-Request-Method": request_method,
                "Access-Control-Request-Headers": request_headers}.items() if v is not None}
            environ = _environ(method, path, tuple(headers.items()), host, scheme)
            status, expected, body = _expected(reference, dict(environ), app_headers)
            if status == 403:  # the ASGI adapter writes its own two headers in lower case
                expected = [("content-type", expected[0][1]), ("content-length", expected[1][1]),
                            *expected[2:]]
            where = (method, path, host, scheme, headers)
            args = (method, path, headers, host, scheme)
            assert await _call_asgi(warm, *args) == (status, expected, body), ("warm", *where)
            cold.policy.forget_answers()
            assert await _call_asgi(cold, *args) == (status, expected, body), ("first", *where)
            assert await _call_asgi(cold, *args) == (status, expected, body), ("repeat", *where)

    asyncio.run(run())


def test_forgetting_answers_changes_nothing_but_the_memo() -> None:
    middleware = CorsMiddleware(Recorder(), MIXED)
    preflight = {"Origin": "https://www.contoso.com", "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "x-a"}
    before = call(middleware, "OPTIONS", headers=preflight)
    assert root_scope(middleware).answers
    middleware.policy.forget_answers()
    assert root_scope(middleware).answers == {}
    after = call(middleware, "OPTIONS", headers=preflight)
    assert (after.status, after.headers) == (before.status, before.headers)


_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _reference_echoable(value: str) -> bool:
    """Contract B14 spelled out without a regular expression: ``token *( OWS "," OWS token )``,
    1 to 8,192 characters, no whitespace before the first token or after the last."""
    if not 0 < len(value) <= 8192:
        return False
    parts = value.split(",")
    for index, part in enumerate(parts):
        token = part.strip(" \t")
        if not token or not _TCHAR.issuperset(token):
            return False
        if index == 0 and part != part.lstrip(" \t"):
            return False
        if index == len(parts) - 1 and part != part.rstrip(" \t"):
            return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ9-_!~ ,\t\r\n;:é\x00\"(")), max_size=30))
def test_the_echo_grammar_matches_a_plain_reading_of_b14(value: str) -> None:
    from iiscors.policy.headers import echoable_request_headers

    assert echoable_request_headers(value) is _reference_echoable(value)
