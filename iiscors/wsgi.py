"""The WSGI middleware: IIS CORS behaviour in front of any WSGI application.

It only unpacks the environ and writes what the request plan says
(:func:`iiscors.policy.plan.plan_request`, shared with the ASGI adapter): it answers allowed
preflights (204) and refusals (403) itself, before the wrapped application — and so before any
authentication inside it — runs (contract B7, B8); otherwise it calls the application and merges
the plan's headers into whatever response the application starts, any status (contract B9, B11;
the merge is :mod:`iiscors.policy.merge`).

Decisions that were already made are not asked for again: a request without Origin, and a
repeat of an allowed origin, read the headers the policy prepared (``ScopePolicy.passive``,
``ScopePolicy.answers``) with one dict lookup — the plan's fast path, written out in
:meth:`CorsMiddleware.__call__` (see :mod:`iiscors.policy.plan`).  ``test_answers.py`` checks
every request shape, first and repeated, against the Decision, and ``test_fast_path.py`` against
the plan.

Place it outermost: it cannot add headers to responses produced outside it (a server's own
error pages, a proxy in front).  Do not use it together with another CORS layer (flask-cors,
customHeaders setting Access-Control-*): browsers reject the duplicated headers, as on IIS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from iiscors.config.load import Config
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source
from iiscors.config.server import ApplicationHost
from iiscors.policy import headers
from iiscors.policy.core import UNUSABLE_STATUS, Decision, Headers, preflight_headers
from iiscors.policy.merge import MERGE_INITIALS, STR_WORDS, merge_into, warn_app_cors
from iiscors.policy.merge import merge_headers as merge_headers  # importable from here too
from iiscors.policy.plan import BODIES, Plan, own_origin, plan_request
from iiscors.policy.plan import FORBIDDEN_BODY as FORBIDDEN_BODY  # importable from here too
from iiscors.reload import DEFAULT_RELOAD_INTERVAL, UNUSABLE_BODY, ReloadingPolicy

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
WSGIEnvironment = dict[str, Any]


class StartResponse(Protocol):
    def __call__(self, status: str, headers: list[tuple[str, str]],
                 exc_info: ExcInfo | None = ..., /) -> Callable[[bytes], object]: ...


WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

_monotonic = time.monotonic
_NO_CONTENT = "204 No Content"
_STATUS = {204: _NO_CONTENT, 403: "403 Forbidden", UNUSABLE_STATUS: "500 Internal Server Error"}
_ACRM = "HTTP_ACCESS_CONTROL_REQUEST_METHOD"
_ACRH = "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"


def _own(environ: WSGIEnvironment) -> str | None:
    """Contract B13: this request's own origin, from the environ."""
    return own_origin(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"))


def text_path(path_info: str) -> str:
    """WSGI's ``PATH_INFO`` (bytes as latin-1 characters, PEP 3333) as text: UTF-8, with
    undecodable bytes kept as surrogate escapes so they never equal a real character."""
    try:
        return path_info.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path_info  # a server that already decoded it


class CorsMiddleware(ReloadingPolicy):
    """Wrap a WSGI application with the CORS policy of a web.config.

    :param app: the WSGI application to protect.
    :param config: a path to a web.config, a path to a site root directory (its web.config and
        every sub-directory's apply below them, contract A9; see :mod:`iiscors.config.site`), the
        bytes of a web.config, a :class:`~iiscors.Config`, or an
        :class:`~iiscors.config.server.ApplicationHost` (a site of a server's
        applicationHost.config with its web.config files, contract E4).
    :param max_bytes: the size limit for each file (default 250 KiB, IIS's default).
    :param exempt_same_origin: contract B13's opt-in: requests whose Origin equals the
        request's own ``scheme://Host`` are passed to the application as if they had no Origin.
    :param reload: notice edits of the files the configuration was read from and swap in the
        new policy atomically, as IIS does (default on; no effect for bytes).  See
        :mod:`iiscors.reload`.
    :param reload_interval: seconds between two checks of the files (default 1.0).
    :param strict: while an edit leaves the configuration unusable, answer 500 to every
        request instead of keeping the last good policy (contract A8, like IIS's 500.19).
    :param all_or_nothing: refuse to start (ConfigError) on any error.  By default errors are
        scoped as on IIS (contract E6): when the root level is usable, the middleware starts,
        logs every error once, and answers 500 (no CORS header, the app not called) to the
        requests under each unusable ``<location>`` or sub-directory.
    :param applications: the site's child application paths, such as ``["/api"]``: a
        ``<location inheritInChildApplications="false">`` does not apply inside them (contract
        E3; without any, the attribute changes nothing, as for every ``dotnet publish``
        web.config).
    :raises ConfigError: the root level is unusable (or, all or nothing, anything is);
        every diagnostic attached.
    :raises ValueError: an application path IIS would refuse.
    """

    def __init__(self, app: WSGIApplication, config: Source | Config | ApplicationHost, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, exempt_same_origin: bool = False,
                 reload: bool = True, reload_interval: float = DEFAULT_RELOAD_INTERVAL,
                 strict: bool = False, all_or_nothing: bool = False,
                 applications: Iterable[str] = ()) -> None:
        self.app = app
        #: ``config`` and ``policy`` are replaced, never modified, by a reload; a request reads
        #: ``policy`` once, so the swap is atomic for every request (contract A8)
        self._init_policy(config, max_bytes=max_bytes, exempt_same_origin=exempt_same_origin,
                          reload=reload, reload_interval=reload_interval, strict=strict,
                          all_or_nothing=all_or_nothing, applications=applications)
        self._warned_duplicate = False

    def decide(self, environ: WSGIEnvironment) -> Decision:
        """The decision for one request: environ unpacked, the policy asked."""
        policy = self.policy
        verdict = policy.scope_for(text_path(environ.get("PATH_INFO", ""))).verdict(
            environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_ORIGIN"),
            environ.get(_ACRM), environ.get(_ACRH),
            _own(environ) if policy.exempt_same_origin else None)
        return Decision(*verdict, environ.get("HTTP_ORIGIN"))

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if _monotonic() >= self._next_check:
            self._poll()  # at most once per reload_interval (iiscors.reload)
        if self.config_error is not None:
            return self._unusable_response(start_response)
        policy = self.policy  # read once: a reload swaps it atomically (contract A8)
        get = environ.get
        if policy.single_scope:
            path_policy = policy.root
        else:
            path_policy = policy.scope_for(text_path(get("PATH_INFO", "")))
            if path_policy.unusable:  # contract E6: 500 there, before the app and any header
                return self._answer(path_policy.passive_plan, start_response)
        origin = get("HTTP_ORIGIN")
        # The fast path of iiscors.policy.plan: plan_request's first branches, written out
        # because they run on nearly every request.  The headers to add are ``head`` then
        # ``tail`` (an allowed origin's own Access-Control-Allow-Origin, then its rule's shared
        # headers: no tuple built here).
        head: Sequence[tuple[str, str]]
        tail: Headers = ()
        if origin is None or (policy.exempt_same_origin and origin == _own(environ)):
            head = path_policy.passive  # contract B2/B15, B13's opt-in: not a CORS request
        else:
            answer = path_policy.answers.get(origin, path_policy.any_answer)
            method = get("REQUEST_METHOD", "GET")
            if answer is None:
                # Not decided before: the plan (the exemption does not apply, seen above).
                plan = plan_request(path_policy, method, origin, get(_ACRM), get(_ACRH))
                if plan.status is not None:
                    return self._answer(plan, start_response)
                head, tail = plan.headers, plan.rule_headers
            elif method == "OPTIONS" and get(_ACRM):
                # Contract B3/B8: an allowed preflight, answered here; the app never runs.
                start_response(_NO_CONTENT, preflight_headers(answer, get(_ACRH)))
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
            for name, _value in response_headers:
                if name[:1] in MERGE_INITIALS:
                    break
            else:
                return start_response(status, [*response_headers, *head, *tail], exc_info)
            merged = merge_into(response_headers, (*head, *tail), STR_WORDS)
            if merged.app_sets_cors and not self._warned_duplicate:
                self._warned_duplicate = warn_app_cors(name for name, _value in response_headers)
            return start_response(status, merged.headers, exc_info)

        return self.app(environ, merging_start_response)

    @staticmethod
    def _unusable_response(start_response: StartResponse) -> Iterable[bytes]:
        """Strict mode while the configuration is unusable (contract A8, IIS's 500.19)."""
        start_response("500 Internal Server Error", [
            (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (headers.CONTENT_LENGTH, str(len(UNUSABLE_BODY)))])
        return [UNUSABLE_BODY]

    @staticmethod
    def _answer(plan: Plan, start_response: StartResponse) -> Iterable[bytes]:
        """The middleware's own response: an allowed preflight (204), a refusal (403), or the
        500 of an unusable scope (contract E6)."""
        if plan.status == 204:
            start_response(_STATUS[204], list(plan.headers))
            return [b""]
        status = UNUSABLE_STATUS if plan.status is None else plan.status
        body = BODIES[status]
        start_response(_STATUS[status], [
            (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (headers.CONTENT_LENGTH, str(len(body))),
            *plan.headers])
        return [body]
