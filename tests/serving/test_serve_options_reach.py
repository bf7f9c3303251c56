"""Options of ``iiscors serve`` reach every part that reads a web.config (the middleware and the
static site's own ``<staticContent>`` reads), not only the middleware."""

from __future__ import annotations

from pathlib import Path

from iiscors.serving.app import build
from iiscors.serving.static import StaticSite


def test_max_bytes_reaches_the_static_site(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_text("<configuration/>", encoding="utf-8")
    middleware, _ = build(None, str(tmp_path), None, None, max_bytes=4096, reload=False)
    site = middleware.app
    assert isinstance(site, StaticSite)
    assert site._settings.max_bytes == 4096
