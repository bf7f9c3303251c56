"""An application's own crash still carries the CORS headers (issue 15, docs/behaviour.md
"An application's crash").

Both adapters, ``answer_crashes`` on (the default): an application that raises before its
response starts gets a 500 with the decision's headers, the exception is logged with its
traceback (logger ``iiscors``), and the ASGI adapter re-raises it after sending the 500 so that
the server sees it too.  What is left alone: a response already started, a request the decision
adds no header to, the option turned off, and Werkzeug's debugger (or Flask's test client)
outside, which want the exception itself.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.debug import DebuggedApplication
from werkzeug.test import create_environ, run_wsgi_app

from iiscors.asgi import CorsMiddleware as AsgiMiddleware
from iiscors.layering import CRASH_BODY, DEBUGGER
from iiscors.wsgi import CorsMiddleware as WsgiMiddleware

from support import web_config

CONFIG = web_config('<cors enabled="true" failUnlistedOrigins="false">'
                    '<add origin="https://app.example" allowCredentials="true">'
                    '<exposeHeaders><add header="X-Total" /></exposeHeaders></add></cors>',
                    server='<httpProtocol><customHeaders><add name="X-Site" value="1" />'
                           "</customHeaders></httpProtocol>")
#: CORS off and no customHeaders: the decision adds no header at all
BARE = web_config('<cors enabled="false" />')
ORIGIN = "https://app.example"
CORS_HEADERS = {"access-control-allow-origin": ORIGIN,
                "access-control-allow-credentials": "true",
                "access-control-expose-headers": "X-Total", "vary": "Origin", "x-site": "1"}


class Boom(RuntimeError):
    pass


def raising_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise Boom("the database is down")


def starting_then_raising_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    raise Boom("failed after start_response, before any byte")


def writing_then_raising_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial")
    raise Boom("failed after sending bytes")


def wsgi_call(app: Any, headers: dict[str, str] | None = None,
              environ: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request, with a ``start_response`` that does what PEP 3333 asks of a server (and
    waitress, gunicorn and wsgiref do): ``exc_info`` replaces a response not sent yet, and
    re-raises once some of it was sent (here: once ``write`` was called)."""
    env = create_environ("/orders", base_url="https://api.example", headers=headers or {})
    env.update(environ or {})
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and written:
            raise exc_info[1].with_traceback(exc_info[2])
        assert exc_info is not None or not started, "a second call needs exc_info"
        started.append((status, response_headers))
        return written.append

    iterable = app(env, start_response)
    try:
        body = b"".join(iterable)
    finally:
        getattr(iterable, "close", lambda: None)()  # as servers do (PEP 3333)
    status, sent = started[-1]
    return int(status.split()[0]), {k.lower(): v for k, v in sent}, b"".join(written) + body


def crash_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "iiscors" and r.levelno == logging.ERROR]


@pytest.mark.parametrize("app", [raising_wsgi, starting_then_raising_wsgi],
                         ids=["before-start_response", "after-start_response"])
def test_wsgi_crash_is_answered_with_the_cors_headers(
        app: Callable[..., Iterable[bytes]], caplog: pytest.LogCaptureFixture) -> None:
    middleware = WsgiMiddleware(app, CONFIG, reload=False)
    status, headers, body = wsgi_call(middleware, {"Origin": ORIGIN})
    assert status == 500 and body == CRASH_BODY
    assert {k: headers[k] for k in CORS_HEADERS} == CORS_HEADERS
    assert headers["content-type"] == "text/plain; charset=utf-8"  # the app's is replaced
    (record,) = crash_records(caplog)
    assert record.exc_info is not None and record.exc_info[0] is Boom  # the traceback
    assert "Traceback" in caplog.text and str(record.exc_info[1]) in caplog.text


def test_wsgi_crash_without_origin_still_carries_vary_and_custom_headers(
        caplog: pytest.LogCaptureFixture) -> None:
    # contract B15 and C1: the passive headers are the decision's headers too
    status, headers, _ = wsgi_call(WsgiMiddleware(raising_wsgi, CONFIG, reload=False))
    assert status == 500 and headers["vary"] == "Origin" and headers["x-site"] == "1"
    assert "access-control-allow-origin" not in headers


def test_wsgi_crash_with_nothing_to_add_goes_to_the_server(
        caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Boom):
        wsgi_call(WsgiMiddleware(raising_wsgi, BARE, reload=False), {"Origin": ORIGIN})
    assert not crash_records(caplog)


def test_wsgi_option_off_lets_the_exception_through(caplog: pytest.LogCaptureFixture) -> None:
    middleware = WsgiMiddleware(raising_wsgi, CONFIG, reload=False, answer_crashes=False)
    with pytest.raises(Boom):
        wsgi_call(middleware, {"Origin": ORIGIN})
    assert not crash_records(caplog)


def test_wsgi_response_already_sent_reaches_the_server() -> None:
    # start_response(..., exc_info) re-raises once bytes were sent (PEP 3333): nothing to fix
    middleware = WsgiMiddleware(writing_then_raising_wsgi, CONFIG, reload=False)
    with pytest.raises(Boom):
        wsgi_call(middleware, {"Origin": ORIGIN})


def test_wsgi_a_debugger_outside_sees_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Boom):
        wsgi_call(WsgiMiddleware(raising_wsgi, CONFIG, reload=False), {"Origin": ORIGIN},
                  {DEBUGGER: lambda context: None})
    # and Werkzeug's real debugger shows its traceback page, not our 500
    debugged = DebuggedApplication(WsgiMiddleware(raising_wsgi, CONFIG, reload=False),
                                   evalex=True)
    env = create_environ("/orders", base_url="https://api.example", headers={"Origin": ORIGIN})
    body_parts, status_line, _sent = run_wsgi_app(debugged, env, buffered=True)
    status, body = int(status_line.split()[0]), b"".join(body_parts)
    assert status == 500 and b"Boom" in body and b"the database is down" in body
    assert body != CRASH_BODY and not crash_records(caplog)


def test_wsgi_healthy_requests_are_untouched() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]

    status, headers, body = wsgi_call(WsgiMiddleware(app, CONFIG, reload=False),
                                      {"Origin": ORIGIN})
    assert (status, body, headers["access-control-allow-origin"]) == (201, b"{}", ORIGIN)


# ASGI -----------------------------------------------------------------------------------------

async def raising_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise Boom("the database is down")


async def starting_then_raising_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    raise Boom("failed mid-response")


def asgi_run(app: Any, headers: dict[str, str] | None = None,
             scope_type: str = "http") -> tuple[list[dict[str, Any]], BaseException | None]:
    """Run one request; return the messages sent and the exception the app raised out."""
    scope = {"type": scope_type, "method": "GET", "path": "/orders", "root_path": "",
             "scheme": "https", "headers": [(b"host", b"api.example"), *(
                 (n.lower().encode(), v.encode()) for n, v in (headers or {}).items())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    except Boom as exc:
        return sent, exc
    return sent, None


def test_asgi_crash_is_answered_then_re_raised(caplog: pytest.LogCaptureFixture) -> None:
    sent, raised = asgi_run(AsgiMiddleware(raising_asgi, CONFIG, reload=False),
                            {"Origin": ORIGIN})
    assert isinstance(raised, Boom)  # the server sees the failure too
    start, body = sent
    assert start["status"] == 500 and body == {"type": "http.response.body", "body": CRASH_BODY}
    headers = {bytes(n).decode().lower(): bytes(v).decode() for n, v in start["headers"]}
    assert {k: headers[k] for k in CORS_HEADERS} == CORS_HEADERS
    (record,) = crash_records(caplog)
    assert record.exc_info is not None and record.exc_info[0] is Boom


def test_asgi_crash_after_the_start_is_only_re_raised(caplog: pytest.LogCaptureFixture) -> None:
    sent, raised = asgi_run(AsgiMiddleware(starting_then_raising_asgi, CONFIG, reload=False),
                            {"Origin": ORIGIN})
    assert isinstance(raised, Boom)
    (start,) = sent  # no second response start
    assert start["status"] == 200 and (b"access-control-allow-origin", ORIGIN.encode()) in [
        (bytes(n).lower(), bytes(v)) for n, v in start["headers"]]
    assert not crash_records(caplog)


@pytest.mark.parametrize(("config", "options"), [(BARE, {}), (CONFIG, {"answer_crashes": False})],
                         ids=["nothing-to-add", "option-off"])
def test_asgi_crash_left_to_the_server(config: bytes, options: dict[str, Any],
                                       caplog: pytest.LogCaptureFixture) -> None:
    sent, raised = asgi_run(AsgiMiddleware(raising_asgi, config, reload=False, **options),
                            {"Origin": ORIGIN})
    assert isinstance(raised, Boom) and sent == [] and not crash_records(caplog)


def test_asgi_websocket_crash_is_not_touched() -> None:
    sent, raised = asgi_run(AsgiMiddleware(raising_asgi, CONFIG, reload=False),
                            {"Origin": ORIGIN}, scope_type="websocket")
    assert isinstance(raised, Boom) and sent == []


def test_only_exceptions_are_answered() -> None:
    # KeyboardInterrupt and SystemExit are the process's business, not a request's
    def interrupted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wsgi_call(WsgiMiddleware(interrupted, CONFIG, reload=False), {"Origin": ORIGIN})
    assert sys.exc_info() == (None, None, None)


def test_serves_access_log_records_the_crash_answer(tmp_path: Any) -> None:
    # iiscors serve --app: the access log sits outside the middleware and logs its 500
    import io
    import json

    from iiscors.serving.accesslog import AccessLog
    from iiscors.serving.logged import LoggedWSGI

    stream = io.StringIO()
    logged = LoggedWSGI(WsgiMiddleware(raising_wsgi, CONFIG, reload=False),
                        AccessLog(stream, "json"))
    status, headers, body = wsgi_call(logged, {"Origin": ORIGIN})
    assert (status, body, headers["access-control-allow-origin"]) == (500, CRASH_BODY, ORIGIN)
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert (entry["status"], entry["cors"], entry["bytes"]) == (500, "allowed", len(CRASH_BODY))


def test_asgi_a_client_gone_still_re_raises_the_applications_failure() -> None:
    async def closed_send(message: dict[str, Any]) -> None:
        raise OSError("the client went away")

    scope = {"type": "http", "method": "GET", "path": "/", "root_path": "", "scheme": "https",
             "headers": [(b"host", b"api.example"), (b"origin", ORIGIN.encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    middleware = AsgiMiddleware(raising_asgi, CONFIG, reload=False)
    with pytest.raises(Boom):
        asyncio.run(middleware(scope, receive, closed_send))
