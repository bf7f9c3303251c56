"""Request filtering in front of the CORS decision (issue 12 item 5): refuse, with 400, every
request path that a backend could resolve to another place than the one the decision judged.

The middleware picks a scope from ``PATH_INFO`` (contract A9), which the WSGI server has already
percent-decoded.  A backend that then removes ``..`` segments, decodes a second time, treats
``\\`` or ``;`` as IIS and servlet containers do, or folds fullwidth dots, serves another
location than the one whose rules answered (``/public/..%2fprivate/secret.txt`` judged by
``public``, served from ``private``).  So such paths are never forwarded: the path a decision
uses is exactly the path the backend gets, and it has only one reading.

:class:`PathGuard` runs *outside* :class:`iiscors.CorsMiddleware`, as IIS's request filtering
runs before its CORS module: its 400 carries no Access-Control-* header, whatever the scope.
:class:`iiscors.serving.proxy.ReverseProxy` applies the same check itself, so the proxy never
forwards such a path even when it is mounted without the guard.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from iiscors.serving.responses import plain
from iiscors.wsgi import StartResponse, WSGIApplication, WSGIEnvironment, text_path

#: Where WSGI servers keep the request target as it was sent, before decoding: waitress and
#: Werkzeug's ``REQUEST_URI``, gunicorn's and Werkzeug's ``RAW_URI``.
RAW_URI_KEYS = ("REQUEST_URI", "RAW_URI")

#: ``%2f``/``%5c`` in the raw target: an encoded separator, which PATH_INFO shows decoded.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)

#: C0 controls and DEL: never part of a path a backend should see.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Characters that make a decoded path mean something else to some backend: ``%`` (a second
#: decoding, or IIS's ``%uXXXX``: IIS refuses these as double escaping), ``\\`` (a separator
#: on Windows and in IIS), ``;`` (servlet containers cut ``;params`` off every segment, so
#: ``/..;/`` is ``..`` and ``/private;x/`` is ``private``).
_AMBIGUOUS = {"%": "the path holds a '%' after decoding (double escaping)",
              "\\": "the path holds a backslash",
              ";": "the path holds a ';' (path parameters)"}

_DOT_SEGMENTS = frozenset((".", ".."))


def path_refusal(environ: WSGIEnvironment) -> str | None:
    """Why this request's path must not be forwarded (a sentence for the 400's body, which
    names the rule and never echoes the path), or None when it may be.

    The checks read ``PATH_INFO`` (what the CORS decision reads) and, when the server keeps
    it, the raw request target.
    """
    path = environ.get("PATH_INFO", "")
    if not isinstance(path, str):
        return "the path is not text"
    if path and not path.startswith("/"):
        return "the path does not start with '/'"
    text = text_path(path)
    if any("\udc80" <= char <= "\udcff" for char in text):
        return "the path is not UTF-8"
    problem = _problem(text)
    if problem is None:
        problem = _problem_after_nfkc(text)
    if problem is None:
        for key in RAW_URI_KEYS:
            raw = environ.get(key)
            if isinstance(raw, str) and _ENCODED_SEPARATOR.search(raw.partition("?")[0]):
                return "the raw path holds an encoded '/' or '\\' (%2F, %5C)"
    return problem


def _problem(path: str) -> str | None:
    if _CONTROL.search(path):
        return "the path holds a control character"
    for char, reason in _AMBIGUOUS.items():
        if char in path:
            return reason
    if any(segment in _DOT_SEGMENTS for segment in path.split("/")):
        return "the path has a '.' or '..' segment"
    return None


def _problem_after_nfkc(path: str) -> str | None:
    """A backend that folds compatibility characters (Windows' best-fit mapping, NFKC) reads
    ``\uff0e\uff0e`` as ``..`` and ``\uff0f`` as ``/``: judge that reading too."""
    folded = unicodedata.normalize("NFKC", path)
    if folded == path:
        return None
    problem = _problem(folded)
    if problem is None and folded.count("/") != path.count("/"):
        problem = "the path has another '/'"
    return None if problem is None else f"{problem} after Unicode normalisation (NFKC)"


def refuse(start_response: StartResponse, reason: str) -> Iterable[bytes]:
    """The 400 for a refused path; the reason names the rule, never echoes the path."""
    return plain(start_response, "400 Bad Request",
                 f"400 Bad Request: {reason}\n".encode())


class PathGuard:
    """Answer 400 to a request whose path :func:`path_refusal` refuses, before ``app`` (the
    CORS middleware) sees it; pass every other request through untouched.

    :param app: the WSGI application to guard, normally the :class:`iiscors.CorsMiddleware`
        around a :class:`iiscors.serving.proxy.ReverseProxy`.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        reason = path_refusal(environ)
        if reason is not None:
            return refuse(start_response, reason)
        return self.app(environ, start_response)
