"""What the ``iiscors serve`` load sends and expects (issue 12): a static site for ``--root``
and the requests to it, and the requests to ``--proxy`` in front of :mod:`loadtesting.backend`.

Both use issue 7's web.config (:data:`loadtesting.mix.WEB_CONFIG`: ``https://*.contoso.com``
with credentials, failUnlistedOrigins) and a new origin on every request, so that a per-origin
cache without a bound would show as memory growth.  Only file types of IIS's default mimeMap
are served (.html, .css, .js, .txt, .png).
"""

from __future__ import annotations

from pathlib import Path

from loadtesting.backend import MISSING_PREFIX, answer_body
from loadtesting.mix import WEB_CONFIG, Planned, http_head

#: The static site: path below the root -> content.
SITE_FILES: dict[str, bytes] = {
    "index.html": b"<!doctype html>\n<title>iiscors load test</title>\n<p>static site</p>\n",
    "css/site.css": b"body { font-family: sans-serif; }\n" * 40,
    "js/app.js": b"fetch('/data/report.txt').then(r => r.text());\n" * 20,
    "images/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "data/report.txt": b"".join(b"line %05d of the report\n" % i for i in range(2700)),
}
#: The body of the POST through the proxy (echoed by the backend).
POST_BODY = b"x" * 1000

PREFLIGHT = (("Access-Control-Request-Method", "POST"),
             ("Access-Control-Request-Headers", "content-type"))
UNLISTED_PREFLIGHT = (("Access-Control-Request-Method", "PUT"),)


def write_site(root: Path) -> None:
    """:data:`SITE_FILES` and the web.config, under ``root``."""
    (root / "web.config").write_bytes(WEB_CONFIG)
    for name, content in SITE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def allowed(n: int) -> str:
    return f"https://u{n}.contoso.com"


def unlisted(n: int) -> str:
    return f"https://u{n}.evil.example"


def malformed(n: int) -> str:
    return f"https://u{n}.contoso.com.evil.example/p?{n}"  # not a serialized origin (B6)


def _get(path: str, origin: str | None, *extra: tuple[str, str]) -> bytes:
    return http_head("GET", path, [*([] if origin is None else [("Origin", origin)]), *extra])


def root_plan(n: int) -> Planned:
    """The n-th request to ``serve --root``: files with and without CORS, 403s, a 404."""
    kind = n % 8
    if kind == 0:
        return Planned("file-allowed", _get("/index.html", allowed(n)), (200,), allowed(n),
                       SITE_FILES["index.html"])
    if kind == 1:
        head = http_head("OPTIONS", "/data/report.txt", [("Origin", allowed(n)), *PREFLIGHT])
        return Planned("preflight-allowed", head, (204,), allowed(n))
    if kind == 2:
        return Planned("file-unlisted", _get("/css/site.css", unlisted(n)), (403,), None)
    if kind == 3:
        return Planned("file-no-origin", _get("/js/app.js", None), (200,), None,
                       SITE_FILES["js/app.js"])
    if kind == 4:
        return Planned("large-file-allowed", _get("/data/report.txt", allowed(n)), (200,),
                       allowed(n), SITE_FILES["data/report.txt"])
    if kind == 5:
        return Planned("missing-allowed", _get(f"/missing-{n}.txt", allowed(n)), (404,),
                       allowed(n))
    if kind == 6:
        head = http_head("OPTIONS", "/index.html", [("Origin", unlisted(n)), *UNLISTED_PREFLIGHT])
        return Planned("preflight-unlisted", head, (403,), None)
    return Planned("image-malformed-origin", _get("/images/logo.png", malformed(n)), (403,), None)


def proxy_plan(n: int) -> Planned:
    """The n-th request to ``serve --proxy``: forwarded GETs and POSTs, 403s, a backend 404."""
    kind = n % 8
    path = f"/api/items?n={n}"
    if kind == 0:
        return Planned("get-allowed", _get(path, allowed(n)), (200,), allowed(n),
                       answer_body(path))
    if kind == 1:
        head = http_head("OPTIONS", "/api/items", [("Origin", allowed(n)), *PREFLIGHT])
        return Planned("preflight-allowed", head, (204,), allowed(n))
    if kind == 2:
        return Planned("get-unlisted", _get(path, unlisted(n)), (403,), None)
    if kind == 3:
        return Planned("get-no-origin", _get(path, None), (200,), None, answer_body(path))
    if kind == 4:
        head = http_head("POST", "/api/echo", [
            ("Origin", allowed(n)), ("Content-Type", "text/plain"),
            ("Content-Length", str(len(POST_BODY)))])
        return Planned("post-allowed", head, (200,), allowed(n), expect_body=POST_BODY,
                       request_body=POST_BODY)
    if kind == 5:
        head = http_head("OPTIONS", "/api/items", [("Origin", unlisted(n)), *UNLISTED_PREFLIGHT])
        return Planned("preflight-unlisted", head, (403,), None)
    if kind == 6:
        return Planned("backend-404-allowed", _get(f"{MISSING_PREFIX}/{n}", allowed(n)), (404,),
                       allowed(n))
    return Planned("get-malformed-origin", _get(path, malformed(n)), (403,), None)
