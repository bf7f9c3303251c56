"""Shared pieces of the benchmark tools (``tools/bench.py``, ``tools/http_bench.py``).

Generates the web.config files the benchmarks use, the bare applications they wrap, and the
reference dict-lookup middleware that shows the floor a WSGI CORS middleware can reach.
Not part of the iiscors package: nothing here is imported by the library itself.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The WSGI types, spelled out so that this file does not need typeshed's _typeshed.wsgi at run time.
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# Methods and headers every scenario's target rule allows, so that the peers and iiscors
# produce comparable preflight answers (the request asks for PUT plus content-type, as in
# peers.md §5).
PREFLIGHT_METHOD = "PUT"
PREFLIGHT_HEADERS = "content-type"
ALLOW_METHODS = ("GET", "PUT", "POST")
ALLOW_HEADERS = ("content-type",)


def exact_origin(i: int) -> str:
    """The i-th generated exact origin (``https://app00001.example.com`` style, as in peers.md)."""
    return f"https://app{i:05d}.example.com"


def wildcard_suffix(i: int) -> str:
    return f"domain{i}.test"


@dataclass(frozen=True)
class Scenario:
    """One configuration to benchmark, with the origins its requests use.

    ``exact_origins`` lists what the peers are configured with (empty when the configuration
    is not a plain list of exact origins); ``wildcard_suffixes`` the same for wildcard rules.
    """

    name: str
    webconfig: bytes
    allowed_origin: str
    unlisted_origin: str
    fail_unlisted: bool = False
    exact_origins: tuple[str, ...] = ()
    wildcard_suffixes: tuple[str, ...] = ()
    notes: str = ""

    @property
    def max_bytes(self) -> int:
        # Large configurations exceed the default 250 KiB limit (contract A2): raise it, as
        # an IIS administrator would, with headroom so the limit never decides the outcome.
        return max(256_000, len(self.webconfig) * 2)


_TARGET_RULE_CHILDREN = (
    "<allowHeaders>"
    + "".join(f'<add header="{h}" />' for h in ALLOW_HEADERS)
    + "</allowHeaders><allowMethods>"
    + "".join(f'<add method="{m}" />' for m in ALLOW_METHODS)
    + "</allowMethods>"
)


def _webconfig(rules: Sequence[str], *, fail_unlisted: bool) -> bytes:
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n <system.webServer>\n'
        f'  <cors enabled="true" failUnlistedOrigins="{"true" if fail_unlisted else "false"}">\n'
    )
    tail = "  </cors>\n </system.webServer>\n</configuration>\n"
    return (head + "".join(rules) + tail).encode("utf-8")


def exact_scenario(n: int) -> Scenario:
    """``n`` exact origins; the last one (the worst case for a linear scan) is the target.

    Only the target rule carries allowMethods/allowHeaders, so that its preflight answer is
    comparable with the peers' without inflating the file by a factor of five.
    """
    origins = tuple(exact_origin(i) for i in range(1, n + 1))
    rules = [f'   <add origin="{o}" />\n' for o in origins[:-1]]
    rules.append(f'   <add origin="{origins[-1]}">{_TARGET_RULE_CHILDREN}</add>\n')
    return Scenario(
        name=f"exact-{n}",
        webconfig=_webconfig(rules, fail_unlisted=False),
        allowed_origin=origins[-1],
        unlisted_origin=exact_origin(n + 1),
        exact_origins=origins,
    )


def wildcard_scenario(n: int) -> Scenario:
    """``n`` rules ``https://*.domainN.test``; a host under the last suffix is the target."""
    suffixes = tuple(wildcard_suffix(i) for i in range(n))
    rules = [f'   <add origin="https://*.{s}" />\n' for s in suffixes[:-1]]
    rules.append(f'   <add origin="https://*.{suffixes[-1]}">{_TARGET_RULE_CHILDREN}</add>\n')
    return Scenario(
        name=f"wildcard-{n}",
        webconfig=_webconfig(rules, fail_unlisted=False),
        allowed_origin=f"https://app.{suffixes[-1]}",
        # Same shape, one suffix past the configured ones: the lookup has to walk as far.
        unlisted_origin=f"https://app.{wildcard_suffix(n)}",
        wildcard_suffixes=suffixes,
    )


def realistic_webconfig(n: int) -> bytes:
    """``n`` rules shaped like real ones (issue 17): ``allowCredentials`` and an
    ``<allowMethods>`` child each, one rule per line (10,000 rules: 1.2 MB)."""
    rules = [f'<add origin="{exact_origin(i)}" allowCredentials="true"><allowMethods>'
             '<add method="GET"/></allowMethods></add>\n' for i in range(1, n + 1)]
    return _webconfig(rules, fail_unlisted=False)


#: The rule shapes whose load is measured: bench.py's own bare ``<add origin/>`` rules (as in
#: :func:`exact_scenario`) and the realistic ones.
LOAD_SHAPES: dict[str, Callable[[int], bytes]] = {
    "bare": lambda n: exact_scenario(n).webconfig,
    "realistic": realistic_webconfig,
}


# The configuration reference's own sample (iis-cors-behaviour.md §2.2), the mixed case:
# a bare `*`, a host wildcard with credentials, and a scheme wildcard that is denied.
MIXED_WEBCONFIG = b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
 <system.webServer>
  <cors enabled="true" failUnlistedOrigins="true">
   <add origin="*" />
   <add origin="https://*.microsoft.com" allowCredentials="true" maxAge="120">
    <allowHeaders allowAllRequestedHeaders="true">
     <add header="header1" />
     <add header="header2" />
    </allowHeaders>
    <allowMethods>
     <add method="DELETE" />
    </allowMethods>
    <exposeHeaders>
     <add header="header1" />
     <add header="header2" />
    </exposeHeaders>
   </add>
   <add origin="http://*" allowed="false" />
  </cors>
 </system.webServer>
</configuration>
"""


def mixed_scenario() -> Scenario:
    return Scenario(
        name="mixed-sample",
        webconfig=MIXED_WEBCONFIG,
        allowed_origin="https://www.microsoft.com",
        # Matched by `http://*` allowed="false" with failUnlistedOrigins: a 403.
        unlisted_origin="http://www.microsoft.com",
        fail_unlisted=True,
        notes="reference sample: *, https://*.microsoft.com (credentials), http://* denied",
    )


# --- bare applications -----------------------------------------------------------------------


def raw_wsgi_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """The cheapest possible WSGI app: isolates the middleware's own cost from the framework's."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def werkzeug_app() -> WSGIApp:
    """The project's baseline: a bare Werkzeug request/response app."""
    from werkzeug.wrappers import Request, Response

    @Request.application
    def app(request: Request) -> Response:
        return Response("ok", mimetype="text/plain")

    return app


class DictCors:
    """Reference floor, not a peer: exact origins in one dict of precomputed header lists.

    About 20 lines: what any WSGI CORS middleware must at least do (one dict lookup, a
    start_response wrapper for actual requests, a 204 for preflights). It does not merge Vary,
    handle wildcards or deny rules; it only shows how low the added time can go.
    """

    def __init__(self, app: WSGIApp, origins: Iterable[str]) -> None:
        self.app = app
        methods, headers = ", ".join(ALLOW_METHODS), ", ".join(ALLOW_HEADERS)
        self.actual = {o: (("Access-Control-Allow-Origin", o), ("Vary", "Origin")) for o in origins}
        self.preflight = {
            o: [
                *h,
                ("Access-Control-Allow-Methods", methods),
                ("Access-Control-Allow-Headers", headers),
            ]
            for o, h in self.actual.items()
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        headers = self.actual.get(environ.get("HTTP_ORIGIN", ""))
        if headers is None:
            return self.app(environ, start_response)
        if environ["REQUEST_METHOD"] == "OPTIONS" and environ.get(
            "HTTP_ACCESS_CONTROL_REQUEST_METHOD"
        ):
            start_response("204 No Content", list(self.preflight[environ["HTTP_ORIGIN"]]))
            return []

        def cors_start_response(
            status: str, app_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            app_headers.extend(headers)
            return start_response(status, app_headers, exc_info)

        return self.app(environ, cors_start_response)


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRequest:
    """One request kind; ``origin`` is "allowed", "unlisted" or "" (no Origin header)."""

    name: str
    method: str
    origin: str
    preflight: bool = False


REQUESTS: tuple[BenchRequest, ...] = (
    BenchRequest("no-origin GET", "GET", ""),
    BenchRequest("allowed GET", "GET", "allowed"),
    BenchRequest("unlisted GET", "GET", "unlisted"),
    BenchRequest("allowed preflight", "OPTIONS", "allowed", preflight=True),
    BenchRequest("denied preflight", "OPTIONS", "unlisted", preflight=True),
)


def origin_for(scenario: Scenario, request: BenchRequest) -> str | None:
    if request.origin == "allowed":
        return scenario.allowed_origin
    if request.origin == "unlisted":
        return scenario.unlisted_origin
    return None


def request_headers(scenario: Scenario, request: BenchRequest) -> dict[str, str]:
    """The request's headers, HTTP spelling (used by the ASGI scope and the HTTP benchmark)."""
    headers = {"host": "127.0.0.1", "user-agent": "iiscors-bench", "accept": "*/*"}
    origin = origin_for(scenario, request)
    if origin is not None:
        headers["origin"] = origin
    if request.preflight:
        headers["access-control-request-method"] = PREFLIGHT_METHOD
        headers["access-control-request-headers"] = PREFLIGHT_HEADERS
    return headers


def wsgi_environ(scenario: Scenario, request: BenchRequest) -> Environ:
    """A complete WSGI environ, as gunicorn would build it, for an in-process call."""
    import io
    import sys

    environ: Environ = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request_headers(scenario, request).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


# --- processes and ports (HTTP benchmark) -----------------------------------------------------


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 right now (small race with other processes, acceptable here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gunicorn_argv(port: int, app: str, *, workers: int, worker_class: str = "sync",
                  threads: int | None = None, keep_alive: int | None = None) -> list[str]:
    """The gunicorn command line the HTTP tools share: loopback only, this folder importable,
    warnings-level logs.  ``app`` is gunicorn's ``module:callable()`` spec."""
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).resolve().parent),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", worker_class, "--log-level", "warning"]
    if threads is not None:
        argv += ["--threads", str(threads)]
    if keep_alive is not None:
        argv += ["--keep-alive", str(keep_alive)]
    return [*argv, app]


def make_server_app() -> WSGIApp:
    """gunicorn entry point (``_benchlib:make_server_app()``), configured by the environment.

    IISCORS_BENCH_MODE: "bare" or "iiscors"; IISCORS_BENCH_CONFIG: path of the web.config.
    """
    app = werkzeug_app()
    if os.environ.get("IISCORS_BENCH_MODE") == "iiscors":
        from iiscors import CorsMiddleware

        path = os.environ["IISCORS_BENCH_CONFIG"]
        max_bytes = max(256_000, 2 * os.path.getsize(path))
        return CorsMiddleware(app, path, max_bytes=max_bytes)
    return app
