"""The ASGI middleware: IIS CORS behaviour in front of Starlette, FastAPI or any ASGI application.

The twin of :class:`iiscors.CorsMiddleware` (WSGI): it unpacks the ASGI scope into the same
fields and writes the same request plan (:func:`iiscors.policy.plan.plan_request`, with the same
fast path) — allowed preflights (204) and refusals (403) answered before the application (and
any authentication in it) runs, the plan's headers merged into every response the application
starts (contract B7-B11, C1; the merge is :mod:`iiscors.policy.merge`, on raw headers).
Reloading and strict mode are shared code (:mod:`iiscors.reload`).

Use it instead of Starlette's ``CORSMiddleware``, never together with it::

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from iiscors.asgi import CorsMiddleware

    app = Starlette(routes=..., middleware=[Middleware(CorsMiddleware, config="web.config")])

Only ``http`` scopes are judged; ``websocket`` and ``lifespan`` pass through untouched (the IIS
CORS module does not apply to WebSocket upgrades, and browsers do not send preflights for them).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from iiscors.config.load import Config
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source
from iiscors.policy import headers
from iiscors.policy.core import Decision, preflight_headers
from iiscors.policy.merge import BYTES_WORDS, MERGE_INITIALS_BYTES, merge_into, warn_app_cors
from iiscors.policy.plan import FORBIDDEN_BODY, own_origin, plan_request
from iiscors.reload import DEFAULT_RELOAD_INTERVAL, UNUSABLE_BODY, ReloadingPolicy

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]

_monotonic = time.monotonic
_WANTED = {b"origin": "origin", b"access-control-request-method": "request_method",
           b"access-control-request-headers": "request_headers", b"host": "host"}
#: A header name of one of these lengths may be a wanted one written in capitals.
_WANTED_LENGTHS = frozenset(len(name) for name in _WANTED)
_ALLOW_ORIGIN = headers.ALLOW_ORIGIN.encode("latin-1")


def request_path(scope: Scope) -> str:
    """The request path relative to ``root_path``, as text (contract A9; ASGI servers decode
    it already, as :func:`iiscors.wsgi.text_path` does for WSGI)."""
    path: str = scope.get("path", "") or ""
    root: str = scope.get("root_path", "") or ""
    if root and path.startswith(root):
        path = path[len(root):]
    return path


def request_fields(scope: Scope) -> dict[str, str]:
    """Origin, Access-Control-Request-*, Host, decoded as WSGI does (latin-1); a header sent
    several times is joined with ``", "``, as WSGI servers join it into one environ value."""
    pairs = scope.get("headers", ())
    try:
        return _fields(pairs)
    except (TypeError, AttributeError):  # names or values not bytes (a bytearray...): convert
        return _fields([(bytes(name), bytes(value)) for name, value in pairs])


def _fields(pairs: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        # ASGI servers send lower-case names: one lookup; lower-cased only when the length
        # says it might be a wanted name in capitals (issue 17: the ASGI path's cost).
        key = _WANTED.get(raw_name)
        if key is None:
            if len(raw_name) not in _WANTED_LENGTHS:
                continue
            key = _WANTED.get(raw_name.lower())
            if key is None:
                continue
        value = raw_value.decode("latin-1")
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def _own(scope: Scope, fields: dict[str, str]) -> str | None:
    """Contract B13: this request's own origin, from the scope and its Host header."""
    return own_origin(scope.get("scheme", "http"), fields.get("host"))


class CorsMiddleware(ReloadingPolicy):
    """Wrap an ASGI application with the CORS policy of a web.config.

    :param app: the ASGI application to protect.
    :param config: a path to a web.config, a site root directory, bytes, or a Config.
    :param max_bytes: the size limit for each file (default 250 KiB, IIS's default).
    :param exempt_same_origin: contract B13's opt-in exemption.
    :param reload: notice edits of the files and swap the policy atomically (default on).
    :param reload_interval: seconds between two checks (default 1.0).
    :param strict: answer 500 while an edit leaves the configuration unusable (contract A8).
    :raises ConfigError: the configuration is unusable (every diagnostic attached).
    """

    def __init__(self, app: ASGIApplication, config: Source | Config, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, exempt_same_origin: bool = False,
                 reload: bool = True, reload_interval: float = DEFAULT_RELOAD_INTERVAL,
                 strict: bool = False) -> None:
        self.app = app
        self._init_policy(config, max_bytes=max_bytes, exempt_same_origin=exempt_same_origin,
                          reload=reload, reload_interval=reload_interval, strict=strict)
        self._warned_duplicate = False

    def decide(self, scope: Scope) -> Decision:
        """The decision for one HTTP request: the scope unpacked, the policy asked."""
        policy = self.policy
        fields = request_fields(scope)
        verdict = policy.scope_for(request_path(scope)).verdict(
            scope.get("method", "GET"), fields.get("origin"), fields.get("request_method"),
            fields.get("request_headers"),
            _own(scope, fields) if policy.exempt_same_origin else None)
        return Decision(*verdict, fields.get("origin"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _monotonic() >= self._next_check:
            self._poll()  # at most once per reload_interval (iiscors.reload)
        if self.config_error is not None:
            await _respond(send, 500, (), UNUSABLE_BODY)
            return
        policy = self.policy  # read once: a reload swaps it atomically (contract A8)
        fields = request_fields(scope)
        path_policy = policy.root if policy.single_scope else policy.scope_for(
            request_path(scope))
        origin = fields.get("origin")
        # The fast path of iiscors.policy.plan, as in the WSGI middleware: a request without
        # Origin and a repeat of an allowed origin read what the scope prepared, in the latin-1
        # bytes ASGI sends (prepared too, but for the origin's own Allow-Origin).
        extra: Sequence[tuple[bytes, bytes]]
        if origin is None or (policy.exempt_same_origin and origin == _own(scope, fields)):
            extra = path_policy.passive_raw  # contract B2/B15, B13's opt-in
        else:
            answer = path_policy.answers.get(origin, path_policy.any_answer)
            method = scope.get("method", "GET")
            if answer is None:
                # Not decided before: the plan (the exemption does not apply, seen above).
                plan = plan_request(path_policy, method, origin, fields.get("request_method"),
                                    fields.get("request_headers"))
                if plan.status is not None:  # contract B7/B8
                    body = FORBIDDEN_BODY if plan.status == 403 else b""
                    await _respond(send, plan.status, plan.headers, body)
                    return
                extra = _raw((*plan.headers, *plan.rule_headers))
            elif method == "OPTIONS" and fields.get("request_method"):
                await _respond(send, 204, preflight_headers(  # contract B3/B8
                    answer, fields.get("request_headers")), b"")
                return
            elif answer is path_policy.any_answer:  # contract B10: the static "*"
                extra = ((_ALLOW_ORIGIN, b"*"), *answer.rule.actual_tail_raw)
            else:  # contract B9: the origin's own Allow-Origin, then its rule's shared headers
                extra = ((_ALLOW_ORIGIN, origin.encode("latin-1")), *answer.rule.actual_tail_raw)
        if not extra:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._merging_send(send, extra))

    def _merging_send(self, send: Send, raw_extra: Sequence[tuple[bytes, bytes]]) -> Send:
        """``send``, adding ``raw_extra`` to the application's response start (contract
        B9/B11: whatever it answers, any status)."""

        async def merging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Only a Vary or an Access-Control-* header of the application needs more than
                # appending (see iiscors.policy.merge); the first letter rules both out.
                raw = message.get("headers", ())
                message = dict(message)
                for name, _value in raw:
                    if name[:1] in MERGE_INITIALS_BYTES:
                        break
                else:
                    message["headers"] = [*raw, *raw_extra]
                    await send(message)
                    return
                merged = merge_into([(bytes(n), bytes(v)) for n, v in raw], raw_extra,
                                    BYTES_WORDS)
                if merged.app_sets_cors and not self._warned_duplicate:
                    self._warned_duplicate = warn_app_cors(
                        bytes(n).decode("latin-1") for n, _value in raw)
                message["headers"] = merged.headers
            await send(message)

        return merging_send


def _raw(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


async def _respond(send: Send, status: int, headers: Sequence[tuple[str, str]],
                   body: bytes) -> None:
    """The middleware's own response (204, 403, or strict mode's 500), with the same headers
    in the same order as the WSGI middleware's."""
    raw: list[tuple[bytes, bytes]] = []
    if status != 204:
        raw += [(b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii"))]
    raw += [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
