"""``iiscors serve``: the static site (in process) and every mode of the command, run for real as
a subprocess on 127.0.0.1 with a free port."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from iiscors import CorsMiddleware
from iiscors.serving.static import StaticSite

from support import Req, call, request, running, serve_command, web_config

ALLOW_A = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                     '<add origin="https://a.example"/></cors>')
A = ("Origin", "https://a.example")


# -- the static site, in process ---------------------------------------------------------------

@pytest.fixture
def site(tmp_path: Path) -> Path:
    files = {
        "web.config": ALLOW_A,
        "index.html": b"<h1>home</h1>",
        "data.json": b'{"a": 1}',
        "notes.unknownext": b"x",
        "source.cs": b"class X {}",
        "bin/app.dll.txt": b"x",
        "App_Data/db.txt": b"x",
        "Docs/Guide.txt": b"guide",
        "empty/.keep": b"",
        "api/web.config": web_config('<cors><add origin="https://b.example"/></cors>'),
        "api/items.json": b"[]",
    }
    for name, data in files.items():
        path = tmp_path / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "secret.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.txt", tmp_path / "site" / "leak.txt")
    os.symlink(tmp_path / "site" / "data.json", tmp_path / "site" / "alias.json")
    return tmp_path / "site"


def static(site: Path, req: Req) -> tuple[int, dict[str, str], bytes, bool]:
    middleware = CorsMiddleware(StaticSite(site), str(site))
    # req.path is PATH_INFO verbatim, as a server passes it: the traversal and non-UTF-8 cases
    # are about those exact characters.
    result = call(middleware, req.method, headers=req.headers, path_info=req.path)
    return result.status, {n.lower(): v for n, v in result.headers}, result.body, True


@pytest.mark.parametrize("path", [
    "/web.config", "/WEB.CONFIG", "/api/web.config", "/api/Web.Config", "/api/web.config/",
    "/source.cs", "/bin/app.dll.txt", "/App_Data/db.txt", "/app_data/db.txt",
    "/../secret.txt", "/api/../../secret.txt", "/./index.html", "/leak.txt",
    "/nope.txt", "/notes.unknownext", "/a\\..\\secret.txt", "/\xff\xfe"])
def test_never_served(site: Path, path: str) -> None:
    status, _headers, body, _ = static(site, Req(path=path))
    assert status == 404
    assert b"secret" not in body and b"<configuration" not in body


def test_files_are_served_with_type_and_validators(site: Path) -> None:
    status, headers, body, _ = static(site, Req(path="/data.json"))
    assert (status, headers["content-type"], body) == (200, "application/json", b'{"a": 1}')
    assert "etag" in headers and "last-modified" in headers
    assert static(site, Req(path="/alias.json"))[0] == 200  # a symlink inside the root
    assert static(site, Req(path="/docs/guide.txt"))[2] == b"guide"  # case-insensitive
    status, _, body, _ = static(site, Req("HEAD", "/data.json"))
    assert (status, body) == (200, b"")


def test_directories_redirect_then_serve_the_default_document_or_403(site: Path) -> None:
    status, headers, _, _ = static(site, Req(path="/api"))
    assert (status, headers["location"]) == (301, "/api/")
    assert static(site, Req(path="/"))[2] == b"<h1>home</h1>"
    assert static(site, Req(path="/empty/"))[0] == 403


def test_methods(site: Path) -> None:
    status, headers, _, _ = static(site, Req("POST", "/data.json"))
    assert status == 405 and "GET" in headers["allow"]
    assert static(site, Req("OPTIONS", "/data.json"))[0] == 200


def test_sub_directory_web_config_applies_below_it(site: Path) -> None:
    """Contract A9 through the static site: api/web.config appends a rule."""
    b = ("Origin", "https://b.example")
    status, headers, _, _ = static(site, Req(path="/api/items.json", headers=(b,)))
    assert (status, headers["access-control-allow-origin"]) == (200, "https://b.example")
    assert static(site, Req(path="/data.json", headers=(b,)))[0] == 403
    status, headers, _, _ = static(site, Req(path="/data.json", headers=(A,)))
    assert headers["access-control-allow-origin"] == "https://a.example"
    # The 404 for web.config gets CORS headers too: it is a response of the site.
    status, headers, _, _ = static(site, Req(path="/api/web.config", headers=(b,)))
    assert (status, headers["access-control-allow-origin"]) == (404, "https://b.example")


# -- the command, for real ---------------------------------------------------------------------

def test_demo_prints_what_to_try_and_answers_it() -> None:
    with running(serve_command(), ready="iiscors validate") as server:
        port = server.port
        text = server.text()
        status, headers, _ = request(port, "OPTIONS", "/api/items", {
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
        assert status == 204
        assert headers["Access-Control-Allow-Methods"] == "GET,POST,DELETE"
        assert request(port, "GET", "/api/items", {"Origin": "https://evil.example"})[0] == 403
        status, headers, _ = request(port, "GET", "/api/me",
                                     {"Origin": "https://app.example.com"})
        assert (status, headers["Access-Control-Allow-Origin"]) == (
            401, "https://app.example.com")
        status, headers, _ = request(port, "GET", "/public/hello",
                                     {"Origin": "https://anyone.example"})
        assert (status, headers["Access-Control-Allow-Origin"]) == (
            200, "https://anyone.example")
    assert f"curl -i -X OPTIONS http://127.0.0.1:{port}/api/items" in text


def test_root_mode_serves_files_and_hides_web_config(site: Path) -> None:
    with running(serve_command("--root", str(site))) as server:
        port = server.port
        assert request(port, "GET", "/web.config")[0] == 404
        assert request(port, "GET", "/api/web.config")[0] == 404
        assert request(port, "GET", "/../secret.txt")[0] == 404
        assert request(port, "GET", "/%2e%2e/secret.txt")[0] == 404
        status, headers, body = request(port, "GET", "/api/items.json",
                                        {"Origin": "https://b.example"})
        assert (status, body, headers["Access-Control-Allow-Origin"]) == (
            200, b"[]", "https://b.example")
        assert request(port, "GET", "/data.json", {"Origin": "https://b.example"})[0] == 403
        # Hot reload is on: a new sub-directory web.config applies within seconds.
        (site / "Docs" / "web.config").write_bytes(
            web_config('<cors><add origin="https://d.example"/></cors>'))
        deadline = time.monotonic() + 10
        while request(port, "GET", "/docs/guide.txt",
                      {"Origin": "https://d.example"})[0] != 200:
            assert time.monotonic() < deadline, "the new web.config was never applied"
            time.sleep(0.1)


def test_app_mode_wraps_an_importable_wsgi_app(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'from myapp ' + environ['PATH_INFO'].encode()]\n")
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    with running(serve_command("web.config", "--app", "myapp:application"),
                 cwd=tmp_path) as server:
        port = server.port
        status, headers, body = request(port, "GET", "/x", {"Origin": "https://a.example"})
        assert (status, body) == (200, b"from myapp /x")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert request(port, "GET", "/x", {"Origin": "https://z.example"})[0] == 403


def test_proxy_mode_puts_cors_in_front_of_another_server(tmp_path: Path) -> None:
    from werkzeug.serving import make_server

    seen: list[tuple[str, str, str, bytes]] = []

    def backend(environ: dict[str, str], start_response: object) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # type: ignore[attr-defined]
        seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"],
                     environ.get("QUERY_STRING", ""), body))
        start_response("418 I'm a teapot", [("Content-Type", "text/plain"),  # type: ignore[operator]
                                           ("Vary", "Accept")])
        return [b"backend " + environ.get("HTTP_X_FORWARDED_HOST", "").encode()]

    server = make_server("127.0.0.1", 0, backend, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    try:
        target = f"http://127.0.0.1:{server.server_port}"
        with running(serve_command(str(tmp_path / "web.config"), "--proxy", target)) as proxy:
            port = proxy.port
            status, headers, body = request(port, "POST", "/p/%C3%A9?q=1",
                                            {"Origin": "https://a.example"}, b"hello")
            assert status == 418
            assert body == f"backend 127.0.0.1:{port}".encode()
            assert headers["Access-Control-Allow-Origin"] == "https://a.example"
            assert headers.get_all("Vary") == ["Accept, Origin"]
            assert seen == [("POST", "/p/\xc3\xa9", "q=1", b"hello")]
            # Refused and preflighted requests never reach the backend.
            assert request(port, "GET", "/", {"Origin": "https://z.example"})[0] == 403
            assert request(port, "OPTIONS", "/", {"Origin": "https://a.example",
                                                  "Access-Control-Request-Method": "PUT"}
                           )[0] == 204
            assert len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()
    # With the backend gone: 502, still with CORS headers.
    with running(serve_command(str(tmp_path / "web.config"), "--proxy", target)) as proxy:
        status, headers, _ = request(proxy.port, "GET", "/",
                                     {"Origin": "https://a.example"})
        assert (status, headers["Access-Control-Allow-Origin"]) == (502, "https://a.example")


def test_an_unusable_config_prints_every_diagnostic_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_bytes(web_config('<cors enabled="yes" bogus="1"/>'))
    result = subprocess.run(serve_command(str(tmp_path / "web.config")), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "E206" in result.stderr and "E201" in result.stderr


@pytest.mark.parametrize("args", [["CONFIG", "--root", "."],
                                  ["--app", "x:y", "--proxy", "http://127.0.0.1:1"],
                                  ["CONFIG", "--proxy", "ftp://x"],
                                  ["CONFIG", "--app", "no_such_module_xyz:app"]])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    args = [str(tmp_path / "web.config") if a == "CONFIG" else a for a in args]
    result = subprocess.run(serve_command(*args), capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 2, result.stderr


def test_the_middleware_accepts_a_site_directory_directly(site: Path) -> None:
    middleware = CorsMiddleware(StaticSite(site), str(site))
    assert len(middleware.config.files) == 2


def test_playground_flag_serves_the_page_next_to_the_api() -> None:
    with running(serve_command("--playground"), ready="playground:") as server:
        text = server.text()
        page = int(text.split("playground: http://127.0.0.1:")[1].split("/")[0])
        api = int(text.split("API:        http://127.0.0.1:")[1].split("/")[0])
        status, headers, body = request(page, "GET", "/")
        assert status == 200 and b"<html" in body.lower()
        page_origin = f"http://127.0.0.1:{page}"
        # The default playground configuration: the page may call /api/items, not /api/me.
        status, headers, _ = request(api, "GET", "/api/items", {"Origin": page_origin})
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, page_origin)
        assert request(api, "GET", "/api/me", {"Origin": page_origin})[0] == 403


def test_playground_flag_refuses_root_and_proxy(tmp_path: Path) -> None:
    result = subprocess.run(serve_command("--playground", "--root", str(tmp_path)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--playground" in result.stderr
