"""The applications under test: bare apps, iiscors around them, the dict floor and the peers.

Peers (flask, flask-cors, starlette) are optional: a missing one is skipped with a note.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any

from _benchlib import (
    ALLOW_HEADERS,
    ALLOW_METHODS,
    DictCors,
    Scenario,
    raw_wsgi_app,
    werkzeug_app,
)


@dataclass
class Candidate:
    """One application under test.

    ``baseline`` names the bare app of the same framework (None for the bare apps themselves);
    ``cors`` says whether it is expected to answer CORS at all; ``iiscors`` enables the
    contract-specific checks (204 preflight without calling the app, 403 with
    failUnlistedOrigins).
    """

    name: str
    kind: str  # "wsgi" or "asgi"
    app: Any
    baseline: str | None
    cors: bool
    iiscors: bool = False
    # flask-cors's default always_send=True puts an ACAO on requests without Origin; that is
    # its documented answer, kept because the peers are measured with their defaults.
    acao_without_origin: bool = False


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_candidates(scenario: Scenario, notes: list[str]) -> list[Candidate]:
    """Every candidate that can express ``scenario``; the peers only when installed."""
    out = own_candidates(scenario)
    if not (scenario.exact_origins or scenario.wildcard_suffixes):
        notes.append(
            f"{scenario.name}: the peers cannot express this configuration (deny rules); not run"
        )
        return out
    out += flask_candidates(scenario, notes)
    out += starlette_candidates(scenario, notes)
    return out


def own_candidates(scenario: Scenario) -> list[Candidate]:
    """The raw and Werkzeug pairs: bare, behind iiscors, and behind the dict floor.

    The raw pair isolates the middleware's own cost (the app costs ~0.3 µs); the Werkzeug pair
    is the project's baseline framework, as in peers.md §5.
    """
    from iiscors import CorsMiddleware

    out: list[Candidate] = []
    for framework, app in (("raw", raw_wsgi_app), ("werkzeug", werkzeug_app())):
        bare = f"{framework}-bare"
        wrapped = CorsMiddleware(app, scenario.webconfig, max_bytes=scenario.max_bytes)
        out.append(Candidate(bare, "wsgi", app, None, cors=False))
        out.append(Candidate(f"{framework}+iiscors", "wsgi", wrapped, bare, True, True))
        if scenario.exact_origins:
            floor = DictCors(app, scenario.exact_origins)
            out.append(Candidate(f"{framework}+ref-dict", "wsgi", floor, bare, True))
    return out


def flask_candidates(scenario: Scenario, notes: list[str]) -> list[Candidate]:
    """flask-bare and flask-cors (configured with the scenario's origins or regexes)."""
    if not have("flask"):
        notes.append("flask not installed: flask-bare and flask-cors skipped")
        return []
    out = [Candidate("flask-bare", "wsgi", flask_app(None), None, cors=False)]
    if not have("flask_cors"):
        notes.append("flask-cors not installed: skipped")
        return out
    if scenario.exact_origins:
        origins: list[str] = list(scenario.exact_origins)
    else:
        # flask-cors takes regexes; re.match anchors only at the start, so end with \Z.
        origins = [r"https://[^/]+\." + re.escape(s) + r"\Z" for s in scenario.wildcard_suffixes]
    out.append(
        Candidate("flask-cors", "wsgi", flask_app(origins), "flask-bare", True,
                  acao_without_origin=True)
    )
    return out


def starlette_candidates(scenario: Scenario, notes: list[str]) -> list[Candidate]:
    """starlette-bare, iiscors's ASGI adapter around it, and Starlette's CORSMiddleware."""
    if not have("starlette"):
        notes.append("starlette not installed: starlette candidates skipped")
        return []
    from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware

    def peer(name: str, app: Any) -> Candidate:
        return Candidate(name, "asgi", app, "starlette-bare", True)

    # iiscors's ASGI adapter around the same bare Starlette app: the like-for-like peer.
    wrapped = AsgiCorsMiddleware(
        starlette_app(None), scenario.webconfig, max_bytes=scenario.max_bytes
    )
    out = [
        Candidate("starlette-bare", "asgi", starlette_app(None), None, cors=False),
        Candidate("starlette+iiscors", "asgi", wrapped, "starlette-bare", True, True),
    ]
    if scenario.exact_origins:
        out.append(peer("starlette-list", starlette_app(list(scenario.exact_origins))))
        out.append(peer("starlette-set", starlette_app(set(scenario.exact_origins))))
    else:
        # What a Starlette user would write for N arbitrary suffixes: one alternation regex.
        alternation = "|".join(re.escape(s) for s in scenario.wildcard_suffixes)
        regex = rf"https://[^/]+\.(?:{alternation})"
        out.append(peer("starlette-regex", starlette_app(None, regex=regex)))
    return out


def flask_app(origins: list[str] | None) -> Any:
    """A one-route Flask app, behind flask-cors when ``origins`` is given."""
    from flask import Flask

    app = Flask("bench")

    @app.route("/", methods=["GET", "PUT", "POST"])
    def index() -> str:
        return "ok"

    if origins is not None:
        from flask_cors import CORS

        CORS(app, origins=origins, methods=list(ALLOW_METHODS), allow_headers=list(ALLOW_HEADERS))
    return app


def starlette_app(origins: list[str] | set[str] | None, regex: str | None = None) -> Any:
    """A one-route Starlette app, behind its CORSMiddleware when origins or a regex is given."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    middleware = []
    if origins is not None or regex is not None:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins if origins is not None else (),
                allow_origin_regex=regex,
                allow_methods=list(ALLOW_METHODS),
                allow_headers=list(ALLOW_HEADERS),
            )
        )
    return Starlette(
        routes=[Route("/", index, methods=["GET", "PUT", "POST"])],
        middleware=middleware,
    )
