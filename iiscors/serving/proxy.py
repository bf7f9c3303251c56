"""The reverse proxy of ``iiscors serve --proxy``: every request forwarded to one backend over
HTTP, as a plain WSGI application, so that CORS is decided in front of a backend in any language.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from http import client
from urllib.parse import quote, urlsplit

from iiscors.serving.responses import plain
from iiscors.wsgi import StartResponse, WSGIEnvironment

#: Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded.
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"))


class ReverseProxy:
    """Forward every request to a backend over HTTP (a minimal reverse proxy for ``--proxy``).

    The path and query are sent as received; ``Host`` is the backend's, the client's goes in
    ``X-Forwarded-Host`` with ``X-Forwarded-For``/``X-Forwarded-Proto``; hop-by-hop headers are
    dropped both ways; the body streams.  An unreachable backend is 502.

    :param target: the backend's base URL, ``http://host:port`` (its path is a prefix).
    :param timeout: seconds to wait for the backend.
    """

    def __init__(self, target: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the proxy target must be an http(s) URL, not {target!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.netloc = parts.netloc.rpartition("@")[2]
        self.timeout = timeout

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"),
                     safe="/!$&'()*+,;=:@~-._")
        url = self.prefix + (path or "/")
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        headers = [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
                   if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_CONNECTION")
                   and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP]
        headers += [("Host", self.netloc),
                    ("X-Forwarded-Host", environ.get("HTTP_HOST", "")),
                    ("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")),
                    ("X-Forwarded-For", environ.get("REMOTE_ADDR", ""))]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        length = environ.get("CONTENT_LENGTH") or ""
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        connection_class = (client.HTTPSConnection if self.scheme == "https"
                            else client.HTTPConnection)
        connection = connection_class(self.host, self.port, timeout=self.timeout)
        try:
            connection.putrequest(environ.get("REQUEST_METHOD", "GET"), url, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            if body or environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
        except OSError:
            connection.close()
            return plain(start_response, "502 Bad Gateway",
                          b"502 Bad Gateway: the backend did not answer\n")
        start_response(f"{response.status} {response.reason}",
                       [(k, v) for k, v in response.getheaders()
                        if k.lower() not in _HOP_BY_HOP])
        return _stream(response, connection)


def _stream(response: client.HTTPResponse, connection: client.HTTPConnection) -> Iterator[bytes]:
    try:
        while chunk := response.read(65536):
            yield chunk
    finally:
        connection.close()
