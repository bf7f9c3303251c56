"""The headers :class:`iiscors.serving.proxy.ReverseProxy` passes each way (issue 12 items 7
and 8).

- To the backend: the client's headers, minus hop-by-hop headers, minus the headers the
  client's ``Connection`` names, minus every forwarding header the client wrote itself
  (``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP``, and IIS's ``X-Original-URL`` /
  ``X-Rewrite-URL`` that some frameworks take as the request path); then the proxy's own
  ``Host``, ``X-Forwarded-For``, ``X-Forwarded-Host`` and ``X-Forwarded-Proto``.  A name or value
  HTTP cannot carry is refused (400), never sent.
- To the client: the backend's headers, minus hop-by-hop and ``Connection``-named ones, after
  checking the head as it arrived: a bare CR, a NUL or another control character, a line without
  a name, or two Content-Lengths that disagree make the answer 502 (RFC 9112 §5.2, §6.3); an
  obs-fold is replaced by a space, as RFC 9112 §5.2 allows a proxy to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus

from iiscors.policy.headers import TOKEN
from iiscors.serving.proxy_wire import CheckedResponse, bad_gateway, bad_request
from iiscors.wsgi import WSGIEnvironment

#: Hop-by-hop headers (RFC 9110 §7.6.1), plus ``Proxy-Connection`` and waitress's ``Trailers``
#: (it refuses an app that sets it), are never forwarded either way.  ``Expect`` is the
#: client's with the WSGI server, which already answered it.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding",
                        "upgrade", "expect"))

#: What clients write to pass for a proxy; the proxy writes its own and drops these (item 7).
#: Trusted chains are the WSGI server's business (waitress ``trusted_proxy``, gunicorn
#: ``forwarded_allow_ips``): it puts the real client in REMOTE_ADDR, which is forwarded.
CLIENT_FORWARDING = frozenset((
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
    "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl", "x-forwarded-scheme",
    "x-real-ip", "x-original-url", "x-rewrite-url"))


#: Control characters other than HTAB: never in a field value (RFC 9110 §5.5).
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_RAW_LINE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_OBS_FOLD = re.compile(r"\r?\n[ \t]+")
_REASON = re.compile(r"[\t\x20-\x7e]*")


def _connection_named(value: str) -> set[str]:
    """The names a ``Connection`` header lists, lower-cased (``_`` read as ``-``, as servers
    turn both into the same environ key)."""
    return {token.strip().lower().replace("_", "-") for token in value.split(",")
            if token.strip()}


def request_headers(environ: WSGIEnvironment, netloc: str) -> list[tuple[str, str]]:
    """The headers to send the backend for this request (without the body's framing).

    :raises ProxyError: 400 when a name or value cannot be sent.
    """
    dropped = HOP_BY_HOP | CLIENT_FORWARDING | {"host", "content-length", "content-type"}
    dropped |= _connection_named(environ.get("HTTP_CONNECTION", ""))
    headers = []
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").title()
        if name.lower() not in dropped:
            headers.append((name, value))
    if environ.get("CONTENT_TYPE"):
        headers.append(("Content-Type", environ["CONTENT_TYPE"]))
    # One connection per request (docs/serving.md): say so, so that the backend closes first
    # and keeps the TIME_WAIT, as a client without persistent connections must (RFC 9112 §9.6).
    headers += [("Host", netloc), ("Connection", "close")]
    own = (("X-Forwarded-For", environ.get("REMOTE_ADDR")),
           ("X-Forwarded-Host", environ.get("HTTP_HOST")),
           ("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")))
    headers += [(name, value) for name, value in own if value]
    for name, value in headers:
        _check_outgoing(name, value)
    return headers


def _check_outgoing(name: str, value: object) -> None:
    if not TOKEN.fullmatch(name):
        raise bad_request(f"the header name {name!r} cannot be forwarded")
    if not isinstance(value, str) or _BAD_VALUE.search(value):
        raise bad_request(f"the {name} header holds a character HTTP cannot carry")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise bad_request(f"the {name} header is not latin-1 (PEP 3333)") from None


def response_status(response: CheckedResponse) -> str:
    """The WSGI status line: the backend's code, its reason when it is plain ASCII.

    :raises ProxyError: 502 for an informational (1xx) final answer, which WSGI cannot relay.
    """
    code = response.status
    if code < 200:
        raise bad_gateway(f"the backend answered {code}, an informational status")
    reason = response.reason
    if not _REASON.fullmatch(reason):
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Unknown"
    return f"{code} {reason}"


def response_headers(response: CheckedResponse) -> list[tuple[str, str]]:
    """The backend's headers to relay to the client.

    :raises ProxyError: 502 for a head that is not well-formed HTTP.
    """
    for line in response.head_lines:
        if _BAD_RAW_LINE.search(line.rstrip(b"\n").removesuffix(b"\r")):
            raise bad_gateway("a response header line holds a control character or bare CR")
    if response.msg.defects:
        raise bad_gateway(f"a malformed response head: {response.msg.defects[0]!r}")
    relayed: list[tuple[str, str]] = []
    for name, raw_value in response.getheaders():
        value = _OBS_FOLD.sub(" ", raw_value)
        if not TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise bad_gateway("a response header is not well-formed")
        relayed.append((name, value))
    dropped = HOP_BY_HOP | _connection_named(", ".join(
        value for name, value in relayed if name.lower() == "connection"))
    relayed = [(name, value) for name, value in relayed if name.lower() not in dropped]
    return _one_framing(relayed, chunked=bool(response.chunked))


def _one_framing(headers: Iterable[tuple[str, str]], *, chunked: bool) -> list[tuple[str, str]]:
    """At most one Content-Length, and none beside chunked (RFC 9112 §6.3: chunked wins, and
    the relayed body is the dechunked one)."""
    lengths = {value.strip() for name, value in headers if name.lower() == "content-length"}
    others = [(name, value) for name, value in headers if name.lower() != "content-length"]
    if chunked or not lengths:
        return others
    if len(lengths) > 1 or not all(re.fullmatch(r"[0-9]+", value) for value in lengths):
        raise bad_gateway("the backend sent conflicting or malformed Content-Length headers")
    return [*others, ("Content-Length", lengths.pop())]
