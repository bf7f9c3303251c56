"""iiscors.django in the Django test project under real servers on 127.0.0.1: ``manage.py
runserver`` (its autoreloader on, as developers run it), gunicorn, and uvicorn (Django under
ASGI, the middleware as a coroutine).  Each runs on a copy of the project, so that the tests can
edit its web.config and see the edit picked up (hot reload), and one runs both recipes at once
(wsgi.py wrapped *and* the middleware in MIDDLEWARE): no header twice.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _project import copy_project

from support import eventually, free_port, python, request, running

pytest.importorskip("django")

ORIGIN, NEW = "https://app.example", "https://new.example"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}
#: settings for the server tests: checks on every reload, once a second is the default
FAST_RELOAD = "IISCORS_RELOAD_INTERVAL = 0.2\n"


def project(tmp_path: Path) -> Path:
    copy = copy_project(tmp_path)
    settings = copy / "corsite" / "settings.py"
    settings.write_text(settings.read_text() + FAST_RELOAD)
    return copy


def assert_answers_as_iis(port: int) -> None:
    """The preflight before the login, the login redirect with the headers, a refusal."""
    status, headers, body = request(port, "OPTIONS", "/api/orders", PREFLIGHT)
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "DELETE"
    status, headers, _ = request(port, "GET", "/api/orders", {"Origin": ORIGIN})
    assert status == 302 and headers.get_all("Access-Control-Allow-Origin") == [ORIGIN]
    assert request(port, "GET", "/api/orders", {"Origin": NEW})[0] == 403


def assert_reloads(port: int, site: Path) -> None:
    """An edit of the web.config is answered by the next requests, no restart."""
    config = site / "web.config"
    config.write_text(config.read_text().replace(ORIGIN, NEW))

    def allowed() -> bool:
        status, headers, _ = request(port, "GET", "/api/public", {"Origin": NEW})
        return status == 200 and headers.get("Access-Control-Allow-Origin") == NEW

    assert eventually(allowed), "the edit was not picked up"


def test_runserver(tmp_path: Path) -> None:
    site = project(tmp_path)
    port = free_port()
    with running(python("manage.py", "runserver", f"127.0.0.1:{port}"), port, cwd=site) as server:
        assert_answers_as_iis(port)
        assert_reloads(port, site)
        assert "iiscors: reloaded" in server.text()


def test_gunicorn(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    site = project(tmp_path)
    port = free_port()
    command = python("-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                     "corsite.wsgi:application")
    with running(command, port, cwd=site):
        assert_answers_as_iis(port)
        assert_reloads(port, site)
        # whichever worker answers, even one that got no request since the edit: each applies
        # it within its reload interval (0.2 s) plus a rebuild of this small file (iiscors.reload)
        time.sleep(0.2 + 0.3)
        for _ in range(6):
            status, headers, _ = request(port, "GET", "/api/public", {"Origin": NEW})
            assert (status, headers.get("Access-Control-Allow-Origin")) == (200, NEW)


def test_uvicorn_asgi(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    site = project(tmp_path)
    port = free_port()
    command = python("-m", "uvicorn", "corsite.asgi:application", "--host", "127.0.0.1",
                     "--port", str(port))
    with running(command, port, cwd=site):
        assert_answers_as_iis(port)
        status, headers, _ = request(port, "GET", "/api/async", {"Origin": ORIGIN})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
        assert_reloads(port, site)


def test_both_recipes_at_once_never_double_a_header(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    site = project(tmp_path)
    port = free_port()
    command = python("-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                     "corsite.wrapped_wsgi:application")
    with running(command, port, cwd=site) as server:
        for _ in range(3):
            status, headers, _ = request(port, "GET", "/api/public", {"Origin": ORIGIN})
            assert status == 200
            assert headers.get_all("Access-Control-Allow-Origin") == [ORIGIN]
            assert headers.get_all("X-Site") == ["corsite"]
            assert [t.strip() for t in headers["Vary"].split(",")].count("Origin") == 1
        status, headers, _ = request(port, "OPTIONS", "/api/orders", PREFLIGHT)
        assert status == 204 and headers.get_all("Access-Control-Allow-Methods") == ["DELETE"]
        assert eventually(lambda: "steps aside" in server.text(), timeout=5)
        assert server.text().count("steps aside") == 1
        assert "iiscors.django.middleware.CorsMiddleware" in server.text()
