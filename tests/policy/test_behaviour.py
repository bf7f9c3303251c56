"""The behaviour table: (web.config, request) → (status, every CORS header, app called).

One row per behaviour; each id starts with the contract rule it pins (docs/behaviour.md links
here).  Every row runs through both adapters, the WSGI and the ASGI middleware (test ids
``wsgi-…`` and ``asgi-…``), as the first request of its origin and as a repeat.  List-valued
headers (Allow-Methods, Allow-Headers, Expose-Headers, Vary) are compared as lists; the order of
the headers and their exact bytes are pinned by tests/adapters/test_adapters.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from iiscors import CorsMiddleware

from support import ADAPTERS, SAMPLES, Adapter, App, Recorder, Req, call, web_config

MS_REFERENCE = (SAMPLES / "microsoft-reference.config").read_bytes()
LOCATIONS = (SAMPLES / "location-scoping.config").read_bytes()
STAR_ONLY = web_config('<cors enabled="true"><add origin="*" /></cors>')
ONE = web_config('<cors enabled="true"><add origin="https://app.contoso.com" /></cors>')
ONE_FAIL = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                      '<add origin="https://app.contoso.com" /></cors>')
STAR_PLUS = web_config('<cors enabled="true"><add origin="*" />'
                       '<add origin="https://app.contoso.com" /></cors>')
STAR_PLUS_FAIL = web_config('<cors enabled="true" failUnlistedOrigins="true"><add origin="*" />'
                            '<add origin="https://app.contoso.com" /></cors>')
FULL_RULE = web_config(
    '<cors enabled="true"><add origin="https://app.contoso.com" allowCredentials="true" '
    'maxAge="600"><allowHeaders><add header="X-Token" /><add header="Content-Type" />'
    '</allowHeaders><allowMethods><add method="PUT" /><add method="DELETE" />'
    '<add method="patch" /></allowMethods><exposeHeaders><add header="X-Request-Id" />'
    '<add header="ETag" /></exposeHeaders></add></cors>')
ALLOW_ALL = web_config(
    '<cors enabled="true"><add origin="https://app.contoso.com">'
    '<allowHeaders allowAllRequestedHeaders="true"><add header="X-Listed" /></allowHeaders>'
    '</add></cors>')
SPECIFICITY = web_config(
    '<cors enabled="true" failUnlistedOrigins="true">'
    '<add origin="https://*.contoso.com" allowed="false" />'
    '<add origin="https://app.contoso.com" />'
    '<add origin="https://*.api.contoso.com" />'
    '<add origin="https://*.contoso.com:8443" />'
    '<add origin="https://api-*.fabrikam.com" />'
    '<add origin="https://dot.contoso.com." />'
    '</cors>')
SPECIFICITY_REVERSED = web_config(
    '<cors enabled="true" failUnlistedOrigins="true">'
    '<add origin="https://dot.contoso.com." />'
    '<add origin="https://api-*.fabrikam.com" />'
    '<add origin="https://*.contoso.com:8443" />'
    '<add origin="https://*.api.contoso.com" />'
    '<add origin="https://app.contoso.com" />'
    '<add origin="https://*.contoso.com" allowed="false" />'
    '</cors>')
SCHEME_WILDCARD = web_config('<cors enabled="true"><add origin="http://*" /></cors>')
HTTPS_ANY_FAIL = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                            '<add origin="https://*" /></cors>')
#: two sibling locations, one name a prefix of the other (A9: whole segments)
SIBLINGS = web_config(
    '<cors enabled="true" failUnlistedOrigins="true"><add origin="https://app.contoso.com" />'
    '</cors>',
    outside='<location path="api"><system.webServer><cors>'
            '<add origin="https://api-client.example" /></cors></system.webServer></location>'
            '<location path="apix"><system.webServer><cors>'
            '<add origin="https://apix-client.example" /></cors></system.webServer></location>')
CUSTOM = web_config(
    '<cors enabled="true" failUnlistedOrigins="true"><add origin="https://app.contoso.com" />'
    '</cors>',
    server='<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY" />'
           '<add name="Access-Control-Allow-Origin" value="*" /></customHeaders></httpProtocol>')
CUSTOM_ONLY = web_config(server='<httpProtocol><customHeaders><add name="X-Site" value="1" />'
                         '</customHeaders></httpProtocol>')
MODULE_REMOVED = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                            '<add origin="https://app.contoso.com" /></cors>',
                            server='<modules><remove name="CorsModule" /></modules>')
MODULES_CLEARED = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                             '<add origin="https://app.contoso.com" /></cors>',
                             server='<modules><clear /></modules>')
MODULE_ADDED_BACK = web_config(
    '<cors enabled="true" failUnlistedOrigins="true"><add origin="https://app.contoso.com" />'
    '</cors>', server='<modules><clear /><add name="CorsModule" /></modules>')
#: contract C2: URL Rewrite's OPTIONS recipe, beside customHeaders or a <cors> section
PREFLIGHT_RULE = ('<rewrite><rules><rule name="CORS Preflight" stopProcessing="true">'
                  '<match url=".*" /><conditions><add input="{REQUEST_METHOD}" '
                  'pattern="^OPTIONS$" /></conditions><action type="CustomResponse" '
                  'statusCode="200" statusReason="OK" statusDescription="Preflight" />'
                  "</rule></rules></rewrite>")
RECIPE_BODY = b"Preflight"
RECIPE = web_config(server='<httpProtocol><customHeaders>'
                    '<add name="Access-Control-Allow-Origin" value="*" />'
                    '<add name="Access-Control-Allow-Headers" value="Content-Type" />'
                    "</customHeaders></httpProtocol>" + PREFLIGHT_RULE)
RECIPE_HEADERS: dict[str, str | list[str]] = {"Access-Control-Allow-Origin": "*",
                                              "Access-Control-Allow-Headers": ["Content-Type"]}
RECIPE_CORS = web_config('<cors enabled="true"><add origin="https://app.contoso.com" /></cors>',
                         server=PREFLIGHT_RULE)
RECIPE_CORS_FAIL = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                              '<add origin="https://app.contoso.com" /></cors>',
                              server=PREFLIGHT_RULE)
RECIPE_NOT_FIRST = web_config(server=PREFLIGHT_RULE.replace(
    "<rules>", '<rules><rule name="Front"><match url=".*" /><action type="Rewrite" url="/" />'
               "</rule>"))

APP = "https://app.contoso.com"
EVIL = "https://evil.example"


def origin_of_length(length: int) -> str:
    """``https://aaa…a.example``, exactly ``length`` characters (one long label: B6 bounds the
    whole value, not a label)."""
    return "https://" + "a" * (length - len("https://.example")) + ".example"


#: contract B6: an Origin of more than 2,048 bytes is not a serialized origin
AT_BOUND, PAST_BOUND = origin_of_length(2048), origin_of_length(2049)
VARY = {"Vary": ["Origin"]}
LISTS = {"access-control-allow-methods", "access-control-allow-headers",
         "access-control-expose-headers", "vary"}


@dataclass(frozen=True)
class Case:
    id: str
    config: bytes
    method: str = "GET"
    origin: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/"
    # expectations
    status: int = 200
    cors: dict[str, str | list[str]] = field(default_factory=dict)
    app_called: bool = True
    #: headers the application itself sets
    app_sets: tuple[tuple[str, str], ...] = ()
    #: other headers the response must carry (customHeaders)
    also: tuple[tuple[str, str], ...] = ()
    app_status: int = 200
    options: dict[str, bool] = field(default_factory=dict)


def preflight(origin: str, method: str = "PUT", headers: str | None = None) -> dict[str, str]:
    found = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        found["Access-Control-Request-Headers"] = headers
    return found


CASES = [
    # -- A: reading web.config (the parts that show in behaviour) -------------------------------
    Case("A1-no-cors-section-passes-through", CUSTOM_ONLY, origin=APP,
         cors={}, also=(("X-Site", "1"),)),
    Case("A1-cors-outside-system.webServer-is-ignored",
         b'<configuration><cors enabled="true"><add origin="*" /></cors></configuration>',
         origin=APP, cors={}),
    Case("A3-enabled-defaults-to-false",
         web_config('<cors><add origin="https://app.contoso.com" /></cors>'), origin=APP, cors={}),
    Case("A3-rule-defaults-allowed-no-credentials-no-max-age", ONE, "OPTIONS",
         headers=preflight(APP, "PUT", "x-a"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("A5-booleans-in-any-letter-case",
         web_config('<cors enabled="TRUE" failUnlistedOrigins="False">'
                    '<add origin="https://app.contoso.com" allowCredentials="tRuE" /></cors>'),
         origin=APP, cors={"Access-Control-Allow-Origin": APP,
                           "Access-Control-Allow-Credentials": "true", **VARY}),
    Case("A5-max-age-with-sign-and-leading-zeros",
         web_config('<cors enabled="true"><add origin="https://app.contoso.com" maxAge="+0060" />'
                    '</cors>'), "OPTIONS", headers=preflight(APP), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Max-Age": "60", **VARY}),
    Case("A6-remove-drops-a-rule",
         web_config('<cors enabled="true" failUnlistedOrigins="true">'
                    '<add origin="https://app.contoso.com" /><add origin="https://b.contoso.com"/>'
                    '<remove origin="HTTPS://APP.contoso.com" /></cors>'),
         origin=APP, status=403, app_called=False, cors=VARY),
    Case("A6-clear-drops-everything-before-it",
         web_config('<cors enabled="true" failUnlistedOrigins="true">'
                    '<add origin="https://app.contoso.com" /><clear />'
                    '<add origin="https://b.contoso.com" /></cors>'),
         origin=APP, status=403, app_called=False, cors=VARY),
    Case("A6-lists-inside-a-rule-support-remove-and-clear",
         web_config('<cors enabled="true"><add origin="https://app.contoso.com"><allowMethods>'
                    '<add method="GET" /><clear /><add method="PUT" /><add method="POST" />'
                    '<remove method="post" /></allowMethods></add></cors>'),
         "OPTIONS", headers=preflight(APP), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Methods": ["PUT"],
               **VARY}),
    Case("A9-location-adds-a-rule-and-fails-unlisted", LOCATIONS, origin="https://partner.fabrikam.com",
         path="/api/orders", cors={"Access-Control-Allow-Origin": "https://partner.fabrikam.com",
                                   "Access-Control-Allow-Credentials": "true",
                                   "Access-Control-Expose-Headers": ["X-Request-Id"], **VARY}),
    Case("A9-location-inherits-the-root-rules", LOCATIONS, origin="https://www.contoso.com",
         path="/api", cors={"Access-Control-Allow-Origin": "https://www.contoso.com", **VARY}),
    Case("A9-location-path-compares-case-insensitively", LOCATIONS, origin=EVIL,
         path="/API/Orders", status=403, app_called=False, cors=VARY),
    Case("A9-location-covers-whole-segments-only", LOCATIONS, origin="https://partner.fabrikam.com",
         path="/apix", cors=VARY),
    Case("A9-root-applies-outside-locations", LOCATIONS, origin=EVIL, path="/home", cors=VARY),
    Case("A9-deeper-location-with-clear", LOCATIONS, origin="https://www.contoso.com",
         path="/api/admin/users", status=403, app_called=False, cors=VARY),
    Case("A9-deeper-location-own-rule", LOCATIONS, origin="https://admin.contoso.com",
         path="/api/admin", cors={"Access-Control-Allow-Origin": "https://admin.contoso.com",
                                  "Access-Control-Allow-Credentials": "true", **VARY}),
    Case("A9-location-disables-cors", LOCATIONS, "OPTIONS",
         headers=preflight("https://www.contoso.com"), path="/legacy/x", cors={}),
    Case("A9-dot-segments-never-match-a-location", LOCATIONS, origin=EVIL, path="/./api",
         cors=VARY),
    Case("A9-sibling-location-apix-is-not-covered-by-api", SIBLINGS,
         origin="https://api-client.example", path="/apix/x", status=403, app_called=False,
         cors=VARY),
    Case("A9-sibling-location-apix-has-its-own-rule", SIBLINGS,
         origin="https://apix-client.example", path="/apix/x",
         cors={"Access-Control-Allow-Origin": "https://apix-client.example", **VARY}),
    Case("A9-sibling-location-api-has-its-own-rule", SIBLINGS,
         origin="https://api-client.example", path="/api/x",
         cors={"Access-Control-Allow-Origin": "https://api-client.example", **VARY}),
    Case("A9-sibling-location-api-is-not-covered-by-apix", SIBLINGS,
         origin="https://apix-client.example", path="/api/x", status=403, app_called=False,
         cors=VARY),
    # -- B: deciding a request -----------------------------------------------------------------
    Case("B1-disabled-preflight-reaches-the-app",
         web_config('<cors enabled="false"><add origin="*" /></cors>'), "OPTIONS",
         headers=preflight(APP), cors={}),
    Case("B2-no-origin-is-not-cors", ONE, cors=VARY),
    Case("B3-options-without-request-method-is-actual", ONE, "OPTIONS", origin=APP,
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("B3-empty-request-method-is-actual", ONE, "OPTIONS",
         headers={"Origin": APP, "Access-Control-Request-Method": ""},
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("B3-preflight-needs-options", ONE, "POST", headers=preflight(APP),
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("B4-exact-beats-a-denying-wildcard", SPECIFICITY, origin=APP,
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("B4-denying-wildcard-applies-to-other-hosts", SPECIFICITY,
         origin="https://www.contoso.com", status=403, app_called=False, cors=VARY),
    Case("B4-longer-wildcard-suffix-wins", SPECIFICITY, origin="https://v1.api.contoso.com",
         cors={"Access-Control-Allow-Origin": "https://v1.api.contoso.com", **VARY}),
    Case("B4-declaration-order-does-not-matter", SPECIFICITY_REVERSED,
         origin="https://v1.api.contoso.com",
         cors={"Access-Control-Allow-Origin": "https://v1.api.contoso.com", **VARY}),
    Case("B4-declaration-order-does-not-matter-deny", SPECIFICITY_REVERSED,
         origin="https://www.contoso.com", status=403, app_called=False, cors=VARY),
    Case("B4-scheme-wildcard-beats-star", MS_REFERENCE, origin="http://www.microsoft.com",
         status=403, app_called=False, cors=VARY),
    Case("B4-host-wildcard-beats-star", MS_REFERENCE, origin="https://www.microsoft.com",
         cors={"Access-Control-Allow-Origin": "https://www.microsoft.com",
               "Access-Control-Allow-Credentials": "true",
               "Access-Control-Expose-Headers": ["header1", "header2"], **VARY}),
    Case("B4-star-is-the-last-resort", MS_REFERENCE, origin="https://example.org",
         cors={"Access-Control-Allow-Origin": "https://example.org", **VARY}),
    Case("B5-matching-is-case-sensitive", ONE_FAIL, origin="https://APP.contoso.com",
         status=403, app_called=False, cors=VARY),
    Case("B5-star-matches-null-and-echoes-it", STAR_PLUS, origin="null",
         cors={"Access-Control-Allow-Origin": "null", **VARY}),
    Case("B5-scheme-wildcard-matches-any-host-and-port", SCHEME_WILDCARD,
         origin="http://localhost:3000",
         cors={"Access-Control-Allow-Origin": "http://localhost:3000", **VARY}),
    Case("B5-scheme-wildcard-is-one-scheme", SCHEME_WILDCARD, origin="https://localhost",
         cors=VARY),
    Case("B5-host-wildcard-excludes-the-apex", SPECIFICITY, origin="https://contoso.com",
         status=403, app_called=False, cors=VARY),
    Case("B5-host-wildcard-without-port-matches-no-port", SPECIFICITY,
         origin="https://a.b.contoso.com:443", status=403, app_called=False, cors=VARY),
    Case("B5-host-wildcard-with-port", SPECIFICITY, origin="https://a.contoso.com:8443",
         cors={"Access-Control-Allow-Origin": "https://a.contoso.com:8443", **VARY}),
    Case("B5-star-elsewhere-is-literal", SPECIFICITY, origin="https://api-1.fabrikam.com",
         status=403, app_called=False, cors=VARY),
    Case("B6-not-serialized-never-echoed", STAR_PLUS_FAIL, origin="https://a.example/path",
         status=403, app_called=False, cors=VARY),
    Case("B6-not-serialized-with-static-star", STAR_ONLY, origin="https://a.example/path",
         cors={"Access-Control-Allow-Origin": "*"}),
    Case("B6-empty-origin-is-not-serialized", STAR_PLUS_FAIL, origin="",
         status=403, app_called=False, cors=VARY),
    Case("B6-userinfo-is-not-serialized", STAR_PLUS, origin="https://app.contoso.com@evil.example",
         cors=VARY),
    Case("B6-trailing-dot-skips-wildcards", SPECIFICITY, origin="https://www.contoso.com.",
         status=403, app_called=False, cors=VARY),
    Case("B6-trailing-dot-matches-exact-rule-with-dot", SPECIFICITY,
         origin="https://dot.contoso.com.",
         cors={"Access-Control-Allow-Origin": "https://dot.contoso.com.", **VARY}),
    Case("B6-trailing-dot-skips-the-scheme-wildcard", HTTPS_ANY_FAIL,
         origin="https://app.contoso.com.", status=403, app_called=False, cors=VARY),
    Case("B6-trailing-dot-and-port-skip-the-scheme-wildcard", HTTPS_ANY_FAIL,
         origin="https://app.contoso.com.:8443", status=403, app_called=False, cors=VARY),
    Case("B6-trailing-dot-is-matched-by-star-beside-other-rules", STAR_PLUS,
         origin="https://www.contoso.com.",
         cors={"Access-Control-Allow-Origin": "https://www.contoso.com.", **VARY}),
    Case("B6-five-digit-port-matches-the-scheme-wildcard", HTTPS_ANY_FAIL,
         origin="https://app.contoso.com:65535",
         cors={"Access-Control-Allow-Origin": "https://app.contoso.com:65535", **VARY}),
    Case("B6-six-digit-port-is-not-serialized", HTTPS_ANY_FAIL,
         origin="https://app.contoso.com:123456", status=403, app_called=False, cors=VARY),
    Case("B6-six-digit-port-is-not-echoed-by-star-beside-other-rules", STAR_PLUS,
         origin="https://app.contoso.com:123456", cors=VARY),
    Case("B6-origin-of-2048-bytes-is-echoed-by-star-beside-other-rules", STAR_PLUS,
         origin=AT_BOUND, cors={"Access-Control-Allow-Origin": AT_BOUND, **VARY}),
    Case("B6-origin-over-2048-bytes-is-not-echoed-by-star-beside-other-rules", STAR_PLUS,
         origin=PAST_BOUND, cors=VARY),
    Case("B6-origin-over-2048-bytes-is-unlisted-beside-star", STAR_PLUS_FAIL,
         origin=PAST_BOUND, status=403, app_called=False, cors=VARY),
    Case("B6-origin-of-2048-bytes-matches-the-scheme-wildcard", HTTPS_ANY_FAIL,
         origin=AT_BOUND, cors={"Access-Control-Allow-Origin": AT_BOUND, **VARY}),
    Case("B6-origin-over-2048-bytes-skips-the-scheme-wildcard", HTTPS_ANY_FAIL,
         origin=PAST_BOUND, status=403, app_called=False, cors=VARY),
    Case("B7-unlisted-preflight-403", ONE_FAIL, "OPTIONS", headers=preflight(EVIL),
         status=403, app_called=False, cors=VARY),
    Case("B7-unlisted-actual-403", ONE_FAIL, "POST", origin=EVIL, status=403, app_called=False,
         cors=VARY),
    Case("B7-unlisted-preflight-reaches-the-app", ONE, "OPTIONS", headers=preflight(EVIL),
         cors=VARY),
    Case("B7-allowed-false-without-fail-reaches-the-app",
         web_config('<cors enabled="true"><add origin="https://app.contoso.com" allowed="false"/>'
                    '</cors>'), origin=APP, cors=VARY),
    Case("B8-preflight-full-headers", FULL_RULE, "OPTIONS",
         headers=preflight(APP, "PUT", "x-token"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
               "Access-Control-Allow-Methods": ["PUT", "DELETE", "patch"],
               "Access-Control-Allow-Headers": ["X-Token", "Content-Type"],
               "Access-Control-Max-Age": "600", **VARY}),
    Case("B8-requested-method-is-not-checked", FULL_RULE, "OPTIONS",
         headers=preflight(APP, "TRACE", "x-unlisted"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
               "Access-Control-Allow-Methods": ["PUT", "DELETE", "patch"],
               "Access-Control-Allow-Headers": ["X-Token", "Content-Type"],
               "Access-Control-Max-Age": "600", **VARY}),
    Case("B8-allow-all-requested-headers-echoes-as-sent", ALLOW_ALL, "OPTIONS",
         headers=preflight(APP, "PUT", "x-b,X-a"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Headers": ["x-b", "X-a"],
               **VARY}),
    Case("B8-allow-all-without-request-headers-sends-the-list", ALLOW_ALL, "OPTIONS",
         headers=preflight(APP), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Headers": ["X-Listed"],
               **VARY}),
    Case("B8-reference-sample-preflight", MS_REFERENCE, "OPTIONS",
         headers=preflight("https://www.microsoft.com", "DELETE", "content-type,x-custom"),
         status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": "https://www.microsoft.com",
               "Access-Control-Allow-Credentials": "true",
               "Access-Control-Allow-Methods": ["DELETE"],
               "Access-Control-Allow-Headers": ["content-type", "x-custom"],
               "Access-Control-Max-Age": "120", **VARY}),
    Case("B9-actual-gets-origin-credentials-expose-only", FULL_RULE, "PUT", origin=APP,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
               "Access-Control-Expose-Headers": ["X-Request-Id", "ETag"], **VARY}),
    Case("B9-headers-added-to-app-errors", FULL_RULE, origin=APP, app_status=500,
         status=500, cors={"Access-Control-Allow-Origin": APP,
                           "Access-Control-Allow-Credentials": "true",
                           "Access-Control-Expose-Headers": ["X-Request-Id", "ETag"], **VARY}),
    Case("B9-headers-added-to-app-401", ONE, origin=APP, app_status=401,
         status=401, cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("B10-star-only-is-static-without-vary", STAR_ONLY, origin=APP,
         cors={"Access-Control-Allow-Origin": "*"}),
    Case("B10-star-only-preflight-is-static", STAR_ONLY, "OPTIONS", headers=preflight(APP),
         status=204, app_called=False, cors={"Access-Control-Allow-Origin": "*"}),
    Case("B10-star-only-with-credentials-as-configured",
         web_config('<cors enabled="true"><add origin="*" allowCredentials="true" /></cors>'),
         origin=APP, cors={"Access-Control-Allow-Origin": "*",
                           "Access-Control-Allow-Credentials": "true"}),
    Case("B10-star-among-others-echoes", STAR_PLUS, origin="https://other.example",
         cors={"Access-Control-Allow-Origin": "https://other.example", **VARY}),
    Case("B11-vary-merged-into-the-apps", ONE, origin=APP,
         app_sets=(("Vary", "Accept-Encoding"),),
         cors={"Access-Control-Allow-Origin": APP, "Vary": ["Accept-Encoding", "Origin"]}),
    Case("B11-vary-star-left-alone", ONE, origin=APP, app_sets=(("Vary", "*"),),
         cors={"Access-Control-Allow-Origin": APP, "Vary": ["*"]}),
    Case("B11-vary-origin-not-repeated", ONE, origin=APP, app_sets=(("vary", "origin"),),
         cors={"Access-Control-Allow-Origin": APP, "vary": ["origin"]}),
    Case("B12-lists-in-configuration-order-as-written", FULL_RULE, "OPTIONS",
         headers=preflight(APP), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
               "Access-Control-Allow-Methods": ["PUT", "DELETE", "patch"],
               "Access-Control-Allow-Headers": ["X-Token", "Content-Type"],
               "Access-Control-Max-Age": "600", **VARY}),
    Case("B13-same-origin-is-judged-by-default", ONE_FAIL, "POST",
         origin="https://api.contoso.com", status=403, app_called=False, cors=VARY),
    Case("B13-same-origin-exemption-is-opt-in", ONE_FAIL, "POST",
         origin="https://api.contoso.com", cors=VARY, options={"exempt_same_origin": True}),
    Case("B14-request-headers-with-spaces-echoed-as-sent", ALLOW_ALL, "OPTIONS",
         headers=preflight(APP, "PUT", "x-a , x-b\t,x-c"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP,
               "Access-Control-Allow-Headers": ["x-a", "x-b", "x-c"], **VARY}),
    Case("B14-malformed-request-headers-not-echoed", ALLOW_ALL, "OPTIONS",
         headers=preflight(APP, "PUT", "x-a,,x-b"), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Headers": ["X-Listed"],
               **VARY}),
    Case("B14-oversized-request-headers-not-echoed", ALLOW_ALL, "OPTIONS",
         headers=preflight(APP, "PUT", ",".join(["x-h"] * 3000)), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, "Access-Control-Allow-Headers": ["X-Listed"],
               **VARY}),
    Case("B15-vary-on-requests-without-origin", MS_REFERENCE, cors=VARY),
    Case("B15-vary-on-403", MS_REFERENCE, origin="http://evil.example", status=403,
         app_called=False, cors=VARY),
    Case("B15-no-vary-in-star-only-scope", STAR_ONLY, cors={}),
    # -- C, D -------------------------------------------------------------------------------
    Case("C1-custom-headers-on-app-responses", CUSTOM, origin=APP,
         cors={"Access-Control-Allow-Origin": APP, **VARY},
         also=(("X-Frame-Options", "DENY"),)),
    Case("C1-custom-headers-on-the-middlewares-403", CUSTOM, origin=EVIL, status=403,
         app_called=False, cors={**VARY}, also=(("X-Frame-Options", "DENY"),)),
    Case("C1-custom-headers-without-cors", CUSTOM_ONLY, "OPTIONS", headers=preflight(APP),
         cors={}, also=(("X-Site", "1"),)),
    Case("D1-removing-the-module-disables-cors", MODULE_REMOVED, origin=EVIL, cors={}),
    Case("D1-clearing-modules-disables-cors", MODULES_CLEARED, "OPTIONS",
         headers=preflight(APP), cors={}),
    Case("D1-module-added-back-after-clear", MODULE_ADDED_BACK, origin=EVIL, status=403,
         app_called=False, cors=VARY),
    # -- C2: URL Rewrite's OPTIONS recipe answers before the app --------------------------------
    Case("C2-recipe-answers-the-preflight-with-the-custom-headers", RECIPE, "OPTIONS",
         headers=preflight(APP), app_called=False,
         cors=RECIPE_HEADERS),
    Case("C2-recipe-answers-options-without-origin", RECIPE, "OPTIONS", app_called=False,
         cors=RECIPE_HEADERS),
    Case("C2-recipe-leaves-other-methods-to-the-app", RECIPE, "DELETE", origin=APP,
         cors=RECIPE_HEADERS),
    Case("C2-an-allowed-preflight-is-the-cors-modules-204", RECIPE_CORS, "OPTIONS",
         headers=preflight(APP), status=204, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("C2-a-refusal-is-the-cors-modules-403", RECIPE_CORS_FAIL, "OPTIONS",
         headers=preflight(EVIL), status=403, app_called=False, cors=VARY),
    Case("C2-an-unlisted-preflight-passed-on-meets-the-recipe", RECIPE_CORS, "OPTIONS",
         headers=preflight(EVIL), app_called=False, cors=VARY),
    Case("C2-an-allowed-options-without-request-method-meets-the-recipe", RECIPE_CORS,
         "OPTIONS", origin=APP, app_called=False,
         cors={"Access-Control-Allow-Origin": APP, **VARY}),
    Case("C2-a-rule-before-the-recipe-leaves-it-uninterpreted", RECIPE_NOT_FIRST, "OPTIONS",
         headers=preflight(APP), cors={}),
]


def _normalise(headers: dict[str, str]) -> dict[str, str | list[str]]:
    return {name: [v.strip() for v in value.split(",")] if name.lower() in LISTS else value
            for name, value in headers.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("sight", ["first", "repeat"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_behaviour(adapter: Adapter, case: Case, sight: str) -> None:
    """Each case as the first request of its origin (the policy decides it) and as a repeat
    (the middleware reads the answer the policy kept, ScopePolicy.answers): both must match."""
    app = App(status=case.app_status, headers=[("Content-Type", "text/plain"), *case.app_sets])
    middleware, app = adapter.build(case.config, app, **case.options)
    headers = dict(case.headers)
    if case.origin is not None:
        headers["Origin"] = case.origin
    req = Req(case.method, case.path, tuple(headers.items()))
    first = adapter.call(middleware, app, req)
    if sight == "repeat":
        response = adapter.call(middleware, app, req)
        assert (response.status, response.headers, response.body) == (
            first.status, first.headers, first.body)
    else:
        response = first

    assert response.status == case.status
    assert response.app_called is case.app_called
    if case.config is CUSTOM:
        # C1: the custom Access-Control-Allow-Origin comes after the middleware's own, on every
        # response the middleware touches (the duplicate IIS sends too).
        acao = response.get_all("Access-Control-Allow-Origin")
        assert acao == ([APP, "*"] if case.status != 403 else ["*"])
        response.headers.remove(("Access-Control-Allow-Origin", "*"))
    cors = response.cors()
    assert _normalise(cors) == case.cors
    for name, value in case.also:
        assert response.get_all(name) == [value], name
    if not case.app_called:
        assert response.status in (204, 403, 200)
        if response.status == 204:
            assert response.body == b""
        elif response.status == 403:
            assert response.body.startswith(b"403 Forbidden")
        else:  # C2: the recipe's statusDescription is the body
            assert response.body == RECIPE_BODY


def test_every_contract_rule_has_a_behaviour_or_unit_case() -> None:
    """docs/behaviour.md promises at least one test per rule; the ids carry the rule names."""
    rules_here = {c.id.split("-")[0] for c in CASES}
    # A2, A4, A7, A8 are about files and errors: tests/config/test_loader.py and
    # tests/config/test_rules.py.
    expected = {"A1", "A3", "A5", "A6", "A9", *(f"B{n}" for n in range(1, 16)), "C1", "C2",
                "D1"}
    assert expected <= rules_here


CAFE = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                  '<add origin="https://app.contoso.com" /></cors>',
                  outside='<location path="café"><system.webServer><cors enabled="false" />'
                          "</system.webServer></location>")


@pytest.mark.parametrize(("path_info", "covered"), [
    ("/caf\xc3\xa9/x", True),      # PATH_INFO: UTF-8 bytes as latin-1 characters (PEP 3333)
    ("/CAF\xc3\x89", True),        # É folds to é: case-insensitive over all of Unicode
    ("/caf\xe9", False),           # a latin-1 byte that is not UTF-8 is not é
    ("/cafe", False),
])
def test_a9_location_paths_compare_decoded_and_case_folded(path_info: str, covered: bool
                                                           ) -> None:
    response = call(CorsMiddleware(Recorder(), CAFE), headers={"Origin": EVIL},
                    path_info=path_info)
    # Covered: CORS is disabled there, the app answers; elsewhere the unlisted origin gets 403.
    assert response.status == (200 if covered else 403)


def test_a9_evaluate_and_the_middleware_agree_on_text_paths() -> None:
    from iiscors import CorsRequest, load_config

    config = load_config(CAFE)
    assert config.evaluate(CorsRequest("GET", EVIL, path="/CAFÉ/x")).status is None
    assert config.evaluate(CorsRequest("GET", EVIL, path="/cafe")).status == 403
