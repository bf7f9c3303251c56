"""The Django middleware: IIS CORS behaviour for ``settings.MIDDLEWARE``, first in the list.

It asks the one evaluator the WSGI and ASGI adapters ask (the request plan,
:func:`iiscors.policy.plan.plan_request`) with the request's method, ``Origin``,
``Access-Control-Request-*``, host and scheme (``request.META``, as Django builds it under WSGI
and ASGI alike) and its ``path_info``, and writes the plan Django's way:

- an allowed preflight (204) or a refusal (403) is answered here, so that nothing after it in
  ``MIDDLEWARE`` runs, ``AuthenticationMiddleware`` included (contract B7, B8);
- otherwise the plan's headers are added to whatever response the rest of the stack returns,
  any status (contract B9), ``Origin`` merged into its ``Vary`` (contract B11, B15).

A Django response holds one value per header name, so contract B11's "keep the application's
header and add ours too" cannot be written: where the view (or a middleware after this one) set
a header the plan also sets, the view's value is kept, ours is dropped, and a warning is logged
once.  Where the plan itself sets a name twice (``customHeaders`` repeating an Access-Control-*
header, contract C1), the values are joined with ``", "``: what HTTP defines two header lines
to mean, and what a browser rejects alike.

It is sync and async capable (Django's ``sync_capable``/``async_capable``): under ASGI it is a
coroutine and adds no thread hop.  Hot reload and strict mode are the adapters'
(:mod:`iiscors.reload`); a request that already met another iiscors layer (``wsgi.py``
wrapped too) is left to that layer (:mod:`iiscors.layering`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from iiscors.config.diagnostics import ConfigError
from iiscors.django.conf import require
from iiscors.layering import HANDLED, warn_nested
from iiscors.policy import headers
from iiscors.policy.merge import STR_WORDS, merge_into
from iiscors.policy.plan import FORBIDDEN_BODY, Plan, own_origin, plan_request
from iiscors.reload import UNUSABLE_BODY, ReloadingPolicy
from iiscors.wsgi import ACRH, ACRM

logger = logging.getLogger("iiscors")

GetResponse = Callable[[HttpRequest], Any]
Extra = Sequence[tuple[str, str]]
_monotonic = time.monotonic
_TEXT = "text/plain; charset=utf-8"


class DjangoPolicy(ReloadingPolicy):
    """The policy of the configured web.config, reloaded as the adapters reload theirs."""

    def __init__(self) -> None:
        configured = require()
        assert configured.source is not None  # require() raised otherwise
        try:
            self._init_policy(configured.source, **configured.options)  # type: ignore[arg-type]
        except ConfigError as error:  # contract A8: never half-works; say why, once, in full
            raise ImproperlyConfigured(
                f"iiscors: IISCORS_CONFIG ({configured.source}) is unusable:\n"
                + "\n".join(map(str, error.diagnostics))) from None


class CorsMiddleware:
    """Django middleware; put ``"iiscors.django.CorsMiddleware"`` first in MIDDLEWARE.

    :raises ImproperlyConfigured: an ``IISCORS_*`` setting is unknown or unusable, the
        web.config it names does not exist, or the configuration is unusable (every
        diagnostic in the message).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # Django then awaits it: no thread hop under ASGI
        self.layer = DjangoPolicy()
        #: ``source`` as the adapters have it, for iiscors.layering's messages
        self.source = self.layer.source
        self._warned_collision = False
        self._warned_nested = False

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        answer, extra = self.before(request)
        if answer is not None:
            return answer
        response = self.get_response(request)
        return self.after(response, extra) if extra else response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        answer, extra = self.before(request)
        if answer is not None:
            return answer
        response = await self.get_response(request)
        return self.after(response, extra) if extra else response

    def before(self, request: HttpRequest) -> tuple[HttpResponse | None, Extra]:
        """The middleware's own answer to ``request``, or the headers to add to the response."""
        meta = request.META
        outer = meta.get(HANDLED) or getattr(request, "scope", {}).get(HANDLED)
        if outer is not None:
            self._step_aside(outer)
            return None, ()
        meta[HANDLED] = self
        layer = self.layer
        if _monotonic() >= layer._next_check:
            layer._poll()  # at most once per reload_interval (iiscors.reload)
        if layer.config_error is not None:
            return own_response(500, (), UNUSABLE_BODY), ()
        plan = self.plan(request)
        if plan.status is not None:  # contract B7/B8: nothing after this middleware runs
            return own_response(plan.status, plan.headers,
                                FORBIDDEN_BODY if plan.status == 403 else b""), ()
        return None, (*plan.headers, *plan.rule_headers)

    def plan(self, request: HttpRequest) -> Plan:
        """The request plan (the one evaluator), from what Django read of the request."""
        policy = self.layer.policy  # read once: a reload swaps it atomically (contract A8)
        meta = request.META
        scope = policy.root if policy.single_scope else policy.scope_for(request.path_info)
        own = (own_origin(request.scheme, meta.get("HTTP_HOST"))
               if policy.exempt_same_origin else None)  # contract B13's opt-in
        return plan_request(scope, request.method or "GET", meta.get("HTTP_ORIGIN"),
                            meta.get(ACRM), meta.get(ACRH), own)

    def after(self, response: HttpResponseBase, extra: Extra) -> HttpResponseBase:
        """Add ``extra`` to the response the rest of the stack returned (contract B9/B11)."""
        collided = write_headers(response, extra)
        if collided and not self._warned_collision:
            self._warned_collision = True
            logger.warning("iiscors: the response already has %s, which iiscors sets too; a "
                           "Django response holds one value per header, so the view's is kept "
                           "and iiscors's dropped (on IIS the browser would get both)",
                           ", ".join(collided))
        return response

    def _step_aside(self, outer: object) -> None:
        if not self._warned_nested:
            self._warned_nested = True
            warn_nested(self, outer)


def write_headers(response: HttpResponseBase, extra: Extra) -> list[str]:
    """Write ``extra`` into ``response``; return the names the response already had (kept)."""
    ours: set[str] = set()
    collided: list[str] = []
    for name, value in extra:
        key = name.lower()
        if key == "vary":
            # contract B11/B15: the same merge as the adapters (no duplicate token, * kept)
            present = response.get(headers.VARY)
            response[headers.VARY] = value if present is None else merge_into(
                [(headers.VARY, present)], [(name, value)], STR_WORDS).headers[0][1]
        elif key in ours:
            response[name] = f"{response[name]}, {value}"  # our own repeat (contract C1)
        elif response.has_header(name):
            collided.append(name)
        else:
            response[name] = value
            ours.add(key)
    return collided


def own_response(status: int, extra: Extra, body: bytes) -> HttpResponse:
    """The middleware's own answer: 204 (empty, no Content-Type), 403, or strict mode's 500."""
    response = HttpResponse(body, status=status, content_type=_TEXT)
    if status == 204:
        del response[headers.CONTENT_TYPE]
    else:
        response[headers.CONTENT_LENGTH] = str(len(body))
    write_headers(response, extra)
    return response

