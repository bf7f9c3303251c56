"""``iiscors.serving.app:make_app``: the static site, the proxy or a WSGI app behind the CORS
middleware, built from IISCORS_* environment variables, for gunicorn and waitress-serve (issue
12, item 15).  The factory is tested in process, then under a real gunicorn and a real
waitress-serve on 127.0.0.1.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from iiscors import ConfigError, CorsMiddleware
from iiscors.serving.app import make_app
from iiscors.serving.logged import LoggedWSGI

from support import request, running, web_config

ALLOW_A = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                     '<add origin="https://a.example"/></cors>')
A = {"Origin": "https://a.example"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "wwwroot"
    root.mkdir()
    (root / "web.config").write_bytes(ALLOW_A)
    (root / "data.json").write_text('{"hello": "static"}')
    return root


def call(app: Any, path: str, headers: dict[str, str] | None = None) -> tuple[str, dict[str, str],
                                                                          bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
                               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
                               "SCRIPT_NAME": "", "REMOTE_ADDR": "127.0.0.1"}
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: list[Any] = []
    body = app(environ, lambda status, headers, exc_info=None: seen.append((status, headers)))
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen[0][0], dict(seen[0][1]), data


def test_a_site_root_from_the_environment(site: Path) -> None:
    app = make_app({"IISCORS_ROOT": str(site)})
    assert isinstance(app, CorsMiddleware) and app.reload
    status, headers, body = call(app, "/data.json", A)
    assert (status, body) == ("200 OK", b'{"hello": "static"}')
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert call(app, "/web.config")[0].startswith("404")
    assert call(app, "/data.json", {"Origin": "https://z.example"})[0].startswith("403")


def test_a_proxy_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    app = make_app({"IISCORS_CONFIG": str(tmp_path / "web.config"),
                    "IISCORS_PROXY": "http://127.0.0.1:9"})
    # nothing listens on port 9 of the loopback: the proxy's own 502, with CORS headers
    status, headers, _ = call(app, "/x", A)
    assert status.startswith("502") and headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_a_wsgi_app_from_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "factoryapp.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'inner']\n")
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = make_app({"IISCORS_CONFIG": "web.config", "IISCORS_APP": "factoryapp:application"})
    assert call(app, "/", A)[2] == b"inner"


def test_options_and_the_access_log_from_the_environment(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    app = make_app({"IISCORS_ROOT": str(site), "IISCORS_RELOAD": "0", "IISCORS_STRICT": "1",
                    "IISCORS_ACCESS_LOG": str(log), "IISCORS_ACCESS_LOG_FORMAT": "json"})
    assert isinstance(app, LoggedWSGI)
    middleware = app.app
    assert isinstance(middleware, CorsMiddleware)
    assert (middleware.reload, middleware.strict) == (False, True)
    call(app, "/data.json", {"Origin": "https://z.example"})
    assert '"cors": "denied"' in log.read_text()


@pytest.mark.parametrize("env, message", [
    ({}, "set IISCORS_ROOT"),
    ({"IISCORS_ROOT": "R", "IISCORS_CONFIG": "C"}, "IISCORS_ROOT or IISCORS_CONFIG, not both"),
    ({"IISCORS_CONFIG": "C", "IISCORS_PROXY": "http://127.0.0.1:9", "IISCORS_APP": "a:b"},
     "IISCORS_APP or IISCORS_PROXY, not both"),
    ({"IISCORS_CONFIG": "C", "IISCORS_PROXY": "ftp://x"}, "IISCORS_PROXY: the proxy target"),
    ({"IISCORS_CONFIG": "C", "IISCORS_RELOAD": "maybe"}, "IISCORS_RELOAD: expected 1 or 0"),
    ({"IISCORS_CONFIG": "C", "IISCORS_ACCESS_LOG_FORMAT": "xml"},
     "IISCORS_ACCESS_LOG_FORMAT: expected text or json"),
    ({"IISCORS_CONFIG": "C", "IISCORS_APP": "no_such_module_xyz:app"},
     "IISCORS_APP: cannot import 'no_such_module_xyz'"),
])
def test_bad_settings_are_clear_errors(tmp_path: Path, env: dict[str, str], message: str) -> None:
    (tmp_path / "C").write_bytes(ALLOW_A)
    (tmp_path / "R").mkdir()
    env = {k: str(tmp_path / v) if v in ("C", "R") else v for k, v in env.items()}
    with pytest.raises(ValueError, match=re.escape(message)):
        make_app(env)


def test_an_unusable_configuration_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_bytes(web_config('<cors enabled="yes"/>'))
    with pytest.raises(ConfigError, match="E206"):
        make_app({"IISCORS_CONFIG": str(tmp_path / "web.config")})


# -- under real servers ------------------------------------------------------------------------

SERVERS = {
    "gunicorn": ([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2",
                  "--graceful-timeout", "2", "iiscors.serving.app:make_app()"],
                 r"Listening at: http://127\.0\.0\.1:(\d+)", "Booting worker"),
    "waitress": ([sys.executable, "-m", "waitress", "--listen=127.0.0.1:0", "--call",
                  "iiscors.serving.app:make_app"],
                 r"Serving on http://127\.0\.0\.1:(\d+)", "Serving on"),
}


@pytest.mark.slow
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_the_static_site_under_a_real_server(server: str, site: Path, tmp_path: Path) -> None:
    pytest.importorskip(server)
    command, pattern, ready = SERVERS[server]
    log = tmp_path / "access.log"
    with running(command, cwd=tmp_path, ready=ready,
                 env={"IISCORS_ROOT": str(site), "IISCORS_ACCESS_LOG": str(log)}) as proc:
        found = re.search(pattern, proc.text())
        assert found, proc.text()
        port = int(found.group(1))
        status, headers, body = request(port, "GET", "/data.json", A)
        assert (status, body) == (200, b'{"hello": "static"}')
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert headers.get_all("Vary") == ["Origin"]
        status, headers, _ = request(port, "GET", "/data.json", {"Origin": "https://z.example"})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        assert request(port, "GET", "/web.config", A)[0] == 404
    text = log.read_text()
    assert "cors=allowed" in text and "cors=denied" in text
