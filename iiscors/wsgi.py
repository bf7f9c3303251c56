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
:meth:`CorsMiddleware.__call__` (see :mod:`iiscors.policy.plan`); the first request of an
allowed origin asks ``ScopePolicy.admit``, which keeps its answer, and goes on the same way.
``tests/policy/test_answers.py`` checks every request shape, first and repeated, against the
Decision, and ``tests/adapters/test_fast_path.py`` against the plan.

An application that raises before its response starts gets a 500 carrying the decision's
headers (``answer_crashes``, on by default; :mod:`iiscors.layering`).  A request that already met
another iiscors layer passes through untouched: the first layer a request meets handles it
(:data:`iiscors.layering.HANDLED`).

Place it outermost: it cannot add headers to responses produced outside it (a server's own
error pages, a proxy in front).  Do not use it together with another CORS layer (flask-cors,
customHeaders setting Access-Control-*): browsers reject the duplicated headers, as on IIS.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from iiscors.layering import (
    CRASH_BODY,
    CRASH_STATUS,
    DEBUGGER,
    HANDLED,
    Layer,
    log_crash,
    warn_nested,
)
from iiscors.policy import headers
from iiscors.policy.core import (
    UNUSABLE_STATUS,
    Decision,
    Headers,
    Policy,
    ScopePolicy,
    preflight_headers,
)
from iiscors.policy.headers import DEFAULT_METHOD, LATIN_1
from iiscors.policy.merge import MERGE_INITIALS, STR_WORDS, merge_into, warn_app_cors
from iiscors.policy.merge import merge_headers as merge_headers  # importable from here too
from iiscors.policy.plan import BODIES, Plan, own_origin, plan_request, recipe_plan
from iiscors.policy.plan import FORBIDDEN_BODY as FORBIDDEN_BODY  # importable from here too
from iiscors.reload import UNUSABLE_BODY

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
WSGIEnvironment = dict[str, Any]


class StartResponse(Protocol):
    def __call__(self, status: str, headers: list[tuple[str, str]],
                 exc_info: ExcInfo | None = ..., /) -> Callable[[bytes], object]: ...


WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

_monotonic = time.monotonic
#: ``_next_check`` while no request needs to look at the files (iiscors.reload)
_NEVER = math.inf
_NO_CONTENT = "204 No Content"
_STATUS = {204: _NO_CONTENT, 403: "403 Forbidden", UNUSABLE_STATUS: "500 Internal Server Error"}
#: The environ keys of Access-Control-Request-Method and -Headers (CGI names, which Django's
#: ``request.META`` uses too)
ACRM = "HTTP_ACCESS_CONTROL_REQUEST_METHOD"
ACRH = "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"


def _own(environ: WSGIEnvironment) -> str | None:
    """Contract B13: this request's own origin, from the environ."""
    return own_origin(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"))


def text_path(path_info: str) -> str:
    """WSGI's ``PATH_INFO`` (bytes as latin-1 characters, PEP 3333) as text: UTF-8, with
    undecodable bytes kept as surrogate escapes so they never equal a real character."""
    try:
        return path_info.encode(LATIN_1).decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path_info  # a server that already decoded it


class CorsMiddleware(Layer[WSGIApplication]):
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
    :param answer_crashes: when the application raises before its response is sent, answer
        500 with the decision's CORS headers and log the exception with its traceback (logger
        ``iiscors``) instead of letting the server send its own 500 without them (default on;
        docs/behaviour.md says when it applies and why).
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


    def decide(self, environ: WSGIEnvironment) -> Decision:
        """The decision for one request: environ unpacked, the policy asked."""
        policy = self.policy
        verdict = policy.scope_for(text_path(environ.get("PATH_INFO", ""))).verdict(
            environ.get("REQUEST_METHOD", DEFAULT_METHOD), environ.get("HTTP_ORIGIN"),
            environ.get(ACRM), environ.get(ACRH),
            _own(environ) if policy.exempt_same_origin else None)
        return verdict.decision(environ.get("HTTP_ORIGIN"))

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        marked: object = environ.setdefault(HANDLED, self)  # one dict operation: read and mark
        if marked is not self:
            return self._step_aside(environ, start_response)  # iiscors.layering
        if self._next_check != _NEVER and _monotonic() >= self._next_check:  # (no clock read
            self._poll()  # while the reload thread times the checks; iiscors.reload)
        if self.config_error is not None:
            return self._unusable_response(start_response)
        policy = self.policy  # read once: a reload swaps it atomically (contract A8)
        get, path_policy = environ.get, policy.root
        if not policy.direct:
            path_policy, answered = self._scope(environ, policy, start_response)
            if answered is not None:
                return answered
        origin = get("HTTP_ORIGIN")
        head: Sequence[tuple[str, str]]
        tail: Headers = ()  # iiscors.policy.plan's fast path (its docstring): head, then tail
        if origin is None or (policy.exempt_same_origin and origin == _own(environ)):
            head = path_policy.passive  # contract B2/B15, B13's opt-in: not a CORS request
        else:
            answer = path_policy.answers.get(origin, path_policy.any_answer)
            if answer is None:  # first sight: the scope's lookup keeps what it allows
                answer = path_policy.admit(origin)
            if answer is None:  # not allowed: the plan (the exemption does not apply here)
                plan = plan_request(path_policy, get("REQUEST_METHOD", DEFAULT_METHOD), origin,
                                    get(ACRM), get(ACRH))
                if plan.status is not None:
                    return self._answer(plan, start_response)
                head, tail = plan.headers, plan.rule_headers
            elif get("REQUEST_METHOD") == "OPTIONS" and get(ACRM):  # B3/B8: the app never runs
                start_response(_NO_CONTENT, preflight_headers(answer, get(ACRH)))
                return [b""]
            else:
                head, tail = answer[0], answer[1].actual_tail  # (allow_origin, rule): B9
        if not head:
            return self.app(environ, start_response)
        started = False  # whether the app started (a crash answer); a closure, one call less
        def merging_start_response(status: str, response_headers: list[tuple[str, str]],
                                   exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            nonlocal started
            started = True
            # B11: only a Vary or an Access-Control-* header needs more than appending; the
            # first letter rules both out (name[0], not name[:1]: no slice, 280 instructions).
            plain = True
            try:
                for name, _value in response_headers:
                    if name[0] in MERGE_INITIALS:
                        plain = False
                        break
            except IndexError:  # an empty name has no first letter: the merge reads it
                plain = False
            if plain:
                return start_response(status, [*response_headers, *head, *tail], exc_info)
            return self._merge(start_response, status, response_headers, head, tail, exc_info)

        try:
            return self.app(environ, merging_start_response)
        except Exception:  # only failures land here: a try costs nothing on the way through
            return self._crashed(environ, start_response, (*head, *tail), started)

    def _merge(self, start_response: StartResponse, status: str,
               response_headers: list[tuple[str, str]], head: Sequence[tuple[str, str]],
               tail: Headers, exc_info: ExcInfo | None) -> Callable[[bytes], object]:
        """Start the application's response with ``head`` and ``tail`` merged into its headers
        (contract B11: its Vary, or an Access-Control-* header of its own, warned about once)."""
        merged = merge_into(response_headers, (*head, *tail), STR_WORDS)
        if merged.app_sets_cors and not self._warned_duplicate:
            self._warned_duplicate = warn_app_cors(name for name, _value in response_headers)
        return start_response(status, merged.headers, exc_info)

    def _step_aside(self, environ: WSGIEnvironment,
                    start_response: StartResponse) -> Iterable[bytes]:
        """Another iiscors layer met this request first and handles it (iiscors.layering)."""
        if not self._warned_nested:
            self._warned_nested = True
            warn_nested(self, environ[HANDLED])
        return self.app(environ, start_response)

    def _crashed(self, environ: WSGIEnvironment, start_response: StartResponse,
                 extra: Sequence[tuple[str, str]], started: bool) -> Iterable[bytes]:
        """Answer the exception being handled with a 500 carrying ``extra`` (called inside
        ``except``), or raise it again: with the option off, or for a debugger outside.

        If the application had called ``start_response``, ``exc_info`` lets the server replace
        that response if it sent nothing yet; if it did send some, the server re-raises
        (PEP 3333): that failure is the server's, as before."""
        if not self.answer_crashes or DEBUGGER in environ:
            raise  # the exception being handled (this runs inside ``except``)
        start_response(CRASH_STATUS, [
            (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (headers.CONTENT_LENGTH, str(len(CRASH_BODY))), *extra],
            sys.exc_info() if started else None)
        log_crash(self)
        return [CRASH_BODY]

    @staticmethod
    def _unusable_response(start_response: StartResponse) -> Iterable[bytes]:
        """Strict mode while the configuration is unusable (contract A8, IIS's 500.19)."""
        start_response("500 Internal Server Error", [
            (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (headers.CONTENT_LENGTH, str(len(UNUSABLE_BODY)))])
        return [UNUSABLE_BODY]

    def _scope(self, environ: WSGIEnvironment, policy: Policy, start_response: StartResponse
               ) -> tuple[ScopePolicy, Iterable[bytes] | None]:
        """The request path's scope (contract A9), and what it answers before anything else."""
        path_policy = policy.scope_for(text_path(environ.get("PATH_INFO", "")))
        return path_policy, self._answer_scope(environ, path_policy, policy.exempt_same_origin,
                                               start_response)

    def _answer_scope(self, environ: WSGIEnvironment, path_policy: ScopePolicy, exempt: bool,
                      start_response: StartResponse) -> Iterable[bytes] | None:
        """What a scope answers before anything else, None when nothing: the 500 of an unusable
        scope (contract E6), or where URL Rewrite's OPTIONS recipe matches the method (contract
        C2) the recipe's answer, or CORS's own 204 or 403 (the plan says which).  ``exempt``:
        the request's policy has contract B13's opt-in."""
        if path_policy.unusable:  # IIS's 500.19: before the app and any header
            return self._answer(path_policy.passive_plan, start_response)
        if path_policy.recipe is None:
            return None
        get = environ.get
        method = get("REQUEST_METHOD", DEFAULT_METHOD)
        if not path_policy.recipe.matches(method):
            return None
        plan = recipe_plan(path_policy, method, get("HTTP_ORIGIN"), get(ACRM), get(ACRH),
                           _own(environ) if exempt else None)
        return None if plan.status is None else self._answer(plan, start_response)

    @staticmethod
    def _answer(plan: Plan, start_response: StartResponse) -> Iterable[bytes]:
        """The middleware's own response: an allowed preflight (204), a refusal (403), or the
        500 of an unusable scope (contract E6), or the answer of URL Rewrite's OPTIONS recipe
        (contract C2: its status, reason and body)."""
        if plan.status == 204:
            start_response(_STATUS[204], list(plan.headers))
            return [b""]
        if plan.reason:  # URL Rewrite's recipe (contract C2)
            status, body = f"{plan.status} {plan.reason}", plan.body
        else:
            code = UNUSABLE_STATUS if plan.status is None else plan.status
            status, body = _STATUS[code], BODIES[code]
        start_response(status, [
            (headers.CONTENT_TYPE, "text/plain; charset=utf-8"),
            (headers.CONTENT_LENGTH, str(len(body))),
            *plan.headers])
        return [body]
