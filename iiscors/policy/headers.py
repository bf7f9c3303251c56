"""Header names, each written once, and the header-list forms of contract B12 and B14."""

from __future__ import annotations

import re

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"
ALLOW_METHODS = "Access-Control-Allow-Methods"
ALLOW_HEADERS = "Access-Control-Allow-Headers"
EXPOSE_HEADERS = "Access-Control-Expose-Headers"
MAX_AGE = "Access-Control-Max-Age"
VARY = "Vary"
CONTENT_TYPE = "Content-Type"
CONTENT_LENGTH = "Content-Length"

#: The codec of header bytes and of WSGI's environ strings (PEP 3333; ASGI sends bytes): every
#: adapter reads and writes headers with it, so it is named once.
LATIN_1 = "latin-1"
#: The method of a request that names none (PEP 3333 requires REQUEST_METHOD and ASGI "method",
#: so only a direct caller omits it): read as a GET, the default of HTTP clients.
DEFAULT_METHOD = "GET"

#: The prefix of every CORS response header (lower case, for comparisons).
ACCESS_CONTROL_PREFIX = "access-control-"

#: Contract B12: list values are joined with a comma, in configuration order.
LIST_SEPARATOR = ","

#: Contract B14: an Access-Control-Request-Headers longer than this is never echoed.
MAX_REQUEST_HEADERS_BYTES = 8192

#: RFC 9110 ``token`` (one or more tchar): what a header name or a method may be, written once
#: for the configuration checks (contract A4), the echo grammar below (B14) and the playground.
#: ``\w`` with re.ASCII is exactly ALPHA, DIGIT and "_"; use ``TOKEN.fullmatch``.
TOKEN = re.compile(r"[-!#$%&'*+.^`|~\w]++", re.ASCII)
#: Contract B14: ``token *( OWS "," OWS token )``, no empty element, no outer whitespace.
#: Linear time: tokens hold neither spaces nor commas, so there is nothing to backtrack over
#: (the possessive quantifiers say so to the engine, which makes it about 15 % faster).
_REQUEST_HEADERS = re.compile(
    TOKEN.pattern + r"(?:[ \t]*+,[ \t]*+" + TOKEN.pattern + r")*+", re.ASCII)


def echoable_request_headers(value: str | None) -> bool:
    """Contract B14: may this Access-Control-Request-Headers value be copied into a response?"""
    return (value is not None and 0 < len(value) <= MAX_REQUEST_HEADERS_BYTES
            and _REQUEST_HEADERS.fullmatch(value) is not None)


def join(values: tuple[str, ...]) -> str:
    return LIST_SEPARATOR.join(values)


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value into trimmed, non-empty elements."""
    return [item.strip() for item in value.split(",") if item.strip()]
