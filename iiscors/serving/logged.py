"""The access log around the CORS middleware, for WSGI (:class:`LoggedWSGI`) and ASGI
(:class:`LoggedASGI`): one :class:`~iiscors.serving.accesslog.Entry` per request, written when
the response is over.

The wrapper sits *outside* the middleware and does not reach into it: it asks the middleware's
public ``decide()`` for the decision, after the middleware has run (so after its reload check:
the decision logged comes from the policy that answered).  That is the decision evaluated a
second time, by the same code, on a copy of the request taken before the application could
rewrite it; it costs about a microsecond per request (docs/serving.md).  A reload landing
between the two evaluations is the only way they can differ.

The status comes from the application's ``start_response`` (WSGI) or ``http.response.start``
message (ASGI), the size from the body bytes handed to the server; the WSGI body is closed as
PEP 3333 requires, even when the server stops iterating early.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.asgi import Message, Receive, Scope, Send
from iiscors.serving.accesslog import (
    AccessLog,
    CorsPart,
    Entry,
    cors_part,
    refused_part,
    unusable_part,
)
from iiscors.serving.pathguard import PathGuard, path_refusal
from iiscors.wsgi import CorsMiddleware, ExcInfo, StartResponse, WSGIApplication, WSGIEnvironment

#: The status logged when the application failed before starting a response (the server
#: answers 500 then).
_FAILED = 500


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 0


def _wsgi_text(value: str) -> str:
    """A WSGI string (bytes as latin-1, PEP 3333) as text, undecodable bytes kept."""
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value  # a server that decoded it already


class _Record:
    """One WSGI request in progress: what the log line needs, filled in as it goes."""

    __slots__ = ("cors", "environ", "log", "started", "status", "t0", "written")

    def __init__(self, log: AccessLog, environ: WSGIEnvironment) -> None:
        self.log = log
        self.environ = environ
        self.started = time.time()
        self.t0 = time.perf_counter()
        self.status = ""
        self.cors: CorsPart | None = None
        self.written = False

    def finish(self, size: int) -> None:
        if self.written or self.cors is None:
            return
        self.written = True
        env = self.environ
        self.log.write(Entry(
            started=self.started, remote=str(env.get("REMOTE_ADDR", "-")),
            method=str(env.get("REQUEST_METHOD", "-")),
            path=_wsgi_text(env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")),
            query=_wsgi_text(env.get("QUERY_STRING", "")),
            protocol=str(env.get("SERVER_PROTOCOL", "-")),
            status=_status_code(self.status) if self.status else _FAILED, size=size,
            duration=time.perf_counter() - self.t0, cors=self.cors))


class _LoggedBody:
    """The application's body, counted as the server takes it; logs the request on close()."""

    __slots__ = ("_body", "_record", "_size")

    def __init__(self, body: Iterable[bytes], record: _Record) -> None:
        self._body = body
        self._record = record
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close: Callable[[], object] | None = getattr(self._body, "close", None)
            if close is not None:
                close()  # PEP 3333: the server's close() must reach the application
        finally:
            self._record.finish(self._size)


class LoggedWSGI:
    """Log every request that ``app`` (an :class:`iiscors.CorsMiddleware`) answers.

    :param app: the middleware (the log needs its ``decide()``).
    :param log: where the lines go.
    :param guard: put :class:`~iiscors.serving.pathguard.PathGuard` between the log and the
        middleware (``serve --proxy``): a path it refuses is logged as ``refused``.
    """

    def __init__(self, app: CorsMiddleware, log: AccessLog, *, guard: bool = False) -> None:
        self.app = app
        self.log = log
        self.guard = guard
        self._front: WSGIApplication = PathGuard(app) if guard else app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        # A copy: an application may rewrite PATH_INFO or SCRIPT_NAME (dispatchers do).
        record = _Record(self.log, environ.copy())

        def logging_start_response(status: str, headers: list[tuple[str, str]],
                                   exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            record.status = status
            return start_response(status, headers, exc_info)

        try:
            body = self._front(environ, logging_start_response)
        except BaseException:
            record.cors = self._cors(record.environ)
            record.finish(0)
            raise
        record.cors = self._cors(record.environ)
        return _LoggedBody(body, record)

    def _cors(self, environ: WSGIEnvironment) -> CorsPart:
        if self.guard and path_refusal(environ) is not None:
            return refused_part(environ.get("HTTP_ORIGIN"))
        if self.app.config_error is not None:
            return unusable_part(environ.get("HTTP_ORIGIN"))
        return cors_part(self.app.decide(environ))


class LoggedASGI:
    """Log every HTTP request that ``app`` (an :class:`iiscors.asgi.CorsMiddleware`) answers;
    WebSocket and lifespan messages pass through unlogged.

    :param app: the ASGI middleware, outermost (the log needs its ``decide()``).
    :param log: where the lines go.
    """

    def __init__(self, app: AsgiCorsMiddleware, log: AccessLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, t0 = time.time(), time.perf_counter()
        snapshot = dict(scope)
        seen = {"status": 0, "size": 0}

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                seen["size"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            self.log.write(Entry(
                started=started, remote=_client(snapshot), method=str(snapshot.get("method")),
                path=_full_path(snapshot),
                query=bytes(snapshot.get("query_string", b"")).decode("latin-1"),
                protocol=f"HTTP/{snapshot.get('http_version', '1.1')}",
                status=seen["status"] or _FAILED, size=seen["size"],
                duration=time.perf_counter() - t0, cors=self._cors(snapshot)))

    def _cors(self, scope: Scope) -> CorsPart:
        if self.app.config_error is not None:
            origin = next((bytes(v).decode("latin-1") for n, v in scope.get("headers", ())
                           if bytes(n).lower() == b"origin"), None)
            return unusable_part(origin)
        return cors_part(self.app.decide(scope))


def _full_path(scope: dict[str, Any]) -> str:
    """The request path with its ``root_path`` (which servers may or may not include)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", "") or "")
    return path if path.startswith(root) else root + path


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"
