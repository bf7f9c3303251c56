"""The ASGI adapter with Starlette (in process, httpx) and under a real uvicorn on loopback.
The behaviour table (tests/policy/test_behaviour.py) and the header-order table
(tests/adapters/test_adapters.py) run through both adapters; raw ASGI scopes are below."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from support import request, running, web_config

starlette = pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from iiscors.asgi import CorsMiddleware  # noqa: E402

CONFIG = web_config(
    '<cors enabled="true" failUnlistedOrigins="true"><add origin="https://a.example">'
    '<allowMethods><add method="PUT"/></allowMethods>'
    '<exposeHeaders><add header="X-Total"/></exposeHeaders></add></cors>')

MODULE = """\
import os
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from iiscors.asgi import CorsMiddleware

async def items(request):
    return JSONResponse([1, 2], headers={"Vary": "Accept-Encoding"})

app = Starlette(routes=[Route("/items", items, methods=["GET", "PUT"])], middleware=[
    Middleware(CorsMiddleware, config=os.environ["IISCORS_TEST_CONFIG"])])
"""


def starlette_app(calls: list[str]) -> Starlette:
    async def items(request: Request) -> JSONResponse:
        calls.append(request.method)
        return JSONResponse({"items": []}, headers={"X-Total": "0"})

    return Starlette(routes=[Route("/items", items, methods=["GET", "PUT", "OPTIONS"])],
                     middleware=[Middleware(CorsMiddleware, config=CONFIG)])


def test_starlette_in_process() -> None:
    calls: list[str] = []
    transport = httpx.ASGITransport(app=starlette_app(calls))

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            preflight = await client.options("/items", headers={
                "Origin": "https://a.example", "Access-Control-Request-Method": "PUT"})
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-methods"] == "PUT"
            actual = await client.put("/items", headers={"Origin": "https://a.example"})
            assert actual.status_code == 200
            assert actual.headers["access-control-allow-origin"] == "https://a.example"
            assert actual.headers["access-control-expose-headers"] == "X-Total"
            assert actual.headers["vary"] == "Origin"
            refused = await client.get("/items", headers={"Origin": "https://evil.example"})
            assert refused.status_code == 403

    import asyncio
    asyncio.run(scenario())
    assert calls == ["PUT"]  # neither the preflight nor the refused request reached the app


@pytest.mark.slow
def test_under_a_real_uvicorn(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    (tmp_path / "served_asgi.py").write_text(MODULE)
    (tmp_path / "web.config").write_bytes(CONFIG)
    command = [sys.executable, "-m", "uvicorn", "served_asgi:app", "--host", "127.0.0.1",
               "--port", "0"]
    with running(command, cwd=tmp_path, ready="Uvicorn running on",
                 env={"IISCORS_TEST_CONFIG": str(tmp_path / "web.config")}) as server:
        port = int(re.search(r"127\.0\.0\.1:(\d+)", server.text()).group(1))  # type: ignore[union-attr]
        status, headers, body = request(port, "OPTIONS", "/items", {
            "Origin": "https://a.example", "Access-Control-Request-Method": "PUT"})
        assert (status, body) == (204, b"")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert headers["Access-Control-Allow-Methods"] == "PUT"
        status, headers, body = request(port, "GET", "/items", {"Origin": "https://a.example"})
        assert (status, body) == (200, b"[1,2]")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert headers.get_all("Vary") == ["Accept-Encoding, Origin"]
        status, headers, _ = request(port, "GET", "/items", {"Origin": "https://evil.example"})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        # Hot reload under uvicorn: allow the evil origin.
        new = tmp_path / "web.config.new"
        new.write_bytes(CONFIG.replace(b'<add origin="https://a.example">',
                                       b'<add origin="https://evil.example"/>'
                                       b'<add origin="https://a.example">'))
        new.replace(tmp_path / "web.config")
        import time
        deadline = time.monotonic() + 10
        while request(port, "GET", "/items", {"Origin": "https://evil.example"})[0] != 200:
            assert time.monotonic() < deadline, "uvicorn never picked up the edit"
            time.sleep(0.1)
