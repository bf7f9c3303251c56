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

``Middleware(...)`` and ``add_middleware`` put it inside Starlette's ``ServerErrorMiddleware``,
whose 500 for an unhandled exception is then built outside it.  Wrapping the whole application
instead (``app = CorsMiddleware(Starlette(...), "web.config")``, run by uvicorn) puts it outside
everything, so that 500 carries the CORS headers too (docs/frameworks.md).  An application that
raises before its response starts gets a 500 with the decision's headers, and the exception is
then raised again for the server to see (``answer_crashes``, :mod:`iiscors.layering`).  A
request that already met another iiscors layer passes through untouched
(:data:`iiscors.layering.HANDLED`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from types import MethodType
from typing import Any, TypeVar, cast

from iiscors.layering import CRASH_BODY, HANDLED, Layer, log_crash, warn_nested
from iiscors.policy import headers
from iiscors.policy.compiled import RawHeaders
from iiscors.policy.core import (
    ANSWER_CACHE_MAX_ORIGIN,
    ANSWER_CACHE_SIZE,
    UNUSABLE_STATUS,
    Answer,
    Decision,
    Policy,
    ScopePolicy,
    preflight_headers,
)
from iiscors.policy.headers import DEFAULT_METHOD, LATIN_1
from iiscors.policy.merge import BYTES_WORDS, MERGE_INITIALS_BYTES, merge_into, warn_app_cors
from iiscors.policy.plan import BODIES, FORBIDDEN_BODY, own_origin, plan_request, recipe_plan
from iiscors.reload import UNUSABLE_BODY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]

_monotonic = time.monotonic
#: ReloadingPolicy._next_check while the reload thread times the checks: never due, and no
#: clock read needed to say so (issue 17: 0.05 µs of each request)
_INF = math.inf
_ACRM = b"access-control-request-method"
_ACRH = b"access-control-request-headers"
#: The request headers the adapter reads, by lower-case name, and their request_fields keys.
_WANTED = {b"origin": "origin", _ACRM: "request_method", _ACRH: "request_headers",
           b"host": "host"}
_ALLOW_ORIGIN = headers.ALLOW_ORIGIN.encode(LATIN_1)
#: a name with a capital is not islower(), nor one with no letter at all (read the slow way)
_islower = bytes.islower
#: Contract B11: an application's response header starting with one of these may need merging
#: (a set: one hashed lookup per header, not four comparisons).
_MERGE_INITIALS = frozenset(b"".join(MERGE_INITIALS_BYTES))
#: a start message's copy (only a dict's: anything else raises TypeError)
_copy = cast("Callable[[Message], Message]", dict.copy)


def _other_spellings(name: bytes) -> frozenset[bytes]:
    """Every spelling of the lower-case ``name`` with capitals, ``name`` itself excepted."""
    cases = ((bytes([c]), bytes([c]).upper()) for c in name)
    return frozenset(b"".join(letters) for letters in itertools.product(*cases)) - {name}


#: what a key of the ready preflight answers may hold (anything else is not kept: a bytearray
#: cannot be a key)
_KEY_TYPES = (bytes, type(None))
#: The ready preflight answers a middleware keeps, and the size of each: unlike an actual
#: request's, whose headers are shared with the rule, a preflight's are encoded for it (the
#: echo, B14), so they are few and small: at most ~5 KB each, ~300 KB together.
_PREFLIGHTS_KEPT = 64
_PREFLIGHT_PAIRS_MAX = 16
_PREFLIGHT_BYTES_MAX = 2048
#: a key of the ready headers, and what it maps to
Key = TypeVar("Key")
Ready = TypeVar("Ready")
#: b"Origin", b"ORIGIN"... (63 spellings): what the lean reading must not meet to trust the list
_ORIGIN_CAPITALS = _other_spellings(b"origin")


def request_path(scope: Scope) -> str:
    """The request path relative to ``root_path``, as text (contract A9; ASGI servers decode
    it already, as :func:`iiscors.wsgi.text_path` does for WSGI)."""
    path: str = scope.get("path") or ""  # a missing or None path is the root
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root):]
    return path


def request_fields(scope: Scope) -> dict[str, str]:
    """Origin, Access-Control-Request-*, Host, decoded as WSGI does (latin-1); a header sent
    several times is joined with ``", "``, as WSGI servers join it into one environ value."""
    sent = request_headers(scope)
    return {key: str(sent[name], LATIN_1) for name, key in _WANTED.items() if name in sent}


def request_headers(scope: Scope) -> Mapping[bytes, Any]:
    """The request's headers by lower-case name, what :func:`request_fields` reads: the values
    as sent (bytes, or another buffer: read them with ``str(value, "latin-1")``).

    What ASGI servers send (lower-case names, each once) is taken as it is, by ``dict()`` and
    a check of the names, both looping in C (issue 17: a Python loop over a browser's 15
    headers took 4.0-5.1 µs on the project's VM, these 2.7-3.0; the same for 4 headers);
    anything else (a name in capitals or sent twice, a name that is not bytes) goes through
    :func:`_joined`.  Either way the wanted names read the same.
    """
    pairs = scope.get("headers", ())
    try:
        count = len(pairs)  # first: a generator would be used up by dict()
        sent = dict(pairs)
        if len(sent) == count and all(map(_islower, sent)):  # C loops: no Python per header
            return sent
    except TypeError:  # headers without a len(), an unhashable name (a bytearray)...
        pass
    return _joined(pairs)


def _origin_headers(scope: Scope) -> Mapping[bytes, Any]:
    """The request's headers, in which ``b"origin"`` (and only it) reads as in
    :func:`request_headers`: what a request needs when it reads no other header (not a
    preflight, no exemption, no path levels: see ``CorsMiddleware.__call__``).

    Issue 17: the check that every name is lower-case (``all(map(bytes.islower, ...))``, about
    0.3 µs for 4 headers on the project's VM) is what ``request_headers`` pays for the names it
    may read; here only Origin is read, so the list is trusted when no name is sent twice and none
    is Origin spelt with a capital (one C-level pass over the names, against a set of the 63
    spellings).  Anything else is read the slow way, as by :func:`request_headers`.
    """
    pairs = scope.get("headers", ())
    try:
        count = len(pairs)  # first: a generator would be used up by dict()
        sent = dict(pairs)
        if len(sent) == count and _ORIGIN_CAPITALS.isdisjoint(sent):
            return sent
    except TypeError:  # headers without a len(), an unhashable name (a bytearray)...
        pass
    return _joined(pairs)


def _joined(pairs: Iterable[tuple[Any, Any]]) -> dict[bytes, bytes]:
    """The wanted headers of ``pairs`` by lower-case name, a repeated one's values joined with
    ``", "``; names and values of any buffer type are read as bytes."""
    found: dict[bytes, bytes] = {}
    for raw_name, raw_value in pairs:
        try:
            name = bytes(raw_name).lower()
        except TypeError:  # not a buffer (a str from a server that breaks the spec): not read
            continue
        if name in _WANTED:
            value = bytes(raw_value)
            found[name] = found[name] + b", " + value if name in found else value
    return found


def _text(sent: Mapping[bytes, Any], name: bytes) -> str | None:
    """The header ``name`` of :func:`request_headers` as text (latin-1, as WSGI decodes it)."""
    value = sent.get(name)
    return None if value is None else str(value, LATIN_1)


def _own(scope: Scope, sent: Mapping[bytes, Any]) -> str | None:
    """Contract B13: this request's own origin, from the scope and its Host header."""
    return own_origin(scope.get("scheme", "http"), _text(sent, b"host"))


class CorsMiddleware(Layer[ASGIApplication]):
    """Wrap an ASGI application with the CORS policy of a web.config.

    :param app: the ASGI application to protect.
    :param config: a path to a web.config, a site root directory, bytes, a Config, or an
        ApplicationHost (contract E4).
    :param max_bytes: the size limit for each file (default 250 KiB, IIS's default).
    :param exempt_same_origin: contract B13's opt-in exemption.
    :param reload: notice edits of the files and swap the policy atomically (default on).
    :param reload_interval: seconds between two checks (default 1.0).
    :param strict: answer 500 while an edit leaves the configuration unusable (contract A8).
    :param answer_crashes: when the application raises before its response starts, send a 500
        with the decision's CORS headers, log the exception with its traceback (logger
        ``iiscors``), then raise it again for the server (default on; docs/behaviour.md).
    :param all_or_nothing: refuse to start on any error, instead of answering 500 under each
        unusable scope only (contract E6, as the WSGI middleware).
    :param applications: the site's child application paths (contract E3).
    :raises ConfigError: the root level is unusable (or, all or nothing, anything is).
    """

    #: The headers allowed actual requests already seen add to the application's response,
    #: by their Origin's bytes as sent: their own Allow-Origin then their rule's shared headers
    #: (one tuple), with the policy they belong to (issue 17: a repeat then costs one lookup,
    #: neither the Origin's decoding nor the headers' building, nor any call besides the
    #: reading of its headers).  The policy is a lean one: a single scope, no recipe
    #: (``Policy.direct``) and no B13 exemption, so that the Origin alone decides (with path
    #: levels, requests to two scopes in turn would replace them again and again; under the
    #: exemption, Host decides too): :meth:`_added` sets the pair when it first meets such a
    #: policy, and :meth:`__call__` reads it only while ``self.policy`` is that policy, so a
    #: reload's new policy starts afresh and the headers never outlive their configuration
    #: (contract A8).  They are the root's answers in bytes, kept as its answers table keeps
    #: its own: only what it allows, origins of at most ANSWER_CACHE_MAX_ORIGIN characters, at
    #: most ANSWER_CACHE_SIZE of them.  The class's own pair is never written (its policy is
    #: None).
    _echoes: tuple[Policy | None, dict[bytes, RawHeaders]] = (None, {})
    #: the same for allowed preflights, by Origin and Access-Control-Request-Headers: the whole
    #: 204's headers, fewer and smaller (:data:`_PREFLIGHTS_KEPT`)
    _preflights: tuple[dict[str, Answer] | None,
                       dict[tuple[bytes, bytes | None], RawHeaders]] = (None, {})

    def decide(self, scope: Scope) -> Decision:
        """The decision for one HTTP request: the scope unpacked, the policy asked."""
        policy = self.policy
        sent = request_headers(scope)
        verdict = policy.scope_for(request_path(scope)).verdict(
            scope.get("method", DEFAULT_METHOD), _text(sent, b"origin"), _text(sent, _ACRM),
            _text(sent, _ACRH), _own(scope, sent) if policy.exempt_same_origin else None)
        return verdict.decision(_text(sent, b"origin"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.setdefault(HANDLED, self) is not self:
            await self._step_aside(scope, receive, send)  # one dict operation: read and mark
            return
        if ((self._next_check < _INF and _monotonic() >= self._next_check)  # inf: not due,
                or self.config_error is not None) and await self._checked(send):  # no clock
            return  # strict mode's 500 while the configuration is unusable (contract A8)
        policy = self.policy  # read once: a reload swaps it atomically (contract A8)
        lean, ready = self._echoes
        sent: Mapping[bytes, Any] | None
        if lean is not policy:  # not lean (or not yet): the general path
            sent = extra = None
        elif scope.get("method") != "OPTIONS":  # the Origin alone decides: see _echoes
            try:  # _origin_headers inline (one call less)
                pairs = scope["headers"]
                count, sent = len(pairs), dict(pairs)  # len first: a generator is used up
                if len(sent) != count or not _ORIGIN_CAPITALS.isdisjoint(sent):
                    sent = _joined(pairs)  # a name sent twice, Origin with a capital
                raw_origin = sent.get(b"origin")
                extra = ((policy.root.passive_raw or None) if raw_origin is None  # B2/B15
                         else ready.get(raw_origin))  # a repeat's headers, by its bytes
            except (KeyError, TypeError, ValueError):  # no list, an unhashable name or Origin
                sent = extra = None  # read again by _added
        elif b"origin" in (sent := request_headers(scope)):  # a preflight (B3), perhaps
            extra = self._judged(scope, sent, policy.root, False, send)
            if not isinstance(extra, tuple):
                await extra  # answered here: contract B3/B8 (204), B7 (403)
                return
            if not extra:  # nothing to add: the application's messages left as they are
                await self.app(scope, receive, send)
                return
        else:
            extra = None
        if extra is None:  # not ready: a first sight, an origin not allowed, a preflight...
            found = self._added(scope, policy, sent, send)
            if not isinstance(found, tuple):
                await found  # answered here: contract B3/B8 (204), B7 (403), C2, E6
                return
            if not found:
                await self.app(scope, receive, send)
                return
            extra = found
        # the send wrapper: a bound method of one list (no closure, no cell; issue 17)
        state: _SendState = [send, extra, False, self]
        try:
            await self.app(scope, receive, _bound(_merging_send, state))
        except Exception:  # only failures land here: a try costs nothing on the way through
            await self._crashed(send, extra, state[2])
            raise  # the server sees the failure too

    def _added(self, scope: Scope, policy: Policy, sent: Mapping[bytes, Any] | None,
               send: Send) -> RawHeaders | Awaitable[None]:
        """What :meth:`__call__` does for a request whose headers are not ready: the headers
        the application's response gets (a tuple), or the awaitable that answers here (a 204,
        403 or 500: the plan's fast path, as in the WSGI middleware, in latin-1 bytes)."""
        method = scope.get("method")
        if sent is None:  # only preflights (B3), the exemption (B13), a recipe (C2) read more
            sent = (request_headers(scope) if method == "OPTIONS" or policy.exempt_same_origin
                    or not policy.direct else _origin_headers(scope))
        if policy.direct:
            path_policy = policy.root
            if not policy.exempt_same_origin and self._echoes[0] is not policy:
                self._echoes = (policy, {})  # a lean policy: its repeats read _echoes
        else:
            found = self._scope(scope, sent, policy, send)
            if not isinstance(found, ScopePolicy):
                return found  # answered before anything else (contract E6, C2)
            path_policy = found
        raw_origin = sent.get(b"origin")
        if raw_origin is None:
            return path_policy.passive_raw  # contract B2/B15
        if method == "OPTIONS" or policy.exempt_same_origin:
            return self._judged(scope, sent, path_policy, policy.exempt_same_origin, send)
        # an actual request (B9, B10)
        return self._echo(path_policy, raw_origin) or self._planned(
            scope, sent, path_policy, str(raw_origin, LATIN_1), send)

    async def _checked(self, send: Send) -> bool:
        """The files checked when due (at most once per reload_interval, iiscors.reload); True
        when strict mode answered 500 because the configuration is unusable (contract A8)."""
        if _monotonic() >= self._next_check:
            self._poll()
        if self.config_error is None:
            return False
        await _respond(send, 500, (), UNUSABLE_BODY)
        return True

    def _echo(self, path_policy: ScopePolicy, raw_origin: Any) -> RawHeaders | None:
        """The headers an allowed actual request from ``raw_origin`` (the Origin as sent) adds
        to the application's response (contract B9, B10: the origin's own Allow-Origin, or "*",
        then its rule's shared headers), kept ready from its first repeat on (:attr:`_echoes`:
        a first sight, often the only one, does not pay for keeping them); None when the scope
        does not allow it."""
        origin = str(raw_origin, LATIN_1)
        answer = path_policy.answers.get(origin, path_policy.any_answer)  # _answer's steps,
        repeat = answer is not None  # inline: a refused origin's path is not one call longer
        if answer is None:  # first sight: the scope's lookup keeps what it allows
            answer = path_policy.admit(origin)
            if answer is None:
                return None
        raw = type(raw_origin) is bytes  # the Origin's latin-1 bytes as sent, not encoded again
        added = ((_ALLOW_ORIGIN, b"*" if answer is path_policy.any_answer
                  else raw_origin if raw else origin.encode(LATIN_1)),
                 *answer[1].actual_tail_raw)  # (allow_origin, rule)
        lean, ready = self._echoes  # kept for the lean policy that path_policy is the root of
        if repeat and raw and len(raw_origin) <= ANSWER_CACHE_MAX_ORIGIN and (
                lean is not None and lean.root is path_policy):
            if len(ready) >= ANSWER_CACHE_SIZE:  # bounded as the answers are
                ready.clear()
            ready[raw_origin] = added
        return added

    def _judged(self, scope: Scope, sent: Mapping[bytes, Any], path_policy: ScopePolicy,
                exempt: bool, send: Send) -> RawHeaders | Awaitable[None]:
        """:meth:`_added`'s fast path for what reads more than the Origin: a request whose
        method is OPTIONS (a preflight, contract B3) or under contract B13's opt-in
        (``exempt``); the headers to add to the application's, or the awaitable that answers
        here (204 or 403)."""
        raw_origin = sent[b"origin"]
        origin = str(raw_origin, LATIN_1)
        if exempt and origin == _own(scope, sent):
            return path_policy.passive_raw  # contract B13's opt-in: not a CORS request
        if scope.get("method") != "OPTIONS" or not sent.get(_ACRM):  # an actual request (B3)
            return self._echo(path_policy, raw_origin) or self._planned(
                scope, sent, path_policy, origin, send)
        raw_headers = sent.get(_ACRH)  # a preflight's answer is the origin's and this one's
        key = (raw_origin, raw_headers)
        table, ready_ones = self._preflights
        ready = (ready_ones.get(key) if table is path_policy.answers
                 and type(raw_origin) is bytes and type(raw_headers) in _KEY_TYPES else None)
        if ready is None:  # not ready: a first sight, or an origin the rules do not allow
            answer = _answer(path_policy, origin)
            if answer is None:  # not allowed: the plan (the exemption does not apply here)
                return self._planned(scope, sent, path_policy, origin, send)
            ready = tuple(_raw(preflight_headers(answer, _text(sent, _ACRH))))  # B8, B14
            if type(raw_origin) is bytes and type(raw_headers) in _KEY_TYPES and len(
                    ready) <= _PREFLIGHT_PAIRS_MAX and _size(key, ready) <= _PREFLIGHT_BYTES_MAX \
                    and self.policy.direct:  # one scope (paths would take turns)
                self._preflights = _kept(self._preflights, path_policy, key, ready,
                                         _PREFLIGHTS_KEPT)
        return _respond_raw(send, 204, ready, b"")  # contract B3/B8

    def _planned(self, scope: Scope, sent: Mapping[bytes, Any], path_policy: ScopePolicy,
                 origin: str, send: Send) -> RawHeaders | Awaitable[None]:
        """The plan of an origin the scope does not allow: the headers to add to the
        application's response, or the awaitable that answers here (the 403 of contract B7)."""
        plan = plan_request(path_policy, scope.get("method", DEFAULT_METHOD), origin,
                            _text(sent, _ACRM), _text(sent, _ACRH))
        if plan.status is not None:
            return _respond(send, plan.status, plan.headers, BODIES.get(plan.status, b""))
        if plan.headers is path_policy.passive:
            return path_policy.passive_raw  # prepared as bytes
        return tuple(_raw((*plan.headers, *plan.rule_headers)))

    async def _step_aside(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What this layer does not judge: a scope that is not HTTP (websocket, lifespan), or
        a request another iiscors layer met first and handles (iiscors.layering)."""
        if scope["type"] == "http" and not self._warned_nested:
            self._warned_nested = True
            warn_nested(self, scope[HANDLED])
        await self.app(scope, receive, send)

    async def _crashed(self, send: Send, extra: RawHeaders, started: bool) -> None:
        """The application raised: unless its response had started, send a 500 with ``extra``
        (``answer_crashes``), and log the exception being handled."""
        if self.answer_crashes and not started:
            with contextlib.suppress(Exception):  # a client gone: the app's failure matters
                await _respond_raw(send, 500, extra, CRASH_BODY)
            log_crash(self)

    def _scope(self, scope: Scope, sent: Mapping[bytes, Any], policy: Policy,
               send: Send) -> ScopePolicy | Awaitable[None]:
        """The request path's scope (contract A9), or the awaitable that answers before
        anything else: the 500 of an unusable scope (contract E6), or URL Rewrite's OPTIONS
        recipe (C2)."""
        path_policy = policy.scope_for(request_path(scope))
        if path_policy.unusable:  # IIS's 500.19: before the app and any header
            return _respond(send, UNUSABLE_STATUS, (), BODIES[UNUSABLE_STATUS])
        answered = None if path_policy.recipe is None else self._answer_recipe(
            scope, sent, path_policy, policy.exempt_same_origin, send)
        return path_policy if answered is None else answered

    def _answer_recipe(self, scope: Scope, sent: Mapping[bytes, Any], path_policy: ScopePolicy,
                       exempt: bool, send: Send) -> Awaitable[None] | None:
        """Where URL Rewrite's OPTIONS recipe matches the method (contract C2), the awaitable
        that answers: the recipe's status and body, or CORS's own 204 or 403 (the plan says
        which); None when it does not answer.  ``exempt``: the request's policy has contract
        B13's opt-in.  ASGI has no reason phrase: the server writes its own."""
        method = scope.get("method", DEFAULT_METHOD)
        if path_policy.recipe is None or not path_policy.recipe.matches(method):
            return None
        plan = recipe_plan(path_policy, method, _text(sent, b"origin"), _text(sent, _ACRM),
                           _text(sent, _ACRH), _own(scope, sent) if exempt else None)
        if plan.status is None:
            return None
        return _respond(send, plan.status, plan.headers,
                        FORBIDDEN_BODY if plan.status == 403 else plan.body)

    def _started(self, message: Message, extra: RawHeaders) -> Message:
        """The application's response start, as a new message, with ``extra`` in its headers:
        the general case of :func:`_merging_send` (a message that is not a dict, no headers, a
        header name that is empty or starts with V or A, headers in an iterator)."""
        raw = list(message.get("headers", ()))  # read once: an iterator would be used up
        try:
            if not any(name[0] in _MERGE_INITIALS for name, _value in raw):
                message = dict(message)
                message["headers"] = [*raw, *extra]
                return message
        except IndexError:  # an empty name: the merge reads it (and appends, as above)
            pass
        return self._merged(message, raw, extra)

    def _merged(self, message: Message, raw: Iterable[tuple[Any, Any]],
                extra: RawHeaders) -> Message:
        """The application's response start, as a new message, with ``extra`` merged into its
        headers ``raw``, which hold a Vary or an Access-Control-* header (contract B11)."""
        merged = merge_into([(bytes(n), bytes(v)) for n, v in raw], extra, BYTES_WORDS)
        if merged.app_sets_cors and not self._warned_duplicate:
            self._warned_duplicate = warn_app_cors(bytes(n).decode(LATIN_1) for n, _value in raw)
        message = dict(message)
        message["headers"] = merged.headers
        return message


#: What the send wrapper of one request reads: the server's ``send``, the headers it adds,
#: whether the application started its response (for a crash), and the middleware.
_SendState = list[Any]
_bound = MethodType


def _merging_send(state: _SendState, message: Message) -> Any:
    """The application's ``send``, as a method bound to the request's ``state``: ``extra``
    added to its response start (contract B7-B11), every other message passed on.  Returns
    the server's awaitable (no coroutine of its own); bound, not a closure: no cell per
    variable, and a stable function that calls to it are specialized for (issue 17)."""
    if message["type"] != "http.response.start":
        return state[0](message)
    state[2] = True
    plain = None
    try:
        raw = message["headers"]
        if type(raw) is not list and type(raw) is not tuple:
            raise TypeError  # an iterator, say: read it once, in the general case
        for name, _value in raw:  # contract B11: see iiscors.policy.merge
            if name[0] in _MERGE_INITIALS:  # an int: no slice, any buffer hashes
                break
        else:  # the common case: a copy (dict.copy is the cheapest), the headers added
            plain = _copy(message)  # a dict's (anything else: TypeError, as below)
            plain["headers"] = [*raw, *state[1]]  # the application's left as it was
    except (KeyError, IndexError, TypeError):  # no headers, an empty name, not a dict...
        return state[0](state[3]._started(message, state[1]))
    # the server's send is called outside the try: an error of its own is never taken for
    # one of the message's, nor the message sent twice
    if plain is not None:
        return state[0](plain)
    return state[0](state[3]._merged(message, raw, state[1]))


def _kept(kept: tuple[dict[str, Answer] | None, dict[Key, Ready]], path_policy: ScopePolicy,
          key: Key, ready: Ready, most: int) -> tuple[dict[str, Answer] | None, dict[Key, Ready]]:
    """``kept`` (ready headers and the answers table they belong to) with ``ready`` by
    ``key`` for ``path_policy``: a new pair when the table is another (another scope, or a
    reload's new policy: assigned at once, the pair is never mixed), emptied when it holds
    ``most`` entries (bounded, as the answers tables are)."""
    table, entries = kept
    if table is not path_policy.answers:
        entries = {}
        kept = (path_policy.answers, entries)
    elif len(entries) >= most:
        entries.clear()
    entries[key] = ready
    return kept


def _size(key: tuple[bytes, bytes | None], ready: RawHeaders) -> int:
    """The bytes a ready preflight answer holds, its key's included."""
    return len(key[0]) + len(key[1] or b"") + sum(len(name) + len(value) for name, value in ready)


def _answer(path_policy: ScopePolicy, origin: str) -> Answer | None:
    """The scope's answer for an allowed ``origin``, None when its rules do not allow it."""
    answer = path_policy.answers.get(origin, path_policy.any_answer)
    if answer is None:  # first sight: the scope's lookup keeps what it allows
        answer = path_policy.admit(origin)
    return answer


def _raw(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(LATIN_1), value.encode(LATIN_1)) for name, value in pairs]


def _respond(send: Send, status: int, headers: Sequence[tuple[str, str]],
             body: bytes) -> Awaitable[None]:
    """The middleware's own response (204, 403, strict mode's or a crash's 500), with the same
    headers in the same order as the WSGI middleware's (a plain function returning
    :func:`_respond_raw`'s coroutine: one coroutine less per answer)."""
    return _respond_raw(send, status, _raw(headers), body)


async def _respond_raw(send: Send, status: int, extra: Sequence[tuple[bytes, bytes]],
                       body: bytes) -> None:
    """:func:`_respond` with its headers already in latin-1 bytes (a crash's 500 reuses what
    the request prepared for the application's response)."""
    head = () if status == 204 else ((b"content-type", b"text/plain; charset=utf-8"),
                                     (b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": [*head, *extra]})
    await send({"type": "http.response.body", "body": body})
