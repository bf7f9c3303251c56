"""iiscors.django through Django's own test client, in a real minimal project
(tests/frameworks/django_project: auth and sessions installed, iiscors.django's middleware first,
a view that needs a login; its web.config allows https://app.example and fails the others).

Django's test client runs the middleware stack but not wsgi.py: these tests are what a
project's own tests see.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings

from iiscors.django import CorsMiddleware
from iiscors.layering import HANDLED
from iiscors.policy.plan import FORBIDDEN_BODY
from iiscors.reload import UNUSABLE_BODY

ORIGIN = "https://app.example"
PREFLIGHT = {"HTTP_ORIGIN": ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "DELETE",
             "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type"}


@pytest.fixture(autouse=True)
def _django(django_project: Path) -> Path:
    return django_project


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def tokens(value: str | None) -> list[str]:
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


def test_a_preflight_is_answered_before_authentication(client: Client) -> None:
    # /api/orders needs a login: without iiscors first, the preflight would get its redirect
    response = client.options("/api/orders", **PREFLIGHT)
    assert response.status_code == 204 and response.content == b""
    assert dict(response.headers) == {
        "Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "DELETE", "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "120", "Vary": "Origin", "X-Site": "corsite"}


def test_the_login_redirect_carries_the_cors_headers(client: Client) -> None:
    response = client.get("/api/orders", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # contract B9: any status
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["Access-Control-Expose-Headers"] == "X-Total"
    assert "Access-Control-Allow-Methods" not in response
    assert response["X-Site"] == "corsite" and tokens(response["Vary"]).count("origin") == 1


def test_origin_is_merged_into_the_views_vary(client: Client) -> None:
    response = client.get("/api/public", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200 and response["X-Total"] == "0"
    assert tokens(response["Vary"])[:2] == ["accept-language", "origin"]
    assert tokens(response["Vary"]).count("origin") == 1


def test_an_unlisted_origin_is_refused_before_the_view(client: Client) -> None:
    response = client.get("/api/orders", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403 and response.content == FORBIDDEN_BODY
    assert "Access-Control-Allow-Origin" not in response
    assert response["Vary"] == "Origin" and response["X-Site"] == "corsite"


def test_without_origin_only_vary_and_custom_headers(client: Client) -> None:
    response = client.get("/api/public")
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response
    assert "origin" in tokens(response["Vary"]) and response["X-Site"] == "corsite"


def test_a_failing_view_gives_djangos_500_with_the_cors_headers(client: Client) -> None:
    response = client.get("/api/boom", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 500 and response["Access-Control-Allow-Origin"] == ORIGIN


def test_the_views_own_header_is_kept_and_a_warning_logged_once(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        response = client.get("/api/own-cors", HTTP_ORIGIN=ORIGIN)
        assert response["Access-Control-Allow-Origin"] == "*"  # the view's
        assert response["Access-Control-Allow-Credentials"] == "true"  # ours, no collision
    warnings = [r for r in caplog.records if r.name == "iiscors" and "one value" in r.getMessage()]
    assert len(warnings) == 1 and "Access-Control-Allow-Origin" in warnings[0].getMessage()


def test_the_plans_own_repeated_header_is_joined(tmp_path: Path) -> None:
    # customHeaders repeating Access-Control-Allow-Origin (contract C1): both values, as IIS
    # sends two header lines and HTTP reads them as one comma-joined value
    config = tmp_path / "web.config"
    config.write_text(
        '<configuration><system.webServer><cors enabled="true"><add origin="*" /></cors>'
        '<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" value="*" />'
        "</customHeaders></httpProtocol></system.webServer></configuration>")
    with override_settings(IISCORS_CONFIG=config):
        response = Client().get("/api/public", HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == "*, *"


def test_exempt_same_origin_setting() -> None:
    # the request's own origin is scheme://Host, the Host header as sent (as the adapters)
    own = {"HTTP_ORIGIN": "http://testserver", "HTTP_HOST": "testserver"}
    assert Client().post("/login/", **own).status_code == 403  # unlisted, contract B13
    with override_settings(IISCORS_EXEMPT_SAME_ORIGIN=True):
        response = Client().get("/login/", **own)
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response


def test_under_asgi_the_middleware_is_a_coroutine_and_answers_alike() -> None:
    async def get_response(request: HttpRequest) -> HttpResponse:
        return HttpResponse("inner")

    middleware = CorsMiddleware(get_response)
    assert asyncio.iscoroutinefunction(middleware)  # Django awaits it: no thread hop

    async def scenario() -> None:
        client = AsyncClient()  # headers= : its extra keywords become ASGI scope keys
        preflight = await client.options("/api/orders", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"})
        assert preflight.status_code == 204
        assert preflight["Access-Control-Allow-Methods"] == "DELETE"
        actual = await client.get("/api/async", headers={"Origin": ORIGIN})
        assert actual.status_code == 200 and actual["Access-Control-Allow-Origin"] == ORIGIN
        refused = await client.get("/api/async", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403

    asyncio.run(scenario())


def test_under_wsgi_the_middleware_is_plain() -> None:
    middleware = CorsMiddleware(lambda request: HttpResponse("inner"))
    assert not asyncio.iscoroutinefunction(middleware)


def test_a_request_an_outer_layer_handles_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    class Outer:
        source = None

    calls: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        calls.append(request.method or "")
        return HttpResponse("inner")

    middleware = CorsMiddleware(view)
    request = HttpRequest()
    request.method, request.path_info = "OPTIONS", "/api/orders"
    request.META = {**PREFLIGHT, HANDLED: Outer(), "HTTP_HOST": "testserver"}
    for _ in range(2):
        response = middleware(request)
        assert response.content == b"inner" and "Access-Control-Allow-Origin" not in response
    assert calls == ["OPTIONS", "OPTIONS"]
    assert len([r for r in caplog.records if "steps aside" in r.getMessage()]) == 1


# Strict mode and hot reload, on a copy of the web.config ----------------------------------

@pytest.fixture
def config_copy(tmp_path: Path, django_project: Path) -> Iterator[Path]:
    copy = tmp_path / "web.config"
    shutil.copy(django_project / "web.config", copy)
    with override_settings(IISCORS_CONFIG=copy, IISCORS_RELOAD_INTERVAL=0):
        yield copy


def test_an_edit_is_picked_up_and_a_broken_one_keeps_the_last_good(config_copy: Path) -> None:
    client = Client()
    assert client.get("/api/public", HTTP_ORIGIN="https://new.example").status_code == 403
    config_copy.write_text(config_copy.read_text().replace(
        "https://app.example", "https://new.example"))
    response = client.get("/api/public", HTTP_ORIGIN="https://new.example")
    assert response["Access-Control-Allow-Origin"] == "https://new.example"
    config_copy.write_text("<configuration><broken>")
    assert client.get("/api/public", HTTP_ORIGIN="https://new.example").status_code == 200


def test_strict_mode_answers_500_while_the_file_is_broken(config_copy: Path) -> None:
    with override_settings(IISCORS_STRICT=True):
        client = Client()
        assert client.get("/api/public", HTTP_ORIGIN=ORIGIN).status_code == 200
        good = config_copy.read_text()
        config_copy.write_text("<configuration><broken>")
        response = client.get("/api/public", HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 500 and response.content == UNUSABLE_BODY
        config_copy.write_text(good)
        assert client.get("/api/public", HTTP_ORIGIN=ORIGIN).status_code == 200


# Bad settings: ImproperlyConfigured at start-up, naming the setting -----------------------

@pytest.mark.parametrize(("settings", "expected"), [
    ({"IISCORS_RELOAD": "yes"}, "IISCORS_RELOAD must be True or False, not 'yes' (a str)"),
    ({"IISCORS_MAX_BYTES": 0}, "IISCORS_MAX_BYTES must be a whole number of bytes above 0"),
    ({"IISCORS_RELOAD_INTERVAL": -1}, "IISCORS_RELOAD_INTERVAL must be a number of seconds"),
    ({"IISCORS_RELAOD": True}, "IISCORS_RELAOD is not an iiscors setting here. Did you mean "
                               "IISCORS_RELOAD?"),
    ({"IISCORS_ANSWER_CRASHES": True}, "IISCORS_ANSWER_CRASHES is not an iiscors setting"),
    ({"IISCORS_CONFIG": "/nonexistent/web.config"},
     "IISCORS_CONFIG names /nonexistent/web.config, which does not exist"),
    ({"IISCORS_CONFIG": 42}, "IISCORS_CONFIG must be the path of a web.config file or of a site "
                             "directory, not 42 (a int)"),
    ({"BASE_DIR": Path("/nonexistent")}, 'IISCORS_CONFIG is not set, and its default BASE_DIR / '
                                         '"web.config" (/nonexistent/web.config) does not exist'),
], ids=["bool", "size", "interval", "typo", "not-for-django", "missing", "type", "default"])
def test_bad_settings_raise_improperly_configured(settings: dict[str, Any],
                                                  expected: str) -> None:
    with override_settings(**settings), pytest.raises(ImproperlyConfigured) as raised:
        Client().get("/api/public")
    assert expected in str(raised.value)


def test_an_unusable_web_config_names_every_diagnostic(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text('<configuration><system.webServer><cors enabled="maybe" bogus="1">'
                      "</cors></system.webServer></configuration>")
    with override_settings(IISCORS_CONFIG=config), pytest.raises(ImproperlyConfigured) as raised:
        Client().get("/api/public")
    message = str(raised.value)
    assert f"IISCORS_CONFIG ({config}) is unusable" in message
    assert "E206" in message and "E201" in message and raised.value.__cause__ is None


def test_logging_is_quiet_for_healthy_requests(client: Client,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iiscors")
    client.options("/api/orders", **PREFLIGHT)
    client.get("/api/public", HTTP_ORIGIN=ORIGIN)
    assert not [r for r in caplog.records if r.name == "iiscors"]


def test_asgi_wrapped_too_the_outer_layer_decides(caplog: pytest.LogCaptureFixture) -> None:
    # asgi.py wrapped in iiscors.asgi.CorsMiddleware (another web.config) *and* the Django
    # middleware: the wrapper marks the scope, Django's request.scope shows it
    httpx = pytest.importorskip("httpx")
    from django.core.asgi import get_asgi_application

    from iiscors.asgi import CorsMiddleware as AsgiMiddleware

    other = ('<configuration><system.webServer><cors enabled="true">'
             '<add origin="https://other.example" /></cors></system.webServer></configuration>')
    app = AsgiMiddleware(get_asgi_application(), other.encode(), reload=False)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return [await c.get("/api/public", headers={"Origin": origin})
                    for origin in ("https://other.example", ORIGIN)]

    outer_allowed, inner_allowed = asyncio.run(scenario())
    assert outer_allowed.headers.get_list("access-control-allow-origin") == [
        "https://other.example"]
    # the project's own web.config would allow ORIGIN, but the outer layer decides
    assert inner_allowed.status_code == 200
    assert "access-control-allow-origin" not in inner_allowed.headers
    assert "x-site" not in inner_allowed.headers
    assert len([r for r in caplog.records if "steps aside" in r.getMessage()]) == 1
