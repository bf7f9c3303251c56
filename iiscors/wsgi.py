"""The WSGI middleware: IIS CORS behaviour in front of any WSGI application.

It only unpacks the environ, asks the compiled :class:`~iiscors.policy.core.Policy` for a
:class:`~iiscors.policy.core.Decision`, and acts on it: it answers allowed preflights (204) and
refusals (403) itself, before the wrapped application — and so before any authentication inside
it — runs (contract B7, B8); otherwise it calls the application and merges the decision's headers
into whatever response the application starts, any status (contract B9, B11).

Decisions that were already made are not asked for again: a request without Origin, and a
repeat of an allowed origin, read the headers the policy prepared (``ScopePolicy.passive``,
``ScopePolicy.answers``) with one dict lookup.  ``tests/test_answers.py`` checks every request
shape, first and repeated, against the Decision.

Place it outermost: it cannot add headers to responses produced outside it (a server's own
error pages, a proxy in front).  Do not use it together with another CORS layer (flask-cors,
customHeaders setting Access-Control-*): browsers reject the duplicated headers, as on IIS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, AnyStr, Generic, NamedTuple, Protocol

from iiscors.config.load import Config
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source
from iiscors.policy import headers as h
from iiscors.policy.core import Decision, Headers, Policy, Verdict, preflight_headers
from iiscors.reload import DEFAULT_RELOAD_INTERVAL, UNUSABLE_BODY, ReloadingPolicy

logger = logging.getLogger("iiscors")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
WSGIEnvironment = dict[str, Any]


class StartResponse(Protocol):
    def __call__(self, status: str, headers: list[tuple[str, str]],
                 exc_info: ExcInfo | None = ..., /) -> Callable[[bytes], object]: ...


WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

FORBIDDEN_BODY = b"403 Forbidden: the CORS policy does not allow this origin.\n"
_monotonic = time.monotonic
_NO_CONTENT = "204 No Content"
_STATUS = {204: _NO_CONTENT, 403: "403 Forbidden"}
#: first letters of "Vary" and "Access-Control-*" (contract B11), see merging_start_response
_VARY_OR_ACCESS = frozenset("VvAa")


def _verdict(policy: Policy, environ: WSGIEnvironment) -> Verdict:
    """Unpack the environ and ask the policy (the one evaluator, contract B)."""
    own = _own_origin(environ) if policy.exempt_same_origin else None
    return policy.scope_for(text_path(environ.get("PATH_INFO", ""))).verdict(
        environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_ORIGIN"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"), own)


def _own_origin(environ: WSGIEnvironment) -> str | None:
    """Contract B13: the request's own ``scheme://Host``, None without a Host header."""
    host = environ.get("HTTP_HOST")
    if host is None:
        return None
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def text_path(path_info: str) -> str:
    """WSGI's ``PATH_INFO`` (bytes as latin-1 characters, PEP 3333) as text: UTF-8, with
    undecodable bytes kept as surrogate escapes so they never equal a real character."""
    try:
        return path_info.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path_info  # a server that already decoded it


def merge_headers(headers: list[tuple[str, str]], extra: Headers) -> list[tuple[str, str]]:
    """Add ``extra`` to an application's headers (contract B11).

    ``Vary: Origin`` is merged into an existing Vary (no second header, no duplicate token,
    ``Vary: *`` left alone); every other header is appended, even if the application set the
    same name, as IIS does.  Returns a new list; the application's list is not modified.
    """
    return _merge(headers, extra, TEXT)[0]


class Spelling(NamedTuple, Generic[AnyStr]):
    """The header words :func:`_merge` needs, as text (WSGI) or as bytes (ASGI)."""

    vary: AnyStr  # lower case
    prefix: AnyStr  # "access-control-"
    star: AnyStr
    comma: AnyStr
    joiner: AnyStr  # between Vary tokens
    vary_name: AnyStr  # how the middleware spells its own Vary header


TEXT = Spelling("vary", h.ACCESS_CONTROL_PREFIX, "*", ",", ", ", h.VARY)
RAW = Spelling(b"vary", h.ACCESS_CONTROL_PREFIX.encode(), b"*", b",", b", ", h.VARY.encode())


def _merge(headers: Sequence[tuple[AnyStr, AnyStr]], extra: Iterable[tuple[AnyStr, AnyStr]],
           spelling: Spelling[AnyStr]) -> tuple[list[tuple[AnyStr, AnyStr]], bool]:
    """:func:`merge_headers`, and whether the application set an Access-Control-* header
    itself — found in the same single pass over its headers; for text or raw (ASGI) headers.

    The adapters call it only when one of the application's header names starts with V or A
    (the others need nothing but appending), so it favours clarity over speed; the common case
    (the application set no ``Vary``) is still a single list concatenation.
    """
    vary_at = -1
    app_cors = False
    for index, (name, _) in enumerate(headers):
        lowered = name.lower()
        if lowered == spelling.vary:
            if vary_at < 0:
                vary_at = index
        elif lowered[:15] == spelling.prefix:
            app_cors = True
    merged = list(headers)
    if vary_at < 0:
        merged.extend(extra)
        return merged, app_cors
    # The application sent Vary: every Vary header it sent counts, the first one grows.
    tokens = {t.strip().lower() for name, value in headers if name.lower() == spelling.vary
              for t in value.split(spelling.comma)}
    for name, value in extra:
        if name != spelling.vary_name:
            merged.append((name, value))
        elif spelling.star not in tokens and value.lower() not in tokens:
            vary_name, present = merged[vary_at]
            merged[vary_at] = (vary_name, present + spelling.joiner + value
                               if present.strip() else value)
    return merged, app_cors


class CorsMiddleware(ReloadingPolicy):
    """Wrap a WSGI application with the CORS policy of a web.config.

    :param app: the WSGI application to protect.
    :param config: a path to a web.config, a path to a site root directory (its web.config and
        every sub-directory's apply below them, contract A9; see :mod:`iiscors.config.site`), the
        bytes of a web.config, or a :class:`~iiscors.Config`.
    :param max_bytes: the size limit for each file (default 250 KiB, IIS's default).
    :param exempt_same_origin: contract B13's opt-in: requests whose Origin equals the
        request's own ``scheme://Host`` are passed to the application as if they had no Origin.
    :param reload: notice edits of the files the configuration was read from and swap in the
        new policy atomically, as IIS does (default on; no effect for bytes).  See
        :mod:`iiscors.reload`.
    :param reload_interval: seconds between two checks of the files (default 1.0).
    :param strict: while an edit leaves the configuration unusable, answer 500 to every
        request instead of keeping the last good policy (contract A8, like IIS's 500.19).
    :raises ConfigError: the configuration is unusable (every diagnostic attached).
    """

    def __init__(self, app: WSGIApplication, config: Source | Config, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, exempt_same_origin: bool = False,
                 reload: bool = True, reload_interval: float = DEFAULT_RELOAD_INTERVAL,
                 strict: bool = False) -> None:
        self.app = app
        #: ``config`` and ``policy`` are replaced, never modified, by a reload; a request reads
        #: ``policy`` once, so the swap is atomic for every request (contract A8)
        self._init_policy(config, max_bytes=max_bytes, exempt_same_origin=exempt_same_origin,
                          reload=reload, reload_interval=reload_interval, strict=strict)
        self._warned_duplicate = False

    def decide(self, environ: WSGIEnvironment) -> Decision:
        """The decision for one request: environ unpacked, the policy asked."""
        return Decision(*_verdict(self.policy, environ), environ.get("HTTP_ORIGIN"))

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if _monotonic() >= self._next_check:
            self._poll()  # at most once per reload_interval (iiscors.reload)
        if self.config_error is not None:
            return self._unusable_response(start_response)
        policy = self.policy  # read once: a reload swaps it atomically (contract A8)
        get = environ.get
        scope = policy.root if policy.single_scope else policy.scope_for(
            text_path(get("PATH_INFO", "")))
        origin = get("HTTP_ORIGIN")
        # Runs on every request, so the common answers take no call into the policy: they
        # were decided by ScopePolicy.verdict once, and are read here from its tables.
        # The headers to add are ``head`` then ``tail``: an allowed origin's own
        # Access-Control-Allow-Origin, then its rule's shared headers (no tuple built here).
        tail: Headers = ()
        if origin is None:
            head = scope.passive  # contract B2/B15: Vary and customHeaders only
        elif policy.exempt_same_origin and origin == _own_origin(environ):
            head = scope.passive  # contract B13's opt-in: not a CORS request
        else:
            answer = scope.answers.get(origin, scope.any_answer)
            method = get("REQUEST_METHOD", "GET")
            if answer is None:
                # First sight of this origin, or not an allowed one: the one evaluator
                # (contract B); only a preflight reads the Access-Control-Request-* headers.
                if method == "OPTIONS":
                    _, _, status, head, _, _ = scope.verdict(
                        method, origin, get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                        get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"))
                else:
                    _, _, status, head, _, _ = scope.verdict(method, origin)
                if status is not None:
                    return self._answer(status, head, start_response)
            elif method == "OPTIONS" and get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
                # Contract B3/B8: an allowed preflight, answered here; the app never runs.
                start_response(_NO_CONTENT, preflight_headers(
                    answer, get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")))
                return [b""]
            else:
                head, tail = answer.allow_origin, answer.rule.actual_tail  # contract B9
        if not head:
            return self.app(environ, start_response)

        # Defined here rather than by a helper method: one call less on every request.
        def merging_start_response(status: str, response_headers: list[tuple[str, str]],
                                   exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            # Contract B11: only a Vary or an Access-Control-* header of the application needs
            # more than appending; the first letter rules both out for nearly every header.
            for name, _ in response_headers:
                if name[:1] in _VARY_OR_ACCESS:
                    break
            else:
                return start_response(status, [*response_headers, *head, *tail], exc_info)
            merged, app_cors = _merge(response_headers, (*head, *tail), TEXT)
            if app_cors and not self._warned_duplicate:
                self._warned_duplicate = warn_duplicates(response_headers)
            return start_response(status, merged, exc_info)

        return self.app(environ, merging_start_response)

    @staticmethod
    def _unusable_response(start_response: StartResponse) -> Iterable[bytes]:
        """Strict mode while the configuration is unusable (contract A8, IIS's 500.19)."""
        start_response("500 Internal Server Error", [
            (h.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (h.CONTENT_LENGTH, str(len(UNUSABLE_BODY)))])
        return [UNUSABLE_BODY]

    def _answer(self, status: int, headers: Headers,
                start_response: StartResponse) -> Iterable[bytes]:
        """The middleware's own response: an allowed preflight (204) or a refusal (403)."""
        if status == 204:
            start_response(_STATUS[204], list(headers))
            return [b""]
        start_response(_STATUS[403], [
            (h.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (h.CONTENT_LENGTH, str(len(FORBIDDEN_BODY))),
            *headers])
        return [FORBIDDEN_BODY]


def warn_duplicates(headers: list[tuple[str, str]]) -> bool:
    """Log, and return True, if the application set an Access-Control-* header itself.

    Contract B11: the application's Access-Control-* headers are kept and ours are added too,
    as on IIS; the adapters say so once, since browsers reject the duplicates.
    """
    for name, _ in headers:
        if name.lower().startswith(h.ACCESS_CONTROL_PREFIX):
            logger.warning("the application sets %s itself and iiscors adds its own: "
                           "browsers reject duplicated CORS headers", name)
            return True
    return False
