"""httpProtocol/customHeaders (contract C1): added to every response — the app's, the
middleware's own 204 and 403, with CORS disabled or CorsModule removed (D1) — scoped like
<cors> (A9: <location>, sub-directory files, add/remove/clear); combined with <cors> it
duplicates Access-Control-* headers exactly as IIS does.  Both adapters."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiscors import check_config

from support import ADAPTERS, Adapter, App, Req, web_config

CUSTOM = ('<httpProtocol><customHeaders><add name="X-One" value="1"/>'
          '<add name="X-Two" value="a, B"/></customHeaders></httpProtocol>')
CORS = ('<cors enabled="true" failUnlistedOrigins="true"><add origin="https://a.example"/>'
        '</cors>')
A = ("Origin", "https://a.example")
PREFLIGHT = Req("OPTIONS", headers=(A, ("Access-Control-Request-Method", "PUT")))
REQUESTS = {
    "actual": (Req(headers=(A,)), 200),
    "no-origin": (Req(), 200),
    "preflight-204": (PREFLIGHT, 204),
    "refused-403": (Req(headers=(("Origin", "https://evil.example"),)), 403),
    "app-error": (Req(path="/boom", headers=(A,)), 500),
}


def custom(adapter: Adapter, config: bytes | str, req: Req,
           app: App | None = None) -> tuple[int, list[tuple[str, str]]]:
    middleware, spec = adapter.build(config, app)
    result = adapter.call(middleware, spec, req)
    return result.status, [(n, v) for n, v in result.headers if n.lower().startswith("x-")]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_on_every_response_in_order_as_written(adapter: Adapter, name: str) -> None:
    req, status = REQUESTS[name]
    app = App(status=500) if req.path == "/boom" else None
    assert custom(adapter, web_config(CORS, server=CUSTOM), req, app) == (
        status, [("X-One", "1"), ("X-Two", "a, B")])


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("cors", ['<cors enabled="false"><add origin="*"/></cors>', "",
                                  CORS + '<modules><remove name="CorsModule"/></modules>'])
def test_without_cors_processing_too(adapter: Adapter, cors: str) -> None:
    """Contract B1 and D1: customHeaders belong to another IIS module and still apply."""
    status, headers = custom(adapter, web_config(cors, server=CUSTOM), PREFLIGHT)
    assert (status, headers) == (200, [("X-One", "1"), ("X-Two", "a, B")])


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_app_header_of_the_same_name_is_kept_and_ours_added(adapter: Adapter) -> None:
    app = App(headers=[("X-One", "from-app")])
    headers = custom(adapter, web_config(server=CUSTOM), Req(), app)[1]
    assert [(n.lower(), v) for n, v in headers] == [
        ("x-one", "from-app"), ("x-one", "1"), ("x-two", "a, B")]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_location_scoping_with_remove_and_clear(adapter: Adapter) -> None:
    config = web_config(server=CUSTOM, outside=(
        '<location path="a"><system.webServer><httpProtocol><customHeaders>'
        '<remove name="x-one"/><add name="X-Three" value="3"/></customHeaders></httpProtocol>'
        "</system.webServer></location>"
        '<location path="a/b"><system.webServer><httpProtocol><customHeaders><clear/>'
        '<add name="X-Four" value="4"/></customHeaders></httpProtocol></system.webServer>'
        "</location>"))
    assert custom(adapter, config, Req(path="/x"))[1] == [("X-One", "1"), ("X-Two", "a, B")]
    assert custom(adapter, config, Req(path="/A/x"))[1] == [("X-Two", "a, B"), ("X-Three", "3")]
    assert custom(adapter, config, Req(path="/a/b/c"))[1] == [("X-Four", "4")]
    assert custom(adapter, config, Req(path="/ab"))[1] == [("X-One", "1"), ("X-Two", "a, B")]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_sub_directory_files_of_a_site(adapter: Adapter, tmp_path: Path) -> None:
    (tmp_path / "web.config").write_bytes(web_config(server=CUSTOM))
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "web.config").write_bytes(web_config(
        '<httpProtocol><customHeaders><remove name="X-Two"/><add name="X-Api" value="y"/>'
        "</customHeaders></httpProtocol>"))
    assert custom(adapter, str(tmp_path), Req(path="/api/v"))[1] == [
        ("X-One", "1"), ("X-Api", "y")]
    assert custom(adapter, str(tmp_path), Req(path="/v"))[1] == [
        ("X-One", "1"), ("X-Two", "a, B")]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_with_cors_the_headers_are_duplicated_as_on_iis_and_the_validator_warns(
        adapter: Adapter) -> None:
    config = web_config(CORS, server='<httpProtocol><customHeaders>'
                        '<add name="Access-Control-Allow-Origin" value="*"/>'
                        "</customHeaders></httpProtocol>")
    middleware, spec = adapter.build(config)
    for req in (Req(headers=(A,)), PREFLIGHT):
        result = adapter.call(middleware, spec, req)
        assert result.get_all("Access-Control-Allow-Origin") == ["https://a.example", "*"]
    # ... and on the 403, where <cors> adds none, the custom one alone.
    refused = adapter.call(middleware, spec, REQUESTS["refused-403"][0])
    assert (refused.status, refused.get_all("Access-Control-Allow-Origin")) == (403, ["*"])
    assert "W220" in {d.code for d in check_config(config)}
