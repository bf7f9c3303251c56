"""ASGI applications given to ``iiscors serve --app`` (issue 12, item 16): recognised at
startup and served through uvicorn with :class:`iiscors.asgi.CorsMiddleware`, or refused with a
clear message when uvicorn is missing; never accepted as WSGI to answer 500 TypeError.
"""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import pytest

from iiscors.serving.app import build
from iiscors.serving.interface import is_asgi_app

from support import request, running, serve_command, web_config

ALLOW_A = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                     '<add origin="https://a.example"><allowMethods><add method="PUT"/>'
                     "</allowMethods></add></cors>")
A = {"Origin": "https://a.example"}


# -- detection ---------------------------------------------------------------------------------

async def asgi_function(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI 3 application written as a function."""


async def asgi_with_options(options: dict[str, str], scope: Any, receive: Any,
                            send: Any) -> None:
    """An ASGI app that takes its options first: given as functools.partial."""


class AsgiObject:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Starlette, FastAPI, Django's ASGIHandler: an object with an async __call__."""


def wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


class WsgiObject:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


class WsgiClass:
    """PEP 3333 allows a class as the application: calling it builds the response iterable."""

    def __init__(self, environ: Any, start_response: Any) -> None:
        self.body: list[bytes] = []

    def __iter__(self) -> Any:
        return iter(self.body)


def starlette_app() -> Any:
    from starlette.applications import Starlette

    return Starlette()


@pytest.mark.parametrize("app", [
    asgi_function,
    functools.partial(asgi_with_options, {}),
    AsgiObject(),
    functools.partial(AsgiObject()),
    functools.partial(functools.partial(asgi_with_options), {}),
], ids=["function", "partial", "object", "partial-object", "nested-partial"])
def test_asgi_applications_are_recognised(app: Any) -> None:
    assert is_asgi_app(app)


def test_starlette_is_recognised() -> None:
    pytest.importorskip("starlette")
    assert is_asgi_app(starlette_app())


@pytest.mark.parametrize("app", [wsgi_function, WsgiObject(), WsgiClass,
                                 functools.partial(wsgi_function)],
                         ids=["function", "object", "class", "partial"])
def test_wsgi_applications_are_not_asgi(app: Any) -> None:
    assert not is_asgi_app(app)


async def two_arguments(receive: Any, send: Any) -> None:
    """Neither WSGI nor ASGI 3."""


class Asgi2:
    """The old ASGI 2 style: a class built from the scope, then awaited with receive, send."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        pass


@pytest.mark.parametrize("app, words", [(two_arguments, "(scope, receive, send)"),
                                        (Asgi2, "ASGI 2")])
def test_other_async_callables_are_refused_clearly(app: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        is_asgi_app(app)


def test_build_refuses_an_asgi_app_for_wsgi_servers(tmp_path: Path, monkeypatch: Any) -> None:
    # build() is what the playground runs (a WSGI server): it must refuse, not serve 500s.
    (tmp_path / "asgimod.py").write_text(
        "async def app(scope, receive, send):\n    pass\n")
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(click.BadParameter, match="ASGI application"):
        build(str(tmp_path / "web.config"), None, "asgimod:app", None)


# -- the real command, with a real Starlette app under a real uvicorn --------------------------

STARLETTE_APP = """\
import asyncio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("hello from starlette " + request.url.path)


async def scheme(request):
    return PlainTextResponse(request.url.scheme + " " + request.client.host)


async def slow(request):
    await asyncio.sleep(1.5)
    return PlainTextResponse("slow done")


app = Starlette(routes=[Route("/hello", hello, methods=["GET", "PUT"]), Route("/slow", slow),
                          Route("/scheme", scheme)])
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    (tmp_path / "starapp.py").write_text(STARLETTE_APP)
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    return tmp_path


@pytest.mark.slow
def test_a_starlette_app_is_served_by_uvicorn_with_cors(project: Path) -> None:
    with running(serve_command("web.config", "--app", "starapp:app"), cwd=project) as server:
        port = server.port
        assert "ASGI app starapp:app" in server.text()
        server.wait_for("server: uvicorn")
        status, headers, body = request(port, "GET", "/hello", A)
        assert (status, body) == (200, b"hello from starlette /hello")
        assert headers["Server"] == "uvicorn"
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert headers.get_all("Vary") == ["Origin"]
        status, headers, _ = request(port, "OPTIONS", "/hello", {
            **A, "Access-Control-Request-Method": "PUT"})
        assert (status, headers["Access-Control-Allow-Methods"]) == (204, "PUT")
        status, headers, body = request(port, "GET", "/hello", {"Origin": "https://z.example"})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        # the access log works for ASGI too
        line = server.wait_for("cors=denied")
        assert '"GET /hello HTTP/1.1" 403 59 cors=denied' in line
        # as under waitress, a client's forwarding headers are not trusted
        body = request(port, "GET", "/scheme", {"X-Forwarded-Proto": "https",
                                                "X-Forwarded-For": "203.0.113.9"})[2]
        assert body == b"http 127.0.0.1"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_uvicorn_stops_gracefully_on_a_stop_signal(project: Path,
                                                   signum: signal.Signals) -> None:
    with running(serve_command("web.config", "--app", "starapp:app"), cwd=project) as server:
        port = server.port
        results: list[Any] = []
        client = threading.Thread(target=lambda: results.append(
            request(port, "GET", "/slow", A)))
        client.start()
        time.sleep(0.5)  # the request is in the app's sleep
        server.process.send_signal(signum)
        client.join(30)
        status, headers, body = results[0]
        assert (status, body) == (200, b"slow done")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert server.process.wait(10) == 0


def test_without_uvicorn_an_asgi_app_is_refused_at_startup(project: Path) -> None:
    # uvicorn made unimportable (sys.modules[name] = None makes ``import`` raise ImportError)
    code = ("import sys; sys.modules['uvicorn'] = None\n"
            "from iiscors.cli import main\n"
            "main(['serve', 'web.config', '--app', 'starapp:app', '--port', '0'])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "starapp:app is an ASGI application" in result.stderr
    assert "pip install 'iiscors[asgi]'" in result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stdout


@pytest.mark.parametrize("option", [["--dev"], ["--threads", "3"]])
def test_wsgi_server_options_are_refused_for_an_asgi_app(project: Path,
                                                         option: list[str]) -> None:
    result = subprocess.run(serve_command("web.config", "--app", "starapp:app", *option),
                            cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "ASGI" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("source, words", [
    ("async def app(receive, send):\n    pass\n", "does not take (scope, receive, send)"),
    ("class app:\n    def __init__(self, scope):\n        pass\n"
     "    async def __call__(self, receive, send):\n        pass\n", "ASGI 2 application"),
])
def test_other_async_callables_are_refused_by_the_command(tmp_path: Path, source: str,
                                                          words: str) -> None:
    (tmp_path / "oddapp.py").write_text(source)
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    result = subprocess.run(serve_command("web.config", "--app", "oddapp:app"), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
