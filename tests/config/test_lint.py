"""The lint warnings (W1xx, W2xx): one table row per code that fires, one per near miss that
must not, each with the line the warning must point at."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from iiscors import check_config
from iiscors.config.diagnostics import CATALOGUE, Severity
from iiscors.config.lint import origin_problems


def site(cors: str, *, extra: str = "", outside: str = "") -> bytes:
    """A web.config whose <cors> element starts on line 3."""
    return (f"<configuration>\n<system.webServer>\n{cors}\n{extra}\n</system.webServer>\n"
            f"{outside}\n</configuration>\n").encode()


def rule(origin: str, attrs: str = "", body: str = "") -> bytes:
    """One rule: <cors> on line 3, the <add origin> on line 4, its body from line 5."""
    return site(f'<cors enabled="true">\n<add origin="{origin}" {attrs}>\n{body}\n</add>\n'
                "</cors>")


@dataclass(frozen=True)
class Case:
    id: str
    config: bytes
    #: (code, line) pairs that must be reported; every other warning must be absent
    expected: tuple[tuple[str, int | None], ...]


FIRES = [
    Case("W101 no cors section", b"<configuration><system.web /></configuration>",
         (("W101", None),)),
    Case("W102 cors outside system.webServer",
         site('<cors enabled="true"><add origin="https://a.example" /></cors>',
              outside="<cors><sites /></cors>"),
         (("W102", 6),)),
    Case("W103 remove of a missing origin",
         site('<cors enabled="true">\n<add origin="https://a.example" />\n'
              '<remove origin="https://b.example" />\n</cors>'),
         (("W103", 5),)),
    Case("W103 remove of a missing method",
         rule("https://a.example", body='<allowMethods>\n<remove method="PUT" />\n'
              "</allowMethods>"),
         (("W103", 6),)),
    Case("W201 credentials on *", rule("*", 'allowCredentials="true"'), (("W201", 4),)),
    Case("W202 credentials on https://*", rule("https://*", 'allowCredentials="true"'),
         (("W202", 4),)),
    Case("W203 credentials on http: origin",
         rule("http://app.example", 'allowCredentials="true"'), (("W203", 4),)),
    Case("W203 credentials on http: host wildcard",
         rule("http://*.app.example", 'allowCredentials="true"'), (("W203", 4),)),
    # The loopback exemption covers a whole host: a name that only starts with one is a site.
    Case("W203 credentials on http://localhost.evil.example",
         rule("http://localhost.evil.example", 'allowCredentials="true"'), (("W203", 4),)),
    Case("W203 credentials on http://127.0.0.1.evil.example:8080",
         rule("http://127.0.0.1.evil.example:8080", 'allowCredentials="true"'), (("W203", 4),)),
    Case("W204 upper case host", rule("https://App.example"), (("W204", 4),)),
    Case("W204 upper case scheme", rule("HTTPS://app.example"), (("W204", 4),)),
    Case("W205 trailing slash", rule("https://app.example/"), (("W205", 4),)),
    Case("W205 path", rule("https://app.example/api"), (("W205", 4),)),
    Case("W204+W205 both reported", rule("https://App.example/"), (("W204", 4), ("W205", 4))),
    Case("W206 no scheme", rule("localhost:3000"), (("W206", 4),)),
    Case("W207 template", rule("http://{domain}"), (("W207", 4),)),
    Case("W208 escaped star", rule("https://\\*.example.com"), (("W208", 4),)),
    Case("W209 star inside a label", rule("https://api-*.example.com"), (("W209", 4),)),
    Case("W209 star as the port", rule("https://*.example.com:*"), (("W209", 4),)),
    Case("W210 https default port", rule("https://app.example:443"), (("W210", 4),)),
    Case("W210 http default port", rule("http://app.example:80"), (("W210", 4),)),
    Case("W211 null", rule("null"), (("W211", 4),)),
    Case("W212 file://", rule("file://"), (("W212", 4),)),
    Case("W213 OPTIONS in allowMethods",
         rule("https://a.example", body='<allowMethods>\n<add method="GET" />\n'
              '<add method="options" />\n</allowMethods>'),
         (("W213", 7),)),
    Case("W214 Access-Control-* exposed",
         rule("https://a.example", body='<exposeHeaders>\n'
              '<add header="Access-Control-Allow-Origin" />\n</exposeHeaders>'),
         (("W214", 6),)),
    Case("W215 maxAge above Chromium's cap", rule("https://a.example", 'maxAge="7201"'),
         (("W215", 4),)),
    Case("W215 maxAge above Firefox's cap", rule("https://a.example", 'maxAge="604800"'),
         (("W215", 4),)),
    Case("W216 allowAllRequestedHeaders and a list",
         rule("https://a.example", body='<allowHeaders allowAllRequestedHeaders="true">\n'
              '<add header="x-a" />\n</allowHeaders>'),
         (("W216", 6),)),
    Case("W217 enabled without rules", site('<cors enabled="true" />'), (("W217", 3),)),
    Case("W218 rules without enabled", site('<cors>\n<add origin="https://a.example" />\n'
                                            "</cors>"),
         (("W218", 3),)),
    Case("W218 rules explicitly disabled",
         site('<cors enabled="false">\n<add origin="https://a.example" />\n</cors>'),
         (("W218", 3),)),
    Case("W219 failUnlistedOrigins with an allowed *",
         site('<cors enabled="true" failUnlistedOrigins="true">\n<add origin="*" />\n</cors>'),
         (("W219", 3),)),
    Case("W220 customHeaders sets Access-Control-Allow-Origin",
         site('<cors enabled="true"><add origin="https://a.example" /></cors>',
              extra='<httpProtocol>\n<customHeaders>\n'
                    '<add name="Access-Control-Allow-Origin" value="*" />\n'
                    "</customHeaders>\n</httpProtocol>"),
         (("W220", 6),)),
    Case("W221 CorsModule removed",
         site('<cors enabled="true"><add origin="https://a.example" /></cors>',
              extra='<modules>\n<remove name="CorsModule" />\n</modules>'),
         (("W221", 5),)),  # the <remove>, what W221 talks about (issue 13 item 8)
    Case("W222 failUnlistedOrigins listing other origins only",
         site('<cors enabled="true" failUnlistedOrigins="true">\n'
              '<add origin="https://other.example" />\n</cors>'),
         (("W222", 3),)),
    Case("W222 * allowed but http://* denied",
         site('<cors enabled="true" failUnlistedOrigins="true">\n<add origin="*" />\n'
              '<add origin="http://*" allowed="false" />\n</cors>'),
         (("W222", 3),)),
    Case("W202 and W215 point at their attributes' own lines",
         site('<cors enabled="true">\n<add origin="https://*"\n allowCredentials="true"\n'
              ' maxAge="86401" />\n</cors>'),
         (("W202", 5), ("W215", 6))),
    Case("W223 not a serialized origin", rule("https://exa mple.com"), (("W223", 4),)),
    Case("W223 userinfo", rule("https://user@app.example"), (("W223", 4),)),
]

QUIET = [
    Case("exact lower-case origin", rule("https://app.example"), ()),
    Case("host wildcard with a port", rule("https://*.app.example:8443"), ()),
    Case("scheme wildcard without credentials", rule("http://*"), ()),
    Case("non-default port", rule("https://app.example:8443"), ()),
    Case("IPv6 literal", rule("http://[::1]:8080"), ()),
    Case("credentials on https", rule("https://app.example", 'allowCredentials="true"'), ()),
    Case("credentials on http://localhost (secure context)",
         rule("http://localhost:3000", 'allowCredentials="true"'), ()),
    Case("credentials on http://127.0.0.1",
         rule("http://127.0.0.1:8080", 'allowCredentials="true"'), ()),
    Case("credentials on http://app.localhost (a loopback name too)",
         rule("http://app.localhost:3000", 'allowCredentials="true"'), ()),
    Case("credentials on http://[::1]",
         rule("http://[::1]:8080", 'allowCredentials="true"'), ()),
    Case("credentials on a denied http rule",
         rule("http://app.example", 'allowed="false" allowCredentials="true"'), ()),
    Case("maxAge at Chromium's cap", rule("https://a.example", 'maxAge="7200"'), ()),
    Case("allowAllRequestedHeaders alone",
         rule("https://a.example", body='<allowHeaders allowAllRequestedHeaders="true" />'), ()),
    Case("ordinary methods and exposed headers",
         rule("https://a.example", body='<allowMethods><add method="PUT" /></allowMethods>'
              '<exposeHeaders><add header="X-Total" /></exposeHeaders>'), ()),
    Case("rules at the root, enabled in a location",
         b'<configuration><system.webServer><cors><add origin="https://a.example" /></cors>'
         b'</system.webServer><location path="api"><system.webServer><cors enabled="true" />'
         b"</system.webServer></location></configuration>", ()),
    Case("failUnlistedOrigins with * and no denial is W219, not W222",
         site('<cors enabled="true" failUnlistedOrigins="true">\n<add origin="*" />\n</cors>'),
         (("W219", 3),)),
    Case("failUnlistedOrigins with both scheme wildcards allowed",
         site('<cors enabled="true" failUnlistedOrigins="true">\n<add origin="https://*" />\n'
              '<add origin="http://*" />\n</cors>'), ()),
    Case("customHeaders Access-Control-* where cors is disabled",
         site('<cors enabled="false" />',
              extra='<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" '
                    'value="*" /></customHeaders></httpProtocol>'), ()),
    Case("other customHeaders where cors is enabled",
         site('<cors enabled="true"><add origin="https://a.example" /></cors>',
              extra='<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY" />'
                    "</customHeaders></httpProtocol>"), ()),
    Case("remove of an origin that is there",
         site('<cors enabled="true">\n<add origin="https://a.example" />\n'
              '<add origin="https://b.example" />\n<remove origin="https://b.example" />\n'
              "</cors>"), ()),
    Case("CorsModule removed then added back",
         site('<cors enabled="true"><add origin="https://a.example" /></cors>',
              extra='<modules><remove name="CorsModule" /><add name="CorsModule" /></modules>'),
         ()),
]


@pytest.mark.parametrize("case", FIRES + QUIET, ids=lambda case: case.id)
def test_lint(case: Case) -> None:
    found = check_config(case.config, name="web.config")
    assert not [d for d in found if d.is_error], found
    got = sorted((d.code, d.line) for d in found)
    assert got == sorted(case.expected), [str(d) for d in found]
    for d in found:
        assert d.file == "web.config"
        assert d.fix == CATALOGUE[d.code].fix  # every warning carries its one-line fix


def test_every_warning_code_has_a_firing_case() -> None:
    warned = {code for case in FIRES for code, _ in case.expected}
    codes = {code for code, info in CATALOGUE.items() if info.severity is Severity.WARNING}
    # W104 is the command line's own (a link out of a searched tree): tests/cli/test_tree_safety
    # The customHeaders codes (W3xx) have their own table: tests/config/test_headerlint.py
    assert {code for code in codes - warned if not code.startswith("W3")} == {"W104"}


def test_lint_skipped_when_the_file_has_errors() -> None:
    found = check_config(rule("https://App.example", 'allowed="maybe"'))
    assert [d.code for d in found] == ["E206"]


def test_inherited_problem_reported_once() -> None:
    config = (b'<configuration><system.webServer><cors enabled="true">'
              b'<add origin="https://App.example" /></cors></system.webServer>'
              b'<location path="a"><system.webServer><cors failUnlistedOrigins="false" />'
              b'</system.webServer></location>'
              b'<location path="b"><system.webServer><cors failUnlistedOrigins="false" />'
              b"</system.webServer></location></configuration>")
    assert [d.code for d in check_config(config)] == ["W204"]


@pytest.mark.parametrize(("pattern", "codes"), [
    ("*", []),
    ("https://a.example", []),
    ("https://*", []),
    ("https://*.a.example", []),
    ("null", ["W211"]),
    ("FILE://x", ["W212"]),
    ("https://a.example:0443", ["W210"]),
    ("https://[::1]:443", ["W210"]),
    ("https://A.example:443/", ["W205", "W204", "W210"]),
    ("https://a.example ", ["W223"]),
    ("https://*example.com", ["W209"]),
])
def test_origin_problems(pattern: str, codes: list[str]) -> None:
    assert [code for code, _ in origin_problems(pattern)] == codes
