"""The ASGI adapter's lean path for actual requests (issue 17's ASGI target): what it skips,
and that it answers exactly as the full path.

- **The lean reading.**  A request that reads no header but Origin (not a preflight, no B13
  exemption, no path levels) does not check every header name's case: the server's list is
  taken as it is unless a name is sent twice or Origin is spelt with a capital, which are read
  the slow way as before.
- **The ready headers.**  A repeated allowed actual request's headers are kept ready by its
  Origin's bytes (an allowed preflight's 204 headers by its Origin's and its requested
  headers' bytes), tied to their policy (the repeats' headers) or to the answers table of its
  scope (the preflights'): a repeat neither decodes the Origin nor asks the table, a reload's
  new policy starts afresh, and they are bounded as the answers are (ANSWER_CACHE_SIZE entries,
  values of at most ANSWER_CACHE_MAX_ORIGIN characters).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

import iiscors.asgi
from iiscors.asgi import (
    _PREFLIGHT_BYTES_MAX,
    _PREFLIGHT_PAIRS_MAX,
    _PREFLIGHTS_KEPT,
    CorsMiddleware,
    request_fields,
)
from iiscors.policy.core import ANSWER_CACHE_MAX_ORIGIN, ANSWER_CACHE_SIZE, Answer

from support import App, Req, asgi_response, asgi_scope, call_asgi, replace_file, web_config

A = "https://a.example"
CONFIG = web_config(
    f'<cors enabled="true"><add origin="{A}" allowCredentials="true">'
    '<exposeHeaders><add header="X-One" /></exposeHeaders></add></cors>')
STAR = web_config('<cors enabled="true"><add origin="*" /></cors>')


def _scope(headers: list[tuple[Any, Any]], method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "scheme": "https", "path": "/",
            "headers": headers}


def _answer(middleware: CorsMiddleware, headers: list[tuple[Any, Any]]) -> tuple[int, Any]:
    response = call_asgi(middleware, _scope(headers))
    return response.status, response.headers


# -- the lean reading ----------------------------------------------------------------------------

def test_an_actual_request_does_not_read_every_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a preflight and the exemption read the headers fully (request_headers); a GET, with
    an allowed Origin, an unlisted one or none, reads the Origin alone."""
    read: list[object] = []
    full = iiscors.asgi.request_headers

    def counted(scope: dict[str, Any]) -> Any:
        read.append(scope)
        return full(scope)

    monkeypatch.setattr(iiscors.asgi, "request_headers", counted)
    middleware = CorsMiddleware(App().asgi, CONFIG, reload=False)
    for origin in (A, "https://other.example", None):
        call_asgi(middleware, asgi_scope(Req(headers=(("Origin", origin),) if origin else ())))
    assert read == []
    call_asgi(middleware, asgi_scope(Req("OPTIONS", headers=(
        ("Origin", A), ("Access-Control-Request-Method", "GET")))))
    exempt = CorsMiddleware(App().asgi, CONFIG, reload=False, exempt_same_origin=True)
    call_asgi(exempt, asgi_scope(Req(headers=(("Origin", A),))))
    assert len(read) == 2


ORIGIN = A.encode()
SPELLINGS: dict[str, list[tuple[Any, Any]]] = {
    "another-name-in-capitals": [(b"Accept", b"*/*"), (b"origin", ORIGIN)],
    "origin-in-capitals": [(b"accept", b"*/*"), (b"oRIGIN", ORIGIN)],
    "another-name-twice": [(b"accept", b"*/*"), (b"accept", b"text/html"), (b"origin", ORIGIN)],
    "origin-twice": [(b"origin", b"https://b.example"), (b"origin", ORIGIN)],
    "origin-twice-in-two-spellings": [(b"origin", ORIGIN), (b"Origin", b"https://b.example")],
    "no-origin-but-a-capital": [(b"Accept", b"*/*")],
    "memoryview-value": [(b"origin", memoryview(ORIGIN))],
    "bytearray-value": [(b"origin", bytearray(ORIGIN))],
    "unlisted": [(b"origin", b"https://b.example")],
}


@pytest.mark.parametrize("name", SPELLINGS)
def test_the_lean_reading_answers_as_the_full_one(name: str) -> None:
    """Each list is answered as the list of lower-case names sent once that the full reading
    (request_fields) makes of it: what the Origin reads as decides, however it was spelt."""
    headers = SPELLINGS[name]
    origin = request_fields(_scope(headers)).get("origin")
    canonical = [] if origin is None else [(b"origin", origin.encode("latin-1"))]
    middleware = CorsMiddleware(App().asgi, CONFIG, reload=False)
    for _ in range(2):  # first sight, then the repeat
        assert _answer(middleware, list(headers)) == _answer(middleware, canonical)


# -- the ready headers ---------------------------------------------------------------------------

class CountingTable(dict[str, Answer]):
    """An answers table that counts its lookups."""

    lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)


def test_a_repeat_does_not_ask_the_answers_table() -> None:
    middleware = CorsMiddleware(App().asgi, CONFIG, reload=False)
    table = middleware.policy.root.answers = CountingTable()
    first = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
    assert table.lookups == 1 and A in table  # the first sight, kept by the scope
    for _ in range(4):  # the first repeat keeps its headers ready, the next ones read them
        repeat = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
        assert (repeat.status, repeat.headers) == (first.status, first.headers)
    assert table.lookups == 2
    assert first.get_all("Access-Control-Expose-Headers") == ["X-One"]


def test_the_ready_headers_follow_a_reload(tmp_path: Path) -> None:
    """Contract A8: after an edit, a repeated origin gets the new configuration's headers."""
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    middleware = CorsMiddleware(App().asgi, str(path), reload_interval=0)
    for _ in range(3):  # kept ready at the first repeat
        before = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
        assert before.get_all("Access-Control-Expose-Headers") == ["X-One"]
    replace_file(path, CONFIG.replace(b"X-One", b"X-Two"))
    os.utime(path, (1, 1))  # another stat, whatever the file system's time resolution
    after = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),))))
    assert after.get_all("Access-Control-Expose-Headers") == ["X-Two"]


def test_the_ready_headers_are_bounded_as_the_answers() -> None:
    middleware = CorsMiddleware(App().asgi, STAR, reload=False)

    async def send_all(origins: list[str]) -> None:
        for origin in origins:
            scope = asgi_scope(Req(headers=(("Origin", origin),)))
            response = await asgi_response(middleware, scope)
            assert response.get_all("Access-Control-Allow-Origin") == ["*"]  # contract B10

    long = "https://" + "a" * ANSWER_CACHE_MAX_ORIGIN + ".example"
    asyncio.run(send_all([long]))
    assert long.encode() not in middleware._echoes[1]  # too long to keep, answered all the same
    asyncio.run(send_all([f"https://{i}.example" for i in range(ANSWER_CACHE_SIZE + 5)]))
    assert 0 < len(middleware._echoes[1]) <= ANSWER_CACHE_SIZE


def test_an_origin_in_another_buffer_after_a_ready_one() -> None:
    """A server's bytearray value (unhashable) is answered, never looked up among the ready
    headers, once they hold the same origin's bytes."""
    middleware = CorsMiddleware(App().asgi, CONFIG, reload=False)
    ready = _answer(middleware, [(b"origin", ORIGIN)])
    assert _answer(middleware, [(b"origin", ORIGIN)]) == ready  # kept ready
    assert _answer(middleware, [(b"origin", ORIGIN)]) == ready  # from the ready headers
    assert _answer(middleware, [(b"origin", bytearray(ORIGIN))]) == ready
    assert _answer(middleware, [(b"origin", memoryview(ORIGIN))]) == ready


# -- the ready preflight answers -----------------------------------------------------------------

ECHO = web_config(
    f'<cors enabled="true"><add origin="{A}"><allowHeaders allowAllRequestedHeaders="true" />'
    '<allowMethods><add method="PUT" /></allowMethods></add></cors>')


def _preflight(middleware: CorsMiddleware, requested: Any = b"x-a") -> tuple[int, Any]:
    headers = [(b"origin", ORIGIN), (b"access-control-request-method", b"PUT")]
    if requested is not None:
        headers.append((b"access-control-request-headers", requested))
    response = call_asgi(middleware, _scope(headers, "OPTIONS"))
    return response.status, response.headers


def test_a_repeated_preflight_does_not_ask_the_answers_table() -> None:
    middleware = CorsMiddleware(App().asgi, ECHO, reload=False)
    table = middleware.policy.root.answers = CountingTable()
    first = _preflight(middleware)
    assert first[0] == 204 and ("Access-Control-Allow-Headers", "x-a") in first[1]  # B14
    assert table.lookups == 1
    assert [_preflight(middleware) for _ in range(3)] == [first] * 3
    assert table.lookups == 1


def test_each_requested_header_list_gets_its_own_preflight_answer() -> None:
    """Contract B14: the requested headers are echoed, so they are part of what is kept."""
    middleware = CorsMiddleware(App().asgi, ECHO, reload=False)
    for _ in range(2):  # first sight, then the repeats
        for requested in (b"x-a", b"x-b", None, bytearray(b"x-c"), memoryview(b"x-d")):
            status, headers = _preflight(middleware, requested)
            echoed = [] if requested is None else [bytes(requested).decode()]
            assert status == 204
            assert [v for n, v in headers if n == "Access-Control-Allow-Headers"] == echoed
    long = b"x-" + b"a" * _PREFLIGHT_BYTES_MAX
    for _ in range(2):
        assert _preflight(middleware, long)[0] == 204
    assert (ORIGIN, long) not in middleware._preflights[1]  # too long to keep
    assert (ORIGIN, b"x-a") in middleware._preflights[1]


def test_the_ready_preflight_answers_are_few_and_small() -> None:
    """A preflight's headers are encoded for it (not shared with the rule): at most
    _PREFLIGHTS_KEPT of them are kept, each of at most _PREFLIGHT_PAIRS_MAX headers."""
    middleware = CorsMiddleware(App().asgi, ECHO, reload=False)
    for i in range(_PREFLIGHTS_KEPT + 5):
        assert _preflight(middleware, b"x-%d" % i)[0] == 204
    assert 0 < len(middleware._preflights[1]) <= _PREFLIGHTS_KEPT
    custom = "".join(f'<add name="X-{i}" value="{i}" />' for i in range(_PREFLIGHT_PAIRS_MAX))
    many = CorsMiddleware(App().asgi, ECHO.replace(
        b"</system.webServer>", f"<httpProtocol><customHeaders>{custom}</customHeaders>"
        "</httpProtocol></system.webServer>".encode()), reload=False)
    status, headers = _preflight(many)
    assert status == 204 and ("X-3", "3") in headers  # contract C1
    assert _preflight(many) == (status, headers)
    assert many._preflights[1] == {}  # too many headers to keep


def test_the_ready_preflight_answers_follow_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(ECHO)
    middleware = CorsMiddleware(App().asgi, str(path), reload_interval=0)
    for _ in range(2):  # kept ready
        assert ("Access-Control-Allow-Methods", "PUT") in _preflight(middleware)[1]
    replace_file(path, ECHO.replace(b'"PUT"', b'"PATCH"'))
    os.utime(path, (1, 1))  # another stat, whatever the file system's time resolution
    assert ("Access-Control-Allow-Methods", "PATCH") in _preflight(middleware)[1]


def test_with_path_levels_nothing_is_kept_and_every_scope_answers() -> None:
    """Under path levels (a <location>), requests to two scopes in turn are each answered by
    their own scope, and no ready headers are kept (they would replace each other)."""
    config = web_config(
        f'<cors enabled="true"><add origin="{A}"><allowMethods><add method="PUT" />'
        "</allowMethods></add></cors>",
        outside=f'<location path="api"><system.webServer><cors enabled="true">'
                f'<clear /><add origin="{A}" allowCredentials="true" /></cors></system.webServer>'
                "</location>")
    middleware = CorsMiddleware(App().asgi, config, reload=False)
    assert not middleware.policy.direct
    for _ in range(3):
        for path, credentials in (("/x", []), ("/api/x", ["true"])):
            scope = asgi_scope(Req(path=path, headers=(("Origin", A),)))
            response = call_asgi(middleware, scope)
            assert response.get_all("Access-Control-Allow-Origin") == [A]
            assert response.get_all("Access-Control-Allow-Credentials") == credentials
            scope = asgi_scope(Req("OPTIONS", path, (
                ("Origin", A), ("Access-Control-Request-Method", "PUT"))))
            expected = middleware.decide(scope)
            preflight = call_asgi(middleware, scope)
            assert preflight.status == (expected.status or 200)
            assert preflight.cors() == dict(expected.headers)
    assert middleware._echoes[0] is None and middleware._preflights[0] is None
