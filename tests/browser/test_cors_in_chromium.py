"""A real browser decides: iiscors behind loopback servers, judged by headless Chromium.

Each case is a web.config, a page origin and one ``fetch()``; the expectation is what the
BROWSER concludes (the script reads the body and exactly the headers CORS lets it read, or
the fetch is blocked for Chromium's own stated reason) plus what the servers saw: whether a
preflight reached the server and how it was answered, and whether the actual request reached
the app. The server-side half is what keeps a crash from ever passing as "blocked".

Placeholders in configs, page URLs and API bases: ``{pp}`` page port, ``{ap}`` API port,
``{page}`` the page's origin. Host names under ``contoso.test`` / ``microsoft.test`` resolve to
127.0.0.1 through ``--host-resolver-rules``; there is no TLS, so the reference's
``https://*.microsoft.com`` becomes ``http://*.microsoft.test:{pp}``.

Chromium names its reasons with the DevTools ``CorsError`` enum (for example
``PreflightMissingAllowOriginHeader``); a case pins the reason it expects, so a case that is
blocked for another reason than the one it is about fails and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from ._cdp import Page
from ._harness import FetchOutcome, FetchSpec, run_fetch
from ._servers import ApiServer, PageServer, Seen, require_authorization
from ._verdict import Fetch, assert_agrees, predict

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

LOOPBACK_PAGE = "http://127.0.0.1:{pp}/"
LOOPBACK_API = "http://127.0.0.1:{ap}"
COOKIE = ("session", "s3cret")


def web_config(system_web_server: str) -> str:
    """A whole web.config around the inside of ``<system.webServer>``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.webServer>\n'
        f"{system_web_server}\n  </system.webServer>\n</configuration>\n"
    )


def cors(rules: str, attributes: str = 'enabled="true"') -> str:
    return web_config(f"    <cors {attributes}>\n{rules}\n    </cors>")


@dataclass(frozen=True)
class Case:
    """One browser scenario and everything it must conclude.

    ``preflight`` and ``actual`` are the statuses the API server answered, in order, for
    the preflights (OPTIONS with Access-Control-Request-Method) and for all other requests
    that reached it; an empty tuple means none reached it. ``app`` lists the methods that
    reached the application inside the middleware.
    """

    id: str
    config: str
    allowed: bool
    preflight: tuple[int, ...]
    actual: tuple[int, ...]
    app: tuple[str, ...]
    page: str = LOOPBACK_PAGE
    api: str = LOOPBACK_API
    path: str = "/api/data"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    credentials: str = "same-origin"
    cookie: bool = False
    auth_layer: bool = False
    fetches: int = 1
    # Allowed cases: the status the script reads, headers it must read (with their value),
    # headers it must NOT be able to read, and substrings of the body it reads.
    status: int = 200
    readable: Mapping[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    body_has: tuple[str, ...] = ()
    # Blocked cases: the start of Chromium's corsError, e.g. "MissingAllowOriginHeader".
    cors_error: str | None = None
    # The Access-Control-Request-Headers value the preflight must have carried.
    request_headers_sent: str | None = None
    # Keyword arguments for CorsMiddleware (e.g. exempt_same_origin).
    options: Mapping[str, bool] = field(default_factory=dict)


def param(case: Case, *marks: pytest.MarkDecorator) -> object:
    return pytest.param(case, id=case.id, marks=marks)


ALLOWED_PAGE = "http://allowed.contoso.test:{pp}"
ONLY_OTHER_ORIGIN = cors(f'      <add origin="{ALLOWED_PAGE}" />')
ONLY_PAGE = cors('      <add origin="{page}" />')

# The reference's mixed sample (Microsoft's configuration reference), adapted to loopback:
# https://*.microsoft.com → http://*.microsoft.test:{pp}. Contract B4: the most specific
# rule wins whatever its `allowed`, so every http origin the wildcard-subdomain rule does not
# cover falls to `http://*` (denied, 403 with failUnlistedOrigins), never to `*`.
MIXED_SAMPLE = cors(
    """      <add origin="*" />
      <add origin="http://*.microsoft.test:{pp}" allowCredentials="true" maxAge="120">
        <allowHeaders allowAllRequestedHeaders="true">
          <add header="header1" />
          <add header="header2" />
        </allowHeaders>
        <allowMethods>
          <add method="DELETE" />
        </allowMethods>
        <exposeHeaders>
          <add header="header1" />
          <add header="header2" />
        </exposeHeaders>
      </add>
      <add origin="http://*" allowed="false" />""",
    'enabled="true" failUnlistedOrigins="true"',
)

# Contract A9: the root allows one origin; <location path="api"> appends the page's origin
# (inheriting enabled), and api/admin removes it again and turns on failUnlistedOrigins.
LOCATION_SCOPED = (
    '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
    "  <system.webServer>\n"
    f'    <cors enabled="true"><add origin="{ALLOWED_PAGE}" /></cors>\n'
    "  </system.webServer>\n"
    '  <location path="api">\n    <system.webServer>\n'
    '      <cors><add origin="{page}" /></cors>\n'
    "    </system.webServer>\n  </location>\n"
    '  <location path="api/admin">\n    <system.webServer>\n'
    '      <cors failUnlistedOrigins="true"><remove origin="{page}" /></cors>\n'
    "    </system.webServer>\n  </location>\n"
    "</configuration>\n"
)

PUT_ONLY = cors(
    '      <add origin="{page}">\n'
    '        <allowMethods><add method="PUT" /></allowMethods>\n'
    "      </add>"
)

CASES: list[object] = [
    # -- simple requests (no preflight): contract B9 / B7 --------------------------------
    param(
        Case(
            id="simple-GET/listed-origin/allowed",
            config=ONLY_PAGE,
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            hidden=("X-Exposed", "X-Secret"),
            readable={"Content-Type": "application/json"},
            body_has=('"method": "GET"',),
        )
    ),
    param(
        Case(
            id="simple-GET/unlisted-origin/blocked-but-app-ran",
            config=ONLY_OTHER_ORIGIN,
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="simple-POST/listed-origin/allowed",
            config=ONLY_PAGE,
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("POST",),
            method="POST",
            headers={"Content-Type": "text/plain"},
            body="hello iis",
            body_has=('"method": "POST"', '"body": "hello iis"'),
        )
    ),
    param(
        Case(
            # CORS protects the read, not the write: the POST ran in the app all the same.
            id="simple-POST/unlisted-origin/blocked-but-app-ran",
            config=ONLY_OTHER_ORIGIN,
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("POST",),
            method="POST",
            headers={"Content-Type": "text/plain"},
            body="hello iis",
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="simple-GET/wildcard-subdomain-origin/allowed",
            config=cors('      <add origin="http://*.contoso.test:{pp}" />'),
            page="http://app.contoso.test:{pp}/",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    param(
        Case(
            # B5: a host wildcard covers one or more labels.
            id="simple-GET/wildcard-subdomain-two-labels-deep/allowed",
            config=cors('      <add origin="http://*.contoso.test:{pp}" />'),
            page="http://a.b.contoso.test:{pp}/",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    # -- preflighted methods: contract B8 ------------------------------------------------
    param(
        Case(
            id="preflight-PUT/method-listed/allowed",
            config=PUT_ONLY,
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("PUT",),
            method="PUT",
            headers={"Content-Type": "text/plain"},
            body="put body",
            body_has=('"method": "PUT"', '"body": "put body"'),
        )
    ),
    param(
        Case(
            # B8: the middleware does not check the method; it answers 204 with its list and the
            # browser refuses. The PUT never reaches the app.
            id="preflight-PUT/only-DELETE-listed/blocked-by-browser",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowMethods><add method="DELETE" /></allowMethods>\n'
                "      </add>"
            ),
            allowed=False,
            preflight=(204,),
            actual=(),
            app=(),
            method="PUT",
            cors_error="MethodDisallowedByPreflightResponse",
        )
    ),
    param(
        Case(
            # B7: failUnlistedOrigins is false, so the preflight goes on to the app, which
            # answers it without any CORS header.
            id="preflight-PUT/unlisted-origin/preflight-reaches-app",
            config=ONLY_OTHER_ORIGIN,
            allowed=False,
            preflight=(200,),
            actual=(),
            app=("OPTIONS",),
            method="PUT",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
    # -- custom request headers: contract B8 / B14 ---------------------------------------
    param(
        Case(
            id="custom-header/no-allowHeaders/blocked-by-browser",
            config=ONLY_PAGE,
            allowed=False,
            preflight=(204,),
            actual=(),
            app=(),
            headers={"X-Custom": "1"},
            cors_error="HeaderDisallowedByPreflightResponse",
            request_headers_sent="x-custom",
        )
    ),
    param(
        Case(
            id="custom-header/other-header-listed/blocked-by-browser",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders><add header="X-Other" /></allowHeaders>\n'
                "      </add>"
            ),
            allowed=False,
            preflight=(204,),
            actual=(),
            app=(),
            headers={"X-Custom": "1"},
            cors_error="HeaderDisallowedByPreflightResponse",
        )
    ),
    param(
        Case(
            id="custom-header/listed/allowed",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders><add header="X-Custom" /></allowHeaders>\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("GET",),
            headers={"X-Custom": "1"},
        )
    ),
    param(
        Case(
            # Chromium sends Access-Control-Request-Headers lower-cased and sorted; the
            # middleware echoes it as sent.
            id="custom-header/allowAllRequestedHeaders/allowed",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders allowAllRequestedHeaders="true" />\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("GET",),
            headers={"X-Zeta": "z", "X-Alpha": "a"},
            request_headers_sent="x-alpha,x-zeta",
        )
    ),
    # -- credentials: contract B8 / B9 / B10 ---------------------------------------------
    param(
        Case(
            # Page and API both on 127.0.0.1 (same site, different ports), so the SameSite=Lax
            # cookie goes with a credentialed fetch.
            id="credentials/specific-origin/cookie-sent-and-response-readable",
            config=cors('      <add origin="{page}" allowCredentials="true" />'),
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            credentials="include",
            cookie=True,
            body_has=('"cookie": "session=s3cret"',),
        )
    ),
    param(
        Case(
            # B10: a *-only rule answers "*" even with allowCredentials, as IIS does; the browser
            # refuses a wildcard on a credentialed request.
            id="credentials/star-only-rule/blocked-by-browser",
            config=cors('      <add origin="*" allowCredentials="true" />'),
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            credentials="include",
            cookie=True,
            cors_error="WildcardOriginNotAllowed",
        )
    ),
    param(
        Case(
            id="credentials/specific-origin-without-allowCredentials/blocked",
            config=ONLY_PAGE,
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            credentials="include",
            cookie=True,
            cors_error="InvalidAllowCredentials",
        )
    ),
    param(
        Case(
            id="no-credentials/star-only-rule/allowed",
            config=cors('      <add origin="*" />'),
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            credentials="omit",
            cookie=True,
            body_has=('"cookie": null',),
        )
    ),
    # -- exposeHeaders: contract B9 ------------------------------------------------------
    param(
        Case(
            id="exposeHeaders/listed-readable-others-not",
            config=cors(
                '      <add origin="{page}">\n'
                '        <exposeHeaders><add header="X-Exposed" /></exposeHeaders>\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            readable={"X-Exposed": "exposed-value"},
            hidden=("X-Secret", "header1"),
        )
    ),
    param(
        Case(
            id="exposeHeaders/none-listed/nothing-extra-readable",
            config=ONLY_PAGE,
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            hidden=("X-Exposed", "X-Secret"),
        )
    ),
    # -- failUnlistedOrigins: contract B7 ------------------------------------------------
    param(
        Case(
            id="failUnlistedOrigins/simple-GET-unlisted/403-app-not-called",
            config=cors(
                f'      <add origin="{ALLOWED_PAGE}" />',
                'enabled="true" failUnlistedOrigins="true"',
            ),
            allowed=False,
            preflight=(),
            actual=(403,),
            app=(),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="failUnlistedOrigins/preflight-unlisted/403-app-not-called",
            config=cors(
                f'      <add origin="{ALLOWED_PAGE}" />',
                'enabled="true" failUnlistedOrigins="true"',
            ),
            allowed=False,
            preflight=(403,),
            actual=(),
            app=(),
            method="PUT",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="failUnlistedOrigins/listed-origin/allowed",
            config=cors(
                f'      <add origin="{ALLOWED_PAGE}" />',
                'enabled="true" failUnlistedOrigins="true"',
            ),
            page=ALLOWED_PAGE + "/",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    # -- the reference's mixed sample: contract B4 / B5 ----------------------------------
    param(
        Case(
            id="mixed-sample/wildcard-subdomain/DELETE-credentials-exposed-headers",
            config=MIXED_SAMPLE,
            page="http://www.microsoft.test:{pp}/",
            api="http://api.microsoft.test:{ap}",
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("DELETE",),
            method="DELETE",
            headers={"header1": "h"},
            credentials="include",
            cookie=True,
            readable={"header1": "one", "header2": "two"},
            hidden=("X-Secret",),
            body_has=('"cookie": "session=s3cret"',),
            request_headers_sent="header1",
        )
    ),
    param(
        Case(
            id="mixed-sample/apex-not-covered-by-wildcard/http-star-denied-403",
            config=MIXED_SAMPLE,
            page="http://microsoft.test:{pp}/",
            allowed=False,
            preflight=(),
            actual=(403,),
            app=(),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="mixed-sample/plain-http-origin/http-star-beats-star-403",
            config=MIXED_SAMPLE,
            allowed=False,
            preflight=(),
            actual=(403,),
            app=(),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="mixed-sample/http-origin-preflight/403",
            config=MIXED_SAMPLE,
            allowed=False,
            preflight=(403,),
            actual=(),
            app=(),
            method="DELETE",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            # A CSP-sandboxed page has an opaque origin and sends "Origin: null"; only the bare
            # `*` matches it (B5), and with other rules present the origin is echoed (B10).
            id="mixed-sample/null-origin/star-rule-allows",
            config=MIXED_SAMPLE,
            page="http://127.0.0.1:{pp}/sandboxed",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
            hidden=("header1", "X-Secret"),
        )
    ),
    # -- allowed="false" beats a wildcard: contract B4 -----------------------------------
    param(
        Case(
            id="allowed-false/exact-denial-beats-star",
            config=cors('      <add origin="*" />\n      <add origin="{page}" allowed="false" />'),
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="allowed-false/other-origin-still-allowed-by-star",
            config=cors(
                '      <add origin="*" />\n'
                '      <add origin="http://127.0.0.1:{pp}" allowed="false" />'
            ),
            page="http://localhost:{pp}/",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    param(
        Case(
            id="allowed-false/exact-denial-beats-host-wildcard",
            config=cors(
                '      <add origin="http://evil.contoso.test:{pp}" allowed="false" />\n'
                '      <add origin="http://*.contoso.test:{pp}" />'
            ),
            page="http://evil.contoso.test:{pp}/",
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="allowed-false/sibling-of-denied-host-allowed",
            config=cors(
                '      <add origin="http://evil.contoso.test:{pp}" allowed="false" />\n'
                '      <add origin="http://*.contoso.test:{pp}" />'
            ),
            page="http://app.contoso.test:{pp}/",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    # -- <location path> scoping: contract A9 --------------------------------------------
    param(
        Case(
            id="location/api-adds-page-origin/allowed",
            config=LOCATION_SCOPED,
            path="/api/data",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    param(
        Case(
            id="location/path-compared-case-insensitively/allowed",
            config=LOCATION_SCOPED,
            path="/API/data",
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("GET",),
        )
    ),
    param(
        Case(
            id="location/outside-api-root-rules-only/blocked",
            config=LOCATION_SCOPED,
            path="/public/data",
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="location/apix-is-not-under-api/blocked",
            config=LOCATION_SCOPED,
            path="/apix/data",
            allowed=False,
            preflight=(),
            actual=(200,),
            app=("GET",),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="location/api-admin-removes-origin-and-fails-unlisted/403",
            config=LOCATION_SCOPED,
            path="/api/admin/users",
            allowed=False,
            preflight=(),
            actual=(403,),
            app=(),
            cors_error="MissingAllowOriginHeader",
        )
    ),
    # -- maxAge: contract B8 (Access-Control-Max-Age) ------------------------------------
    param(
        Case(
            # Two PUTs in one page: the second is served from Chromium's preflight cache.
            id="maxAge/600/second-request-sends-no-preflight",
            config=cors(
                '      <add origin="{page}" maxAge="600">\n'
                '        <allowMethods><add method="PUT" /></allowMethods>\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(204,),
            actual=(200, 200),
            app=("PUT", "PUT"),
            method="PUT",
            fetches=2,
        )
    ),
    param(
        Case(
            # The control: Max-Age 0 forbids caching (without the header Chromium would cache
            # for 5 s), so both PUTs are preflighted. Proves the case above can fail.
            id="maxAge/0/every-request-preflighted",
            config=cors(
                '      <add origin="{page}" maxAge="0">\n'
                '        <allowMethods><add method="PUT" /></allowMethods>\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(204, 204),
            actual=(200, 200),
            app=("PUT", "PUT"),
            method="PUT",
            fetches=2,
        )
    ),
    # -- the field report R-ABHITH: a JSON POST needs content-type allowed ---------------
    param(
        Case(
            # Reference §3: with origin="*" and no allowHeaders, Chrome rejected content-type
            # in the preflight response; the module had answered 204, not 403.
            id="JSON-POST/star-without-allowHeaders/content-type-rejected",
            config=cors('      <add origin="*" />', 'enabled="true" failUnlistedOrigins="true"'),
            allowed=False,
            preflight=(204,),
            actual=(),
            app=(),
            method="POST",
            headers={"Content-Type": "application/json"},
            body='{"a": 1}',
            cors_error="HeaderDisallowedByPreflightResponse",
            request_headers_sent="content-type",
        )
    ),
    param(
        Case(
            id="JSON-POST/star-with-allowAllRequestedHeaders/allowed",
            config=cors(
                '      <add origin="*">\n'
                '        <allowHeaders allowAllRequestedHeaders="true" />\n'
                "      </add>",
                'enabled="true" failUnlistedOrigins="true"',
            ),
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("POST",),
            method="POST",
            headers={"Content-Type": "application/json"},
            body='{"a": 1}',
            body_has=('"body": "{\\"a\\": 1}"',),
        )
    ),
    # -- <add header="*"/>: emitted literally (reference open question 23); the BROWSER
    # -- treats it as a wildcard, but only on requests without credentials. (The Fetch
    # -- standard also excludes Authorization from it; Chromium 156 only warns: the case
    # -- F1/allowHeaders-star/Authorization pins that departure.) -------------------------
    param(
        Case(
            id="allowHeaders-star/custom-header/browser-wildcard-allows",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders><add header="*" /></allowHeaders>\n'
                "      </add>"
            ),
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("GET",),
            headers={"X-Custom": "1"},
        )
    ),
    param(
        Case(
            id="allowHeaders-star/credentialed-request-star-is-literal/blocked",
            config=cors(
                '      <add origin="{page}" allowCredentials="true">\n'
                '        <allowHeaders><add header="*" /></allowHeaders>\n'
                "      </add>"
            ),
            allowed=False,
            preflight=(204,),
            actual=(),
            app=(),
            headers={"X-Custom": "1"},
            credentials="include",
            cors_error="HeaderDisallowedByPreflightResponse",
        )
    ),
    # -- CORS switched off: contract B1 / D1 --------------------------------------------
    param(
        Case(
            id="cors-enabled-false/preflight-reaches-app/blocked",
            config=cors('      <add origin="{page}" />', 'enabled="false"'),
            allowed=False,
            preflight=(200,),
            actual=(),
            app=("OPTIONS",),
            method="PUT",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
    param(
        Case(
            id="modules-remove-CorsModule/preflight-reaches-app/blocked",
            config=web_config(
                '    <modules><remove name="CorsModule" /></modules>\n'
                '    <cors enabled="true"><add origin="{page}" /></cors>'
            ),
            allowed=False,
            preflight=(200,),
            actual=(),
            app=("OPTIONS",),
            method="PUT",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
    # -- same-origin requests: contract B13 ---------------------------------------------
    param(
        Case(
            # The page is served by the API origin itself; Chromium still sends Origin on
            # its own POST, so failUnlistedOrigins answers 403 to the site's own form post.
            # Same-origin, so the script reads the 403 (no CORS check applies).
            id="same-origin-POST/failUnlisted-without-own-origin/403",
            config=cors(
                f'      <add origin="{ALLOWED_PAGE}" />',
                'enabled="true" failUnlistedOrigins="true"',
            ),
            page="http://127.0.0.1:{ap}/page.html",
            allowed=True,
            status=403,
            preflight=(),
            actual=(403,),
            app=(),
            method="POST",
            headers={"Content-Type": "text/plain"},
            body="own form",
        )
    ),
    param(
        Case(
            id="same-origin-POST/failUnlisted-with-exempt_same_origin/allowed",
            config=cors(
                f'      <add origin="{ALLOWED_PAGE}" />',
                'enabled="true" failUnlistedOrigins="true"',
            ),
            page="http://127.0.0.1:{ap}/page.html",
            options={"exempt_same_origin": True},
            allowed=True,
            preflight=(),
            actual=(200,),
            app=("POST",),
            method="POST",
            headers={"Content-Type": "text/plain"},
            body="own form",
            body_has=('"body": "own form"',),
        )
    ),
    # -- an authentication layer inside the middleware: contract B8 / B9 ----------------
    param(
        Case(
            id="auth-layer/simple-GET-unauthenticated/401-readable-by-script",
            config=ONLY_PAGE,
            auth_layer=True,
            allowed=True,
            status=401,
            preflight=(),
            actual=(401,),
            app=(),
            body_has=("authentication required",),
        )
    ),
    param(
        Case(
            # The preflight is answered before authentication (204), the actual request gets
            # the auth layer's 401 with CORS headers, so the script sees the 401.
            id="auth-layer/preflight-204-then-401-readable",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders><add header="X-Custom" /></allowHeaders>\n'
                "      </add>"
            ),
            auth_layer=True,
            allowed=True,
            status=401,
            preflight=(204,),
            actual=(401,),
            app=(),
            headers={"X-Custom": "1"},
        )
    ),
    param(
        Case(
            id="auth-layer/authorized-request/reaches-app",
            config=cors(
                '      <add origin="{page}">\n'
                '        <allowHeaders><add header="Authorization" /></allowHeaders>\n'
                "      </add>"
            ),
            auth_layer=True,
            allowed=True,
            preflight=(204,),
            actual=(200,),
            app=("GET",),
            headers={"Authorization": "Bearer t0ken"},
            body_has=('"authorization": "Bearer t0ken"',),
        )
    ),
    param(
        Case(
            # B7: an unlisted origin's preflight is not the middleware's to answer; it goes on
            # and meets the auth layer, exactly as on IIS with Windows authentication.
            id="auth-layer/unlisted-origin-preflight-meets-401",
            config=ONLY_OTHER_ORIGIN,
            auth_layer=True,
            allowed=False,
            preflight=(401,),
            actual=(),
            app=(),
            method="PUT",
            cors_error="PreflightMissingAllowOriginHeader",
        )
    ),
]

# Contract C1: httpProtocol/customHeaders are added to every response, the middleware's own
# 204 included, so a site that sets Access-Control-Allow-Origin there AND enables <cors>
# sends two values and the browser rejects them, as it does on IIS.
CUSTOM_ACAO = (
    "    <httpProtocol>\n      <customHeaders>\n"
    '        <add name="Access-Control-Allow-Origin" value="*" />\n'
    "      </customHeaders>\n    </httpProtocol>\n"
)
CUSTOM_HEADER_CASES: list[Case] = [
    Case(
        id="customHeaders/alone/star-allows",
        config=web_config(CUSTOM_ACAO),
        allowed=True,
        preflight=(),
        actual=(200,),
        app=("GET",),
    ),
    Case(
        id="customHeaders+cors/actual-duplicate-ACAO/blocked-by-browser",
        config=web_config(CUSTOM_ACAO + '    <cors enabled="true"><add origin="{page}" /></cors>'),
        allowed=False,
        preflight=(),
        actual=(200,),
        app=("GET",),
        cors_error="MultipleAllowOriginValues",
    ),
    Case(
        id="customHeaders+cors/preflight-duplicate-ACAO/blocked-by-browser",
        config=web_config(
            CUSTOM_ACAO + '    <cors enabled="true"><add origin="{page}">'
            '<allowMethods><add method="PUT" /></allowMethods></add></cors>'
        ),
        allowed=False,
        preflight=(204,),
        actual=(),
        app=(),
        method="PUT",
        cors_error="PreflightMultipleAllowOriginValues",
    ),
]


def custom_headers(*pairs: tuple[str, str]) -> str:
    adds = "".join(f'        <add name="{name}" value="{value}" />\n' for name, value in pairs)
    return f"    <httpProtocol>\n      <customHeaders>\n{adds}      </customHeaders>\n" \
        "    </httpProtocol>\n"


#: Contract C2: URL Rewrite's rule that answers OPTIONS itself, as real sites write it.
OPTIONS_RECIPE = """    <rewrite>
      <rules>
        <rule name="CORS Preflight" stopProcessing="true">
          <match url=".*" />
          <conditions>
            <add input="{{REQUEST_METHOD}}" pattern="^OPTIONS$" />
          </conditions>
          <action type="CustomResponse" statusCode="200" statusReason="OK"
                  statusDescription="OK" />
        </rule>
      </rules>
    </rewrite>
"""


# Contract F1: scenarios for the checks of the browser's verdict that the cases above do not
# reach. Every case of this file is checked against the verdict (see agree()); these add the
# remaining Fetch checks, each pinned to Chromium's own reason.
VERDICT_CASES: list[Case] = [
    Case(
        # The standard never lets `*` cover Authorization; Chromium 156 still does (it only
        # warns). The verdict says both: blocked by the standard, allowed by Chromium.
        id="F1/allowHeaders-star/Authorization-chromium-departure",
        config=cors('      <add origin="{page}">\n'
                    '        <allowHeaders><add header="*" /></allowHeaders>\n      </add>'),
        allowed=True, preflight=(204,), actual=(200,), app=("GET",),
        headers={"Authorization": "Bearer t0ken"}, credentials="omit",
        request_headers_sent="authorization",
    ),
    Case(
        # customHeaders alone (the field's recipe, C2) and the app answers the preflight: an
        # authentication layer's 401 is not an ok status.
        id="F1/customHeaders-only/preflight-401/PreflightInvalidStatus",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "*"),
                                         ("Access-Control-Allow-Methods", "PUT"))),
        auth_layer=True, allowed=False, preflight=(401,), actual=(), app=(), method="PUT",
        cors_error="PreflightInvalidStatus",
    ),
    Case(
        id="F1/customHeaders-only/preflight-200-from-app/allowed",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "*"),
                                         ("Access-Control-Allow-Methods", "PUT"))),
        allowed=True, preflight=(200,), actual=(200,), app=("OPTIONS", "PUT"), method="PUT",
    ),
    Case(
        # C2: customHeaders and URL Rewrite's OPTIONS recipe, the field's whole recipe. The
        # rule answers the preflight 200 before the authentication layer (which would 401 it,
        # as in the case above) and the app; the PUT itself carries Authorization.
        id="C2/customHeaders+rewrite-recipe/preflight-200-before-auth/allowed",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "*"),
                                         ("Access-Control-Allow-Methods", "PUT"),
                                         ("Access-Control-Allow-Headers", "Authorization"))
                          + OPTIONS_RECIPE),
        auth_layer=True, allowed=True, preflight=(200,), actual=(200,), app=("PUT",),
        method="PUT", headers={"Authorization": "Bearer t0ken"}, credentials="omit",
        request_headers_sent="authorization",
    ),
    Case(
        # C2: the rule answers, but customHeaders do not list the method: blocked by the
        # browser, for the reason explain gives.
        id="C2/customHeaders+rewrite-recipe/method-not-listed/MethodDisallowed",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "*")) + OPTIONS_RECIPE),
        allowed=False, preflight=(200,), actual=(), app=(), method="PUT",
        cors_error="MethodDisallowedByPreflightResponse",
    ),
    Case(
        id="F1/star-rule-with-credentials/preflight/PreflightWildcardOriginNotAllowed",
        config=cors('      <add origin="*" allowCredentials="true">\n'
                    '        <allowMethods><add method="PUT" /></allowMethods>\n      </add>'),
        allowed=False, preflight=(204,), actual=(), app=(), method="PUT",
        credentials="include", cors_error="PreflightWildcardOriginNotAllowed",
    ),
    Case(
        id="F1/include-without-allowCredentials/preflight/PreflightInvalidAllowCredentials",
        config=PUT_ONLY, allowed=False, preflight=(204,), actual=(), app=(), method="PUT",
        credentials="include", cors_error="PreflightInvalidAllowCredentials",
    ),
    Case(
        id="F1/Accept-129-bytes/not-safelisted/HeaderDisallowed",
        config=ONLY_PAGE, allowed=False, preflight=(204,), actual=(), app=(),
        headers={"Accept": "a" * 129}, cors_error="HeaderDisallowedByPreflightResponse(accept)",
        request_headers_sent="accept",
    ),
    Case(
        id="F1/Accept-128-bytes/safelisted/no-preflight",
        config=ONLY_PAGE, allowed=True, preflight=(), actual=(200,), app=("GET",),
        headers={"Accept": "a" * 128},
    ),
    Case(
        id="F1/Range-single/safelisted/no-preflight",
        config=ONLY_PAGE, allowed=True, preflight=(), actual=(200,), app=("GET",),
        headers={"Range": "bytes=0-99"},
    ),
    Case(
        id="F1/content-type-JSON/preflighted/allowHeaders-lists-it",
        config=cors('      <add origin="{page}">\n'
                    '        <allowHeaders><add header="Content-Type" /></allowHeaders>\n'
                    "      </add>"),
        allowed=True, preflight=(204,), actual=(200,), app=("POST",), method="POST",
        headers={"Content-Type": "application/json"}, body="{}",
        request_headers_sent="content-type",
    ),
    Case(
        # fetch() upper-cases only the six standard methods: "patch" is sent as typed and
        # compared byte for byte with Allow-Methods.
        id="F1/patch-sent-lower-case/PATCH-listed/MethodDisallowed",
        config=cors('      <add origin="{page}">\n'
                    '        <allowMethods><add method="PATCH" /></allowMethods>\n      </add>'),
        allowed=False, preflight=(204,), actual=(), app=(), method="patch",
        cors_error="MethodDisallowedByPreflightResponse(patch)",
    ),
    Case(
        id="F1/allowMethods-star/without-credentials/allowed",
        config=cors('      <add origin="{page}">\n'
                    '        <allowMethods><add method="*" /></allowMethods>\n      </add>'),
        allowed=True, preflight=(204,), actual=(200,), app=("DELETE",), method="DELETE",
    ),
    Case(
        id="F1/two-custom-headers/one-listed/the-other-named",
        config=cors('      <add origin="{page}">\n'
                    '        <allowHeaders><add header="X-Alpha" /></allowHeaders>\n'
                    "      </add>"),
        allowed=False, preflight=(204,), actual=(), app=(),
        headers={"X-Alpha": "1", "X-Beta": "2"},
        cors_error="HeaderDisallowedByPreflightResponse(x-beta)",
        request_headers_sent="x-alpha,x-beta",
    ),
    Case(
        # Chromium 156 safelists client hints the standard does not: it sends no preflight.
        id="F1/client-hint-DPR/chromium-departure/no-preflight",
        config=ONLY_PAGE, allowed=True, preflight=(), actual=(200,), app=("GET",),
        headers={"DPR": "2"},
    ),
    Case(
        id="F1/client-hints-Device-Memory-Width-Viewport-Width-Intervention/no-preflight",
        config=ONLY_PAGE, allowed=True, preflight=(), actual=(200,), app=("GET",),
        headers={"Device-Memory": "8", "Width": "100", "Viewport-Width": "1024",
                 "Intervention": "x"},
    ),
    Case(
        id="F1/client-hint-Save-Data-with-custom-header/chromium-asks-about-x-custom-only",
        config=cors('      <add origin="{page}">\n'
                    '        <allowHeaders><add header="X-Custom" /></allowHeaders>\n'
                    "      </add>"),
        allowed=True, preflight=(204,), actual=(200,), app=("GET",),
        headers={"Save-Data": "on", "X-Custom": "1"}, request_headers_sent="x-custom",
    ),
    Case(
        id="F1/client-hint-DPR-not-a-number/preflighted/HeaderDisallowed",
        config=ONLY_PAGE, allowed=False, preflight=(204,), actual=(), app=(),
        headers={"DPR": "2x"}, cors_error="HeaderDisallowedByPreflightResponse(dpr)",
        request_headers_sent="dpr",
    ),
    Case(
        id="F1/customHeaders/other-origin/AllowOriginMismatch",
        config=web_config(custom_headers(("Access-Control-Allow-Origin",
                                          "http://other.contoso.test"))),
        allowed=False, preflight=(), actual=(200,), app=("GET",),
        cors_error="AllowOriginMismatch(http://other.contoso.test)",
    ),
    Case(
        id="F1/customHeaders/origin-not-a-URL/InvalidAllowOriginValue",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "contoso"))),
        allowed=False, preflight=(), actual=(200,), app=("GET",),
        cors_error="InvalidAllowOriginValue(contoso)",
    ),
    Case(
        id="F1/customHeaders/Allow-Headers-not-a-list/InvalidAllowHeaders",
        config=web_config(custom_headers(("Access-Control-Allow-Origin", "*"),
                                         ("Access-Control-Allow-Headers", "x a"))),
        allowed=False, preflight=(200,), actual=(), app=("OPTIONS",),
        headers={"X-A": "1"}, cors_error="InvalidAllowHeadersPreflightResponse",
    ),
]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_preflight(seen: Seen) -> bool:
    return seen.method == "OPTIONS" and seen.header("access-control-request-method") is not None


def _build_stack(case: Case, config: bytes, api_server: ApiServer) -> WSGIApplication:
    # Imported here so a missing or broken package fails each case with its own error
    # instead of erroring the whole module at collection.
    from iiscors import CorsMiddleware

    inner: WSGIApplication = api_server.echo_app
    if case.auth_layer:
        inner = require_authorization(inner)
    stack: WSGIApplication = CorsMiddleware(inner, config, **case.options)
    return stack


def run_case(case: Case, page: Page, page_server: PageServer, api_server: ApiServer) -> None:
    values = {"pp": str(page_server.port), "ap": str(api_server.port)}
    page_url = case.page.format(**values)
    values["page"] = _origin(page_url)
    config = case.config.format(**values)
    api_base = case.api.format(**values)

    token = api_server.install(_build_stack(case, config.encode(), api_server))
    if case.cookie:
        page.set_cookie(api_base + "/", *COOKIE)
    page.navigate(page_url)
    spec = FetchSpec(
        url=f"{api_base}{case.path}?{token}",
        method=case.method,
        headers=case.headers,
        body=case.body,
        credentials=case.credentials,
        read_headers=(*case.readable, *case.hidden),
    )
    outcomes = [run_fetch(page, spec) for _ in range(case.fetches)]
    server_saw = api_server.server_saw(token)
    check(case, outcomes, server_saw, api_server.app_saw(token), config)
    agree(case, config, values["page"], page_url, spec, outcomes, server_saw)


def agree(case: Case, config: str, page_origin: str, page_url: str, spec: FetchSpec,
          outcomes: list[FetchOutcome], server_saw: list[Seen]) -> None:
    """Contract F1: the verdict iiscors predicts is what Chromium concluded, on every case."""
    if urlsplit(page_url).path == "/sandboxed":
        page_origin = "null"  # an opaque origin: fetch() sends Origin: null
    # The app's status for a preflight the middleware let through (the app's behaviour, an
    # input of the prediction like `explain --app-status`); the middleware's own 204/403 are
    # in its decisions.
    preflight_status = next((seen.status for seen in server_saw if _is_preflight(seen)), None)
    fetch = Fetch(page_origin=page_origin, url=spec.url, method=spec.method,
                  headers=spec.headers, body=spec.body, credentials=spec.credentials)
    verdict, _, _ = predict(config, fetch, preflight_status=preflight_status,
                            exempt_same_origin=bool(case.options.get("exempt_same_origin")))
    story = "\n".join([*(f"server saw: {seen.describe()}" for seen in server_saw),
                       f"web.config:\n{config}"])
    assert_agrees(case.id, verdict, outcomes, story)


def check(
    case: Case,
    outcomes: list[FetchOutcome],
    server_saw: list[Seen],
    app_saw: list[Seen],
    config: str,
) -> None:
    story = "\n".join(
        [
            f"page {case.page} fetch {case.method} {case.path} headers={dict(case.headers)} "
            f"credentials={case.credentials}",
            *(f"browser #{n + 1}: {outcome.reason()}" for n, outcome in enumerate(outcomes)),
            *(f"server saw: {seen.describe()}" for seen in server_saw),
            f"app saw: {[seen.method for seen in app_saw]}",
            f"web.config:\n{config}",
        ]
    )
    # First the server side: a crash must never pass as "blocked".
    crashed = [seen for seen in server_saw if seen.error or (seen.status or 500) >= 500]
    assert not crashed, f"the server crashed or answered 5xx\n{story}"

    preflights = tuple(seen.status for seen in server_saw if _is_preflight(seen))
    actuals = tuple(seen.status for seen in server_saw if not _is_preflight(seen))
    assert preflights == case.preflight, (
        f"preflight statuses {preflights} != {case.preflight}\n{story}"
    )
    assert actuals == case.actual, f"actual-request statuses {actuals} != {case.actual}\n{story}"
    assert tuple(seen.method for seen in app_saw) == case.app, (
        f"the app saw the wrong requests\n{story}"
    )
    if case.request_headers_sent is not None:
        sent = [
            seen.header("access-control-request-headers")
            for seen in server_saw
            if _is_preflight(seen)
        ]
        assert sent == [case.request_headers_sent], (
            f"Access-Control-Request-Headers {sent}\n{story}"
        )

    # Then what the browser concluded, for every fetch the case made.
    for outcome in outcomes:
        assert outcome.allowed is case.allowed, (
            f"expected the browser to {'allow' if case.allowed else 'block'} the fetch\n{story}"
        )
        if not case.allowed:
            assert case.cors_error is not None
            assert any(error.startswith(case.cors_error) for error in outcome.cors_errors), (
                f"blocked, but not for {case.cors_error}\n{story}"
            )
            continue
        assert outcome.status == case.status, f"script read status {outcome.status}\n{story}"
        for name, value in case.readable.items():
            assert outcome.headers.get(name) == value, f"script could not read {name}\n{story}"
        for name in case.hidden:
            assert outcome.headers.get(name) is None, f"script could read {name}\n{story}"
        for fragment in case.body_has:
            assert outcome.body is not None and fragment in outcome.body, (
                f"body lacks {fragment!r}: {outcome.body!r}\n{story}"
            )


@pytest.mark.parametrize("case", CASES)
def test_browser_concludes(
    case: Case, page: Page, page_server: PageServer, api_server: ApiServer
) -> None:
    run_case(case, page, page_server, api_server)


@pytest.mark.parametrize("case", [param(case) for case in CUSTOM_HEADER_CASES])
def test_custom_headers_in_browser(
    case: Case, page: Page, page_server: PageServer, api_server: ApiServer
) -> None:
    run_case(case, page, page_server, api_server)


@pytest.mark.parametrize("case", [param(case) for case in VERDICT_CASES])
def test_verdict_checks_in_browser(
    case: Case, page: Page, page_server: PageServer, api_server: ApiServer
) -> None:
    run_case(case, page, page_server, api_server)
