"""One site model (contract E1): every entry point that takes a directory builds the same site.

The WSGI and ASGI middleware, ``serve --root`` (:func:`iiscors.serving.app.build`), ``validate``
and ``explain`` all load a directory with :func:`iiscors.config.site.analyse_site`; these tests
hold them to the same levels, the same effective sections and the same diagnostics.
"""

from __future__ import annotations

from pathlib import Path

from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.config.site import analyse_site
from iiscors.serving.app import build
from iiscors.wsgi import CorsMiddleware

ROOT = """<configuration><system.webServer>
  <cors enabled="true"><add origin="https://www.contoso.com" /></cors>
  <httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders></httpProtocol>
</system.webServer>
<location path="api/v2"><system.webServer><cors failUnlistedOrigins="true" /></system.webServer>
</location></configuration>
"""
API = """<configuration><system.webServer>
  <cors><add origin="https://partner.fabrikam.com" /></cors>
</system.webServer></configuration>
"""


def app(environ: object, start_response: object) -> list[bytes]:
    return [b""]


async def asgi_app(scope: object, receive: object, send: object) -> None:
    return None


def test_every_entry_point_builds_the_same_site(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "web.config").write_text(ROOT, encoding="utf-8")
    (tmp_path / "api" / "web.config").write_text(API, encoding="utf-8")
    loaded = analyse_site(tmp_path).config
    assert loaded is not None
    built = [CorsMiddleware(app, str(tmp_path), reload=False).config,
             AsgiCorsMiddleware(asgi_app, str(tmp_path), reload=False).config,
             build(None, str(tmp_path), None, None, reload=False)[0].config]
    for config in built:
        assert config.levels == loaded.levels
        assert config.scopes == loaded.scopes
        assert config.diagnostics == loaded.diagnostics
    # Both files count, merged as A9 says: /api/v2 has both origins and the root's header.
    section = loaded.section_for("/api/v2/x")
    assert [rule.origin for rule in section.rules] == ["https://www.contoso.com",
                                                        "https://partner.fabrikam.com"]
    assert section.fail_unlisted_origins and section.custom_headers == (("X-Site", "1"),)
