"""The reverse proxy of ``iiscors serve --proxy``: every request forwarded to one backend over
HTTP, as a plain WSGI application, so that CORS is decided in front of a backend in any language.

The HTTP client is the standard library's :mod:`http.client` (docs/serving.md says why), one
fresh connection per request.  What the proxy adds to it (issue 12 items 5-8):

- the path forwarded is ``PATH_INFO`` (the path the CORS decision judged) encoded once, and a
  path a backend could read differently is refused (:mod:`iiscors.serving.pathguard`);
- the request body streams in :data:`~iiscors.serving.proxy_wire.CHUNK`-byte pieces, chunked
  when the client sent it chunked;
- forwarding and hop-by-hop headers are the proxy's own (:mod:`iiscors.serving.proxy_headers`);
- what cannot be sent is 400, a backend that cannot be reached or does not answer HTTP is 502,
  one that does not answer in time is 504, and a response that breaks off mid-body reaches the
  client broken off too (:class:`~iiscors.serving.proxy_wire.ResponseBody`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import client
from urllib.parse import quote, urlsplit

from iiscors.policy.headers import TOKEN
from iiscors.serving.pathguard import path_refusal
from iiscors.serving.proxy_headers import (
    request_headers,
    response_headers,
    response_status,
)
from iiscors.serving.proxy_wire import (
    CheckedResponse,
    ClientBrokeOff,
    ProxyError,
    ResponseBody,
    bad_gateway,
    bad_request,
    request_body,
)
from iiscors.serving.responses import plain
from iiscors.wsgi import StartResponse, WSGIEnvironment

_log = logging.getLogger(__name__)

#: Characters left as they are in a forwarded path (RFC 3986 ``pchar`` and ``/``); everything
#: else in the decoded PATH_INFO is percent-encoded, once.
_PATH_SAFE = "/!$&'()*+,;=:@~-._"

#: Bytes left as they are in a forwarded query: printable ASCII but ``#``.  The query is passed
#: on as the client wrote it (its ``%XX`` escapes kept); only what HTTP cannot carry (controls,
#: space, DEL, non-ASCII, ``#``) is percent-encoded.
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "#")

#: A target path operators may give: RFC 3986 path characters only.
_TARGET_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")

#: Methods that carry a body: a backend gets ``Content-Length: 0`` when the client sent none.
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


@dataclass(frozen=True)
class _Forward:
    """One request as it will go to the backend."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: Iterator[bytes] | None
    length: int | None


class ReverseProxy:
    """Forward every request to a backend over HTTP (the application of ``serve --proxy``; any
    WSGI server can run it, and :class:`iiscors.CorsMiddleware` goes around it).

    :param target: the backend's base URL, ``http(s)://host[:port][/prefix]``.
    :param timeout: seconds the backend may take to accept the connection, to read each piece
        of the body, and to send each piece of its answer (as nginx's ``proxy_*_timeout``,
        between two operations, not for the whole exchange); over it, 504 before the answer
        starts, a broken-off answer after.
    """

    def __init__(self, target: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the proxy target must be an http(s) URL, not {target!r}")
        if parts.username is not None or parts.query or parts.fragment or "#" in target:
            raise ValueError(f"the proxy target must be a plain base URL (no user, query or "
                             f"fragment), not {target!r}")
        if not _TARGET_PATH.fullmatch(parts.path):
            raise ValueError(f"the proxy target's path must be URL-encoded, not {parts.path!r}")
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ValueError(f"the proxy target's port is not valid: {target!r}") from exc
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.prefix = parts.path.rstrip("/")
        self.netloc = parts.netloc
        self.timeout = timeout

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        try:
            forward = self._forward(environ)
        except ProxyError as exc:
            return _answer(start_response, exc)
        connection = self._connection()
        try:
            response = _exchange(connection, forward)
            status, headers = response_status(response), response_headers(response)
        except BaseException as exc:
            connection.close()
            failure = _failure(exc)
            if failure is None:
                raise
            if failure.status.startswith("5"):  # the operator's to fix; the client's 4xx is not
                _log.warning("proxy to %s: %s: %s", self.netloc, failure.status, failure.message)
            return _answer(start_response, failure)
        start_response(status, headers)
        return ResponseBody(response, connection)

    def _forward(self, environ: WSGIEnvironment) -> _Forward:
        """The request to send, checked whole before any connection is opened.

        :raises ProxyError: it cannot be sent as it is (400, 411).
        """
        refusal = path_refusal(environ)
        if refusal is not None:  # also with no PathGuard around: never forward such a path
            raise bad_request(refusal)
        method = environ.get("REQUEST_METHOD", "GET")
        if not isinstance(method, str) or not TOKEN.fullmatch(method):
            raise bad_request("the method is not a token")
        target = self.prefix + _encoded_path(environ.get("PATH_INFO", ""))
        if query := environ.get("QUERY_STRING"):
            target += "?" + _encoded_query(query)
        headers = request_headers(environ, self.netloc)
        body, length = request_body(environ)
        if length is None and body is not None:
            headers.append(("Transfer-Encoding", "chunked"))
        elif length is not None or method in _BODY_METHODS:
            headers.append(("Content-Length", str(length or 0)))
        return _Forward(method, target, headers, body, length)

    def _connection(self) -> client.HTTPConnection:
        connection_class = (client.HTTPSConnection if self.scheme == "https"
                            else client.HTTPConnection)
        connection = connection_class(self.host, self.port, timeout=self.timeout)
        connection.response_class = CheckedResponse
        return connection


def _encoded_path(path_info: str) -> str:
    """PATH_INFO (bytes as latin-1 characters, PEP 3333), percent-encoded once."""
    try:
        raw = path_info.encode("latin-1")
    except UnicodeEncodeError:
        raise bad_request("the path is not latin-1 (PEP 3333)") from None
    return quote(raw, safe=_PATH_SAFE) or "/"


def _encoded_query(query: str) -> str:
    try:
        raw = query.encode("latin-1")
    except UnicodeEncodeError:
        raise bad_request("the query is not latin-1 (PEP 3333)") from None
    return quote(raw, safe=_QUERY_SAFE)


def _exchange(connection: client.HTTPConnection, forward: _Forward) -> CheckedResponse:
    """Send the request, body streamed, and read the response head."""
    connection.putrequest(forward.method, forward.target, skip_host=True,
                          skip_accept_encoding=True)
    for name, value in forward.headers:
        connection.putheader(name, value)
    try:
        connection.endheaders(forward.body, encode_chunked=forward.length is None)
    except (ConnectionError, client.HTTPException) as exc:
        if connection.sock is None:  # never connected (refused): there is nothing to read
            raise
        # The backend stopped reading: it may have answered already (a 413, a 401).
        try:
            return _response(connection)
        except (OSError, client.HTTPException):
            raise exc from None
    return _response(connection)


def _response(connection: client.HTTPConnection) -> CheckedResponse:
    response = connection.getresponse()
    assert isinstance(response, CheckedResponse)  # the connection's response_class
    return response


def _failure(exc: BaseException) -> ProxyError | None:
    """The answer for what went wrong in the exchange; None for what is not the proxy's to
    answer (a bug, an interrupt), which the server shows as its own 500."""
    if isinstance(exc, ProxyError):
        return exc
    if isinstance(exc, ClientBrokeOff):
        return bad_request(str(exc))
    if isinstance(exc, TimeoutError):  # a subclass of OSError: first
        return ProxyError("504 Gateway Timeout", "the backend did not answer in time")
    if isinstance(exc, (OSError, client.HTTPException)):
        return bad_gateway("the backend did not answer")
    return None


def _answer(start_response: StartResponse, error: ProxyError) -> Iterable[bytes]:
    return plain(start_response, error.status, f"{error.status}: {error.message}\n".encode())
