"""Starlette and FastAPI: an endpoint that raises still gives a 500 carrying the CORS headers
when iiscors wraps the whole application (docs/frameworks.md), under a real uvicorn on
127.0.0.1; and what ``add_middleware`` does and cannot do, in process.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from support import eventually, free_port, python, request, running

starlette = pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from iiscors.asgi import CorsMiddleware  # noqa: E402
from iiscors.layering import CRASH_BODY  # noqa: E402

ORIGIN = "https://app.example"
WEB_CONFIG = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
              '<cors enabled="true" failUnlistedOrigins="true">'
              f'<add origin="{ORIGIN}" allowCredentials="true" /></cors>'
              "</system.webServer></configuration>\n")

STARLETTE_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from iiscors.asgi import CorsMiddleware

async def items(request):
    return JSONResponse({"items": []})

async def boom(request):
    raise RuntimeError("the endpoint failed")

api = Starlette(routes=[Route("/items", items), Route("/boom", boom)])
app = CorsMiddleware(api, "web.config")
'''
FASTAPI_APP = '''
from fastapi import FastAPI
from iiscors.asgi import CorsMiddleware

api = FastAPI()

@api.get("/items")
def items():
    return {"items": []}

@api.get("/boom")
def boom():
    raise RuntimeError("the endpoint failed")

app = CorsMiddleware(api, "web.config")
'''


def serve(tmp_path: Path, module: str) -> tuple[list[str], int, Path]:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    (tmp_path / "served.py").write_text(module)
    port = free_port()
    return (python("-m", "uvicorn", "served:app", "--host", "127.0.0.1", "--port", str(port)),
            port, tmp_path)


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_a_raising_endpoint_gives_a_500_with_cors_headers(tmp_path: Path, framework: str) -> None:
    pytest.importorskip("uvicorn")
    if framework == "fastapi":
        pytest.importorskip("fastapi")
    command, port, cwd = serve(tmp_path, FASTAPI_APP if framework == "fastapi" else STARLETTE_APP)
    with running(command, port, cwd=cwd) as server:
        status, headers, body = request(port, "GET", "/boom", {"Origin": ORIGIN})
        # the framework's own 500 (ServerErrorMiddleware), with our headers: the browser
        # shows the real error, not a CORS error
        assert status == 500 and body == b"Internal Server Error"
        assert headers.get_all("Access-Control-Allow-Origin") == [ORIGIN]
        assert headers["Access-Control-Allow-Credentials"] == "true"
        # and the server still sees the failure: uvicorn logs it with its traceback
        assert eventually(lambda: "RuntimeError: the endpoint failed" in server.text(), 10)
        status, headers, _ = request(port, "GET", "/items", {"Origin": ORIGIN})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
        status, headers, _ = request(port, "OPTIONS", "/items", {
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
        assert status == 204 and headers["Access-Control-Allow-Origin"] == ORIGIN


# add_middleware, in process ---------------------------------------------------------------

async def boom(request: Request) -> Response:
    raise RuntimeError("the endpoint failed")


async def items(request: Request) -> Response:
    return JSONResponse({"items": []})


def starlette_app(**options: Any) -> Starlette:
    return Starlette(routes=[Route("/boom", boom), Route("/items", items)], **options)


def get(app: Any, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers={"Origin": ORIGIN})

    return asyncio.run(run())


@pytest.fixture
def config(tmp_path: Path) -> str:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    return os.fspath(tmp_path / "web.config")


def test_add_middleware_answers_the_crash_itself(config: str) -> None:
    # inside ServerErrorMiddleware: iiscors answers the crash (its 500, our headers) before
    # Starlette's error handling would
    app = starlette_app()
    app.add_middleware(CorsMiddleware, config=config)
    response = get(app, "/boom")
    assert response.status_code == 500 and response.content == CRASH_BODY
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_add_middleware_without_crash_answers_loses_the_headers(config: str) -> None:
    # what add_middleware cannot do: ServerErrorMiddleware's 500 is built outside iiscors
    app = starlette_app()
    app.add_middleware(CorsMiddleware, config=config, answer_crashes=False)
    response = get(app, "/boom")
    assert response.status_code == 500 and "access-control-allow-origin" not in response.headers


def test_wrapped_outermost_the_apps_own_500_handler_runs_and_gets_the_headers(
        config: str) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("our own 500 page", status_code=500)

    app = CorsMiddleware(starlette_app(exception_handlers={Exception: handler}), config)
    response = get(app, "/boom")
    assert (response.status_code, response.text) == (500, "our own 500 page")
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_add_middleware_pre_empts_the_apps_own_500_handler_and_debug_page(config: str) -> None:
    # the documented trade-off: turn answer_crashes off, or wrap outermost, to keep them
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("our own 500 page", status_code=500)

    app = starlette_app(exception_handlers={Exception: handler})
    app.add_middleware(CorsMiddleware, config=config)
    assert get(app, "/boom").content == CRASH_BODY
    debug = starlette_app(debug=True)
    debug.add_middleware(CorsMiddleware, config=config)
    assert get(debug, "/boom").content == CRASH_BODY
    debug_kept = starlette_app(debug=True)
    debug_kept.add_middleware(CorsMiddleware, config=config, answer_crashes=False)
    assert b"RuntimeError" in get(debug_kept, "/boom").content  # Starlette's debug page
