"""What :class:`iiscors.serving.proxy.ReverseProxy` reads and writes on its two connections,
besides the headers: the request body it streams to the backend, the backend's response head
as it was sent, and the response body it streams back (issue 12 items 6 and 8).

Nothing here holds a whole body: both directions move at most :data:`CHUNK` bytes at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http import client
from typing import Any

from iiscors.wsgi import WSGIEnvironment

#: Bytes moved per read, each way.
CHUNK = 65536

#: A Content-Length: digits, at most 18 of them (under 10**18 bytes, far above any body, and
#: short enough that int() never meets Python's 4,300-digit limit: a longer one is a 400)
_DIGITS = re.compile(r"[0-9]{1,18}")


class ProxyError(Exception):
    """A request the proxy answers itself: ``status`` is the WSGI status line."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ProxyError:
    return ProxyError("400 Bad Request", message)


def bad_gateway(message: str) -> ProxyError:
    return ProxyError("502 Bad Gateway", message)


class ClientBrokeOff(Exception):
    """The client ended its body before the announced length: the backend must not take the
    shorter body for the whole one, so the backend connection is closed mid-body."""


class BackendBrokeOff(Exception):
    """The backend's response ended (closed, timed out, malformed chunk) before its body was
    complete.  Raised while the WSGI server iterates, so that it drops the client's connection
    instead of ending the response as if it were whole."""


def request_body(environ: WSGIEnvironment) -> tuple[Iterator[bytes] | None, int | None]:
    """The body to forward, as chunks, and its length (None: chunked, to the end of input).

    :raises ProxyError: 400 for a malformed ``CONTENT_LENGTH``; 411 for a chunked body the
        server cannot tell the end of (PEP 3333 ``wsgi.input_terminated`` not set).
    """
    stream = environ["wsgi.input"]
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not environ.get("wsgi.input_terminated"):
            raise ProxyError("411 Length Required",
                             "a chunked body needs a server that ends wsgi.input")
        return _until_eof(stream), None
    text = environ.get("CONTENT_LENGTH") or ""
    if not text:
        return None, None
    if not _DIGITS.fullmatch(text):
        raise bad_request("the Content-Length is not a number of at most 18 digits")
    length = int(text)
    return (_exactly(stream, length) if length else None), length


def _exactly(stream: Any, length: int) -> Iterator[bytes]:
    left = length
    while left:
        chunk = _read(stream, min(CHUNK, left))
        if not chunk:
            raise ClientBrokeOff(f"the client sent {length - left} of {length} bytes")
        left -= len(chunk)
        yield chunk


def _until_eof(stream: Any) -> Iterator[bytes]:
    while chunk := _read(stream, CHUNK):
        yield chunk


def _read(stream: Any, size: int) -> bytes:
    """One read of the client's body; whatever the server raises there (a client gone, a
    malformed chunk: Werkzeug raises OSError, gunicorn its own errors) is the client's."""
    try:
        chunk: bytes = stream.read(size)
    except Exception as exc:
        raise ClientBrokeOff(f"reading the request body failed: {exc}") from exc
    return chunk


class CheckedResponse(client.HTTPResponse):
    """:class:`http.client.HTTPResponse` that keeps the lines of its head as they arrived.

    http.client hands header lines to :mod:`email`, which takes a bare CR for a line end
    (``X-A: a\\rX-Injected: 1`` becomes two headers) and keeps NULs; the raw lines let the
    proxy refuse such a head instead of relaying it.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.head_lines: list[bytes] = []
        # duck-typed: http.client only calls the file methods _HeadRecorder passes on
        self.fp = _HeadRecorder(self.fp, self.head_lines)  # type: ignore[assignment]

    def begin(self) -> None:
        try:
            super().begin()
        finally:
            if isinstance(self.fp, _HeadRecorder):
                self.fp.recording = False


class _HeadRecorder:
    """A file wrapper that copies every line read through ``readline`` while recording."""

    def __init__(self, raw: Any, lines: list[bytes]) -> None:
        self._raw = raw
        self._lines = lines
        self.recording = True

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._raw.readline(limit)
        if self.recording:
            self._lines.append(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class ResponseBody:
    """The backend's response body as a WSGI iterable: chunks as they arrive (``read1``), the
    backend connection closed by :meth:`close` (which the WSGI server always calls)."""

    def __init__(self, response: client.HTTPResponse, connection: client.HTTPConnection) -> None:
        self.response = response
        self.connection = connection

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.response.read1(CHUNK):
                yield chunk
        except (OSError, client.HTTPException) as exc:
            raise BackendBrokeOff(f"the backend's response broke off: {exc!r}") from exc
        if self.response.length:  # http.client counts a Content-Length down, never raises
            raise BackendBrokeOff(f"the backend closed the connection {self.response.length} "
                                  "bytes before the end of its Content-Length")

    def close(self) -> None:
        self.response.close()
        self.connection.close()
