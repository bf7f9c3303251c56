"""The README's framework recipes, run exactly as written (issue 15's acceptance).

Each block of "Use it in your framework" (found by its ``<!-- recipe: NAME -->`` marker) is at
most five lines, and is pasted, unchanged, after a few lines that build what it assumes exists
(Django's settings, a Flask ``app``, an ``api``, an ``application``); the result then runs for
real: Django's test client and ``manage.py check``, Flask's test client, uvicorn and waitress on
127.0.0.1.  The applications have an endpoint that raises, and the crash answer is checked too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import eventually, free_port, python, request, running

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "django_project"
README = (ROOT / "README.md").read_text(encoding="utf-8")
ORIGIN = "https://app.example"
WEB_CONFIG = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
              '<cors enabled="true" failUnlistedOrigins="true">'
              f'<add origin="{ORIGIN}"><allowMethods><add method="DELETE" /></allowMethods>'
              "</add></cors></system.webServer></configuration>\n")
RECIPES = ("django", "flask", "asgi-framework", "plain")


def recipe(name: str) -> str:
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```python\n(.*?)```", README,
                      re.DOTALL)
    assert found, f"README has no recipe {name!r}"
    return found.group(1)


def env_with(*paths: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *map(str, paths)])}


@pytest.mark.parametrize("name", RECIPES)
def test_each_recipe_is_five_lines_or_fewer(name: str) -> None:
    assert 1 <= len(recipe(name).splitlines()) <= 5


def test_every_framework_section_has_its_recipe() -> None:
    section = README.split("## Use it in your framework", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"<!-- recipe: ([\w-]+) -->", section) == list(RECIPES)


# Django -----------------------------------------------------------------------------------

DJANGO_BEFORE = '''from pathlib import Path
from corsite.settings import *  # noqa: F403  (a project without iiscors yet)
INSTALLED_APPS = [a for a in INSTALLED_APPS if not a.startswith("iiscors")]
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("iiscors")]
'''
DJANGO_CLIENT = '''
import json, django
django.setup()
from django.test import Client
client = Client()
preflight = client.options("/api/orders", headers={"Origin": "https://app.example",
                                                   "Access-Control-Request-Method": "DELETE"})
actual = client.get("/api/orders", headers={"Origin": "https://app.example"})
print(json.dumps([preflight.status_code, dict(preflight.headers), actual.status_code,
                  dict(actual.headers)]))
'''


def test_django(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    before = DJANGO_BEFORE + f"BASE_DIR = Path({str(tmp_path)!r})  # the web.config's folder\n"
    (tmp_path / "recipe_settings.py").write_text(before + recipe("django"))
    env = {**env_with(PROJECT, tmp_path), "DJANGO_SETTINGS_MODULE": "recipe_settings"}
    ran = subprocess.run([sys.executable, "-c", DJANGO_CLIENT], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    status, headers, actual_status, actual_headers = json.loads(ran.stdout)
    assert status == 204 and headers["Access-Control-Allow-Methods"] == "DELETE"
    assert actual_status == 302 and actual_headers["Access-Control-Allow-Origin"] == ORIGIN
    checked = subprocess.run([sys.executable, str(PROJECT / "manage.py"), "check"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                             check=False)
    assert checked.returncode == 0 and "(iiscors.W222)" in checked.stderr  # checks registered
    assert "(iiscors.W001)" not in checked.stderr  # first in MIDDLEWARE


# Flask ------------------------------------------------------------------------------------

FLASK_BEFORE = '''from flask import Flask

app = Flask(__name__)

@app.get("/orders")
def orders():
    return {"orders": []}

'''


def test_flask(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_text(WEB_CONFIG)  # beside the app: the default
    (tmp_path / "flask_recipe.py").write_text(FLASK_BEFORE + recipe("flask"))
    script = ("import json; from flask_recipe import app; c = app.test_client(); "
              "p = c.options('/orders', headers={'Origin': 'https://app.example', "
              "'Access-Control-Request-Method': 'DELETE'}); "
              "g = c.get('/orders', headers={'Origin': 'https://app.example'}); "
              "print(json.dumps([p.status_code, g.headers.get('Access-Control-Allow-Origin')]))")
    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env_with(tmp_path),
                         capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == [204, ORIGIN]
    validated = subprocess.run([sys.executable, "-m", "flask", "--app", "flask_recipe",
                                "iiscors", "validate"], cwd=tmp_path, env=env_with(tmp_path),
                               capture_output=True, text=True, timeout=120, check=False)
    assert validated.returncode == 0 and "W222" in validated.stdout


# FastAPI and Starlette: a raising endpoint through uvicorn -------------------------------

ASGI_BEFORE = {
    "starlette": '''from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def orders(request):
    return JSONResponse({"orders": []})

async def boom(request):
    raise RuntimeError("the endpoint failed")

api = Starlette(routes=[Route("/orders", orders), Route("/boom", boom)])
''',
    "fastapi": '''from fastapi import FastAPI

api = FastAPI()

@api.get("/orders")
def orders():
    return {"orders": []}

@api.get("/boom")
def boom():
    raise RuntimeError("the endpoint failed")
''',
}


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_asgi_framework(tmp_path: Path, framework: str) -> None:
    pytest.importorskip(framework)
    pytest.importorskip("uvicorn")
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    (tmp_path / "main.py").write_text(ASGI_BEFORE[framework] + recipe("asgi-framework"))
    port = free_port()
    command = python("-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port))
    with running(command, port, cwd=tmp_path) as server:
        status, headers, _ = request(port, "GET", "/boom", {"Origin": ORIGIN})
        assert status == 500 and headers["Access-Control-Allow-Origin"] == ORIGIN
        assert eventually(lambda: "the endpoint failed" in server.text(), 10)
        status, headers, _ = request(port, "OPTIONS", "/orders", {
            "Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"})
        assert status == 204 and headers["Access-Control-Allow-Methods"] == "DELETE"


# Any WSGI or ASGI application: a raising one, under waitress and uvicorn -------------------

WSGI_BEFORE = '''def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("the application failed")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"orders"]

'''
ASGI_APP_BEFORE = '''async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/boom":
        raise RuntimeError("the application failed")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"orders"})

'''
#: The recipe's comment says how the ASGI variant differs: its import line.
ASGI_IMPORT = "from iiscors.asgi import CorsMiddleware"


def assert_the_crash_carries_the_headers(port: int) -> None:
    status, headers, body = request(port, "GET", "/boom", {"Origin": ORIGIN})
    assert status == 500 and headers["Access-Control-Allow-Origin"] == ORIGIN
    assert b"see the server log" in body
    status, headers, body = request(port, "GET", "/orders", {"Origin": ORIGIN})
    assert (status, body, headers["Access-Control-Allow-Origin"]) == (200, b"orders", ORIGIN)


def test_plain_wsgi_under_waitress(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    (tmp_path / "plain.py").write_text(WSGI_BEFORE + recipe("plain"))
    port = free_port()
    command = python("-m", "waitress", "--listen", f"127.0.0.1:{port}", "plain:application")
    with running(command, port, cwd=tmp_path) as server:
        assert_the_crash_carries_the_headers(port)
        assert eventually(lambda: "RuntimeError: the application failed" in server.text(), 10)


def test_plain_asgi_under_uvicorn(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    lines = recipe("plain").splitlines()
    assert lines[0].startswith("from iiscors import CorsMiddleware") and ASGI_IMPORT in lines[0]
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    (tmp_path / "plain_asgi.py").write_text(
        ASGI_APP_BEFORE + "\n".join([ASGI_IMPORT, *lines[1:]]) + "\n")
    port = free_port()
    command = python("-m", "uvicorn", "plain_asgi:application", "--host", "127.0.0.1",
                     "--port", str(port))
    with running(command, port, cwd=tmp_path) as server:
        assert_the_crash_carries_the_headers(port)
        # re-raised after the 500: uvicorn logs it as well as iiscors
        assert eventually(lambda: "Exception in ASGI application" in server.text(), 10)
