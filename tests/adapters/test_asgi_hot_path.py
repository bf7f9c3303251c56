"""The ASGI adapter's hot path (issue 17, round three): what a ready repeat skips, and what its
``send`` wrapper does with the application's response start.

- **A ready repeat goes straight to the application.**  Under a lean policy (one scope, no B13
  exemption) a repeated allowed origin's headers, and a request without Origin's, are found
  without the general path (``_added``), which counts here; under the exemption every request
  is judged again (its answer depends on Host, not on the Origin alone).
- **The wrapper's copy.**  The application's start message and its header list are never
  modified (an application may send the same ones again); a message that is not a ``dict`` is
  copied all the same; header names of any buffer type, and an empty one, are read (contract
  B11's merge where a name starts with V or A, plain appending otherwise).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

import iiscors.asgi
from iiscors.asgi import CorsMiddleware

from support import Req, asgi_scope, call_asgi, replace_file, web_config

A = "https://a.example"
B = "https://b.example"
CONFIG = web_config(f'<cors enabled="true"><add origin="{A}" /></cors>')
FROM_A = Req(headers=(("Origin", A),))
NO_ORIGIN = Req()


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The calls of the general path (``CorsMiddleware._added``), recorded."""
    calls: list[object] = []
    general = CorsMiddleware._added

    def counted(self: CorsMiddleware, *args: Any) -> Any:
        calls.append(args[0])
        return general(self, *args)
    monkeypatch.setattr(CorsMiddleware, "_added", counted)
    return calls


class StartApp:
    """An ASGI app that sends the same start message (and header list) to every request."""

    def __init__(self, start: MutableMapping[str, Any]) -> None:
        self.start = start

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(self.start)
        await send({"type": "http.response.body", "body": b"ok"})


# -- a ready repeat ------------------------------------------------------------------------------

def test_a_ready_repeat_and_a_request_without_origin_skip_the_general_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    middleware = CorsMiddleware(StartApp(_start()), CONFIG, reload=False)
    answers = [call_asgi(middleware, asgi_scope(FROM_A)) for _ in range(2)]  # first, repeat
    assert len(calls) == 2  # the first sight, then the repeat that keeps its headers ready
    answers += [call_asgi(middleware, asgi_scope(FROM_A)) for _ in range(3)]
    no_origin = [call_asgi(middleware, asgi_scope(NO_ORIGIN)) for _ in range(2)]
    assert len(calls) == 2  # neither the ready repeats nor the requests without Origin
    assert all(a.headers == answers[0].headers for a in answers)
    assert answers[0].get_all("Access-Control-Allow-Origin") == [A]
    fresh = call_asgi(CorsMiddleware(StartApp(_start()), CONFIG, reload=False),
                      asgi_scope(NO_ORIGIN))
    assert all(n.headers == fresh.headers for n in no_origin)  # contract B2/B15


def test_under_the_exemption_every_repeat_is_judged_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Contract B13's opt-in: the same Origin is exempt where it is the request's own origin,
    whatever answers its earlier requests from another Host got."""
    calls = _counting(monkeypatch)
    middleware = CorsMiddleware(StartApp(_start()), CONFIG, reload=False,
                                exempt_same_origin=True)
    for _ in range(3):  # allowed, from another host: Allow-Origin, and kept ready if it may
        other = call_asgi(middleware, asgi_scope(FROM_A))
        assert other.get_all("Access-Control-Allow-Origin") == [A]
    own = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", A),), host="a.example")))
    assert own.get_all("Access-Control-Allow-Origin") == []  # not a CORS request
    assert len(calls) == 4


def test_a_lean_preflight_skips_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OPTIONS under a lean policy goes to the preflight's own path (contract B3) at once;
    one without Origin is the application's, with the passive headers (B2/B15)."""
    calls = _counting(monkeypatch)
    middleware = CorsMiddleware(StartApp(_start()), CONFIG, reload=False)
    call_asgi(middleware, asgi_scope(NO_ORIGIN))  # the first request: the policy is lean
    preflight = Req("OPTIONS", headers=(("Origin", A), ("Access-Control-Request-Method", "GET")))
    answers = [call_asgi(middleware, asgi_scope(preflight)) for _ in range(3)]
    options = call_asgi(middleware, asgi_scope(Req("OPTIONS")))
    assert len(calls) == 2  # the first request, and the OPTIONS without Origin
    assert [a.status for a in answers] == [204] * 3
    assert all(a.get_all("Access-Control-Allow-Origin") == [A] for a in answers)
    fresh = call_asgi(CorsMiddleware(StartApp(_start()), CONFIG, reload=False),
                      asgi_scope(Req("OPTIONS")))
    assert (options.status, options.headers) == (200, fresh.headers)


def test_no_clock_is_read_while_the_reload_thread_times_the_checks(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ReloadingPolicy._next_check is infinite then: no request is due, none reads the clock."""
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    reads: list[float] = []

    def clock() -> float:
        reads.append(0.0)
        return time.monotonic()
    monkeypatch.setattr(iiscors.asgi, "_monotonic", clock)
    middleware = CorsMiddleware(StartApp(_start()), str(path), reload_interval=3600)
    for _ in range(3):
        call_asgi(middleware, asgi_scope(FROM_A))
    assert reads == []
    middleware._next_check = 0.0  # due (as after a fork): this request reads the clock
    call_asgi(middleware, asgi_scope(FROM_A))
    assert reads


# -- the wrapper's copy --------------------------------------------------------------------------

def _start(headers: list[tuple[Any, Any]] | None = None) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200,
            "headers": [(b"content-type", b"text/plain")] if headers is None else headers}


def test_the_application_s_start_message_is_never_modified() -> None:
    start = _start()
    headers = start["headers"]
    middleware = CorsMiddleware(StartApp(start), CONFIG, reload=False)
    for _ in range(4):  # a first sight, a repeat, ready repeats: each gets one Allow-Origin
        answer = call_asgi(middleware, asgi_scope(FROM_A))
        assert answer.get_all("Access-Control-Allow-Origin") == [A]
        assert answer.get_all("content-type") == ["text/plain"]
    assert start == _start() and start["headers"] is headers
    assert headers == [(b"content-type", b"text/plain")]


class PlainMapping(MutableMapping[str, Any]):
    """A start message that is a mapping but not a dict (no ``copy``)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self.items_ = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self.items_[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.items_[key] = value

    def __delitem__(self, key: str) -> None:
        del self.items_[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.items_)

    def __len__(self) -> int:
        return len(self.items_)


def test_a_start_message_that_is_not_a_dict_is_copied_too() -> None:
    start = PlainMapping(_start())
    middleware = CorsMiddleware(StartApp(start), CONFIG, reload=False)
    for _ in range(3):
        answer = call_asgi(middleware, asgi_scope(FROM_A))
        assert answer.get_all("Access-Control-Allow-Origin") == [A]
    assert dict(start) == _start()


@pytest.mark.parametrize("buffer", [bytearray, memoryview])
def test_header_names_of_any_buffer_type_are_read(buffer: type) -> None:
    """A bytearray or memoryview name (the ASGI spec says bytes; servers accept buffers): a
    plain name is appended to, a Vary gets Origin merged into it (contract B11)."""
    start = _start([(buffer(b"content-type"), b"text/plain"), (buffer(b"vary"), b"Cookie")])
    plain = _start([(buffer(b"content-type"), b"text/plain")])
    for app_start, vary in ((start, ["Cookie, Origin"]), (plain, None)):
        middleware = CorsMiddleware(StartApp(app_start), CONFIG, reload=False)
        for _ in range(3):
            answer = call_asgi(middleware, asgi_scope(FROM_A))
            assert answer.get_all("Access-Control-Allow-Origin") == [A]
            assert answer.get_all("content-type") == ["text/plain"]
            if vary is not None:
                assert answer.get_all("vary") == vary


def test_an_empty_header_name_is_kept_and_the_headers_added() -> None:
    start = _start([(b"", b"odd"), (b"content-type", b"text/plain")])
    middleware = CorsMiddleware(StartApp(start), CONFIG, reload=False)
    for _ in range(3):
        answer = call_asgi(middleware, asgi_scope(FROM_A))
        assert answer.get_all("") == ["odd"]
        assert answer.get_all("Access-Control-Allow-Origin") == [A]


def test_after_a_reload_to_path_levels_nothing_more_is_kept(tmp_path: Path) -> None:
    """The ready headers belong to the lean policy they were kept for: a reload's policy with
    path levels (not lean) answers by its scopes, and adds nothing to the old policy's."""
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    middleware = CorsMiddleware(StartApp(_start()), str(path), reload_interval=0)
    for _ in range(3):
        call_asgi(middleware, asgi_scope(FROM_A))
    lean, ready = middleware._echoes
    assert lean is middleware.policy and list(ready) == [A.encode()]
    replace_file(path, web_config(
        f'<cors enabled="true"><add origin="{A}" /><add origin="{B}" /></cors>',
        outside=f'<location path="api"><system.webServer><cors enabled="true">'
                f'<clear /><add origin="{B}" /></cors></system.webServer></location>'))
    os.utime(path, (1, 1))  # another stat, whatever the file system's time resolution
    for _ in range(3):
        answer = call_asgi(middleware, asgi_scope(Req(headers=(("Origin", B),))))
        assert answer.get_all("Access-Control-Allow-Origin") == [B]
    assert not middleware.policy.direct and list(ready) == [A.encode()]
