"""The answers a scope keeps for the allowed origins it has seen (iiscors.policy.Answer).

The WSGI middleware answers a repeated allowed origin from ``ScopePolicy.answers`` without
calling the policy (issue 6).  These tests pin what may enter that table, that it stays bounded,
that it never outlives a reload, and — the property that matters — that a middleware which has
seen any sequence of requests answers exactly as a fresh one does.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiscors import CorsMiddleware
from iiscors.middleware import FORBIDDEN_BODY, merge_headers
from iiscors.policy import (
    ANSWER_CACHE_MAX_ORIGIN,
    ANSWER_CACHE_SIZE,
    LAST_ECHO_MAX,
    Answer,
    ScopePolicy,
    preflight_headers,
)

from support import Recorder, call, environ_for, web_config

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
            "</system.webServer></location>")

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


def test_preflight_headers_echo_only_safe_values() -> None:
    answer = Answer(actual=(), preflight=(("P", "static"),), echo_head=(("H", "1"),),
                    echo_tail=(("T", "2"),), last_echo=[(None, ())])
    assert preflight_headers(answer, "x-a, x-b") == [
        ("H", "1"), ("Access-Control-Allow-Headers", "x-a, x-b"), ("T", "2")]
    for unsafe in ("x-a\r\nSet-Cookie: a=b", "", "x-a,", " x-a", "x" * 8193, "é"):
        assert preflight_headers(answer, unsafe) == [("P", "static")], unsafe
    assert preflight_headers(answer, "x" * 8192)[1] == ("Access-Control-Allow-Headers", "x" * 8192)
    assert preflight_headers(answer, None) == [("P", "static")]
    assert preflight_headers(answer._replace(echo_head=None), "x-a") == [("P", "static")]
    first = preflight_headers(answer, None)
    first.append(("X", "mutated by a server"))
    assert preflight_headers(answer, None) == [("P", "static")]  # a new list every time


def test_the_last_echo_holds_only_a_proven_value_and_its_own_headers() -> None:
    answer = Answer(actual=(), preflight=(("P", "static"),), echo_head=(("H", "1"),),
                    echo_tail=(), last_echo=[(None, ())])
    echo = ("Access-Control-Allow-Headers", "x-a")
    assert preflight_headers(answer, "x-a") == [("H", "1"), echo]
    assert answer.last_echo == [("x-a", (("H", "1"), echo))]
    assert preflight_headers(answer, "x-a") == [("H", "1"), echo]          # from the slot
    assert preflight_headers(answer, "x-a\n") == [("P", "static")]         # never the slot's
    assert preflight_headers(answer, "") == [("P", "static")]
    assert answer.last_echo[0][0] == "x-a"                                  # unsafe never kept
    assert preflight_headers(answer, "x-b")[1] == ("Access-Control-Allow-Headers", "x-b")
    assert answer.last_echo[0][0] == "x-b"
    long = ",".join(["x-long"] * 60)
    assert len(long) > LAST_ECHO_MAX
    assert preflight_headers(answer, long)[1] == ("Access-Control-Allow-Headers", long)
    assert answer.last_echo[0][0] == "x-b"                                  # bounded


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
    """The design of issue 6: the policy decides an allowed origin once; the repeats are one
    dict lookup in the adapter.  (A static "*" is never decided per origin at all.)"""
    calls: list[str | None] = []
    verdict = ScopePolicy.verdict

    def counting(self: ScopePolicy, method: str, origin: str | None,
                 *args: Any) -> Any:
        calls.append(origin)
        return verdict(self, method, origin, *args)

    monkeypatch.setattr(ScopePolicy, "verdict", counting)
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
    "https://api.example:8443", "https://self.example",
]
_APP_SETS: list[list[tuple[str, str]]] = [
    [], [("Vary", "Accept")], [("vary", "*")], [("access-control-allow-origin", "*")]]


def _expected(middleware: CorsMiddleware, environ: dict[str, Any],
              app_headers: list[tuple[str, str]]) -> tuple[Any, ...]:
    """What the middleware must do with ``environ``, from the policy's Decision alone
    (contract B7-B9, B11): the oracle for the adapter's own fast path."""
    decision = middleware.decide(environ)
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
    """Each request twice on one long-lived middleware — the first decided by the policy, the
    repeat read from the answers the policy kept — and both equal the Decision's response."""
    app_headers = [("Content-Type", "text/plain"), *app_sets]
    middleware = CorsMiddleware(Recorder(headers=app_headers), MIXED,
                                exempt_same_origin=exempt, reload=False)
    for origin, method, path, request_method, request_headers in itertools.product(
            _ORIGINS, ["GET", "POST", "OPTIONS"], ["/", "/api/x", "/API", "/off/y"],
            [None, "", "PUT"], [None, "x-a", "X-A, content-type", "x a"]):
        headers = {"Origin": origin, "Access-Control-Request-Method": request_method,
                   "Access-Control-Request-Headers": request_headers}
        environ = environ_for(method, path, {k: v for k, v in headers.items() if v is not None},
                              host="self.example")
        expected = _expected(middleware, dict(environ), app_headers)
        for sight in ("first", "repeat"):
            response = call_environ(middleware, dict(environ))
            assert response == expected, (sight, method, path, headers)


def call_environ(middleware: CorsMiddleware, environ: dict[str, Any]) -> tuple[Any, ...]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.update(status=int(status.split()[0]), headers=headers)
        return lambda data: None

    body = b"".join(middleware(environ, start_response))
    return captured["status"], captured["headers"], body


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
    from iiscors._headers import echoable_request_headers

    assert echoable_request_headers(value) is _reference_echoable(value)
