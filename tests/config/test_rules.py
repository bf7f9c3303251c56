"""Configuration errors and warnings, located (contract A1, A3-A9): (web.config) → [(code, line)].

Each row is a whole file so the expected line numbers are visible in the row itself.
"""

from __future__ import annotations

import pytest

from iiscors import ConfigError, CorsMiddleware, Severity, check_config, load_config

from support import Recorder


def doc(*lines: str) -> bytes:
    return "\n".join(lines).encode()


CASES: list[tuple[str, bytes, list[tuple[str, int | None]]]] = [
    ("A1-root-must-be-configuration", doc("<config/>"), [("E106", 1)]),
    ("A1-no-cors-section-warns", doc("<configuration>", "<system.web/>", "</configuration>"),
     [("W101", None)]),
    ("A1-cors-outside-system.webServer-warns", doc(
        "<configuration>",
        "  <cors><policies/></cors>",
        "</configuration>"), [("W101", None), ("W102", 2)]),
    ("A1-other-sections-are-not-validated", doc(
        "<configuration>",
        "  <system.webServer>",
        '    <rewrite><rules><rule name="x" bogus="1"/></rules></rewrite>',
        '    <cors enabled="true"><add origin="https://a.example" /></cors>',
        "  </system.webServer>",
        "</configuration>"), [("N101", 3)]),  # contract C2: a note, once, that it is not read
    ("A4-unrecognized-attribute-and-element", doc(
        "<configuration><system.webServer>",
        '  <cors enabeld="true">',
        "    <allowOrigins/>",
        '    <add origin="https://a.example" Allowed="true">',
        "      <allowMethod/>",
        "    </add>",
        "  </cors>",
        "</system.webServer></configuration>"),
     [("E201", 2), ("E202", 3), ("E201", 4), ("E202", 5)]),
    ("A4-text-inside-the-section", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">origin=*',
        '    <add origin="*" />',
        "  </cors>",
        "</system.webServer></configuration>"), [("E203", 2)]),
    ("A4-non-breaking-space-is-text-not-white-space", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true" bogus="1">&#xA0;',
        '    <add origin="*" />',
        "  </cors>",
        "</system.webServer></configuration>"), [("E201", 2), ("E203", 2)]),
    ("A4-comments-and-whitespace-are-fine", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><!-- c -->',
        '    <add origin="*"><!-- c --><allowHeaders><!-- c --></allowHeaders></add>',
        "  </cors>",
        "</system.webServer></configuration>"), []),
    ("A4-missing-and-empty-required-attributes", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        "    <add />",
        '    <add origin="   " />',
        '    <add origin="https://a.example"><allowHeaders><add header="" /></allowHeaders>',
        "      <allowMethods><add /></allowMethods></add>",
        "  </cors>",
        "</system.webServer></configuration>"),
     [("E204", 3), ("E205", 4), ("E205", 5), ("E204", 6)]),
    ("A4-control-character-in-a-header-value", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <add origin="https://a.example&#10;X-Evil: 1" />',
        '    <add origin="https://b.example"><exposeHeaders><add header="a&#13;b" />',
        "    </exposeHeaders></add>",
        "  </cors>",
        '  <httpProtocol><customHeaders><add name="X" value="a&#10;b" /></customHeaders>',
        "  </httpProtocol>",
        "</system.webServer></configuration>"), [("E208", 3), ("E208", 4), ("E208", 7)]),
    ("A4-values-that-cannot-be-sent", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><add origin="https://a.example"><allowMethods>',
        '    <add method="G T" /></allowMethods><exposeHeaders><add header="x-\u20ac" />',
        "  </exposeHeaders></add></cors>",
        '  <httpProtocol><customHeaders><add name="X:A" value="1" />',
        '    <add name="X-B" value="\U0001f510" /><add name="X-C" value="caf\u00e9" />',
        "  </customHeaders></httpProtocol>",
        "</system.webServer></configuration>"),
     [("E210", 3), ("E210", 3), ("E210", 5), ("E210", 6)]),
    ("A4-child-list-at-most-once", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <add origin="https://a.example">',
        "      <allowMethods />",
        "      <allowMethods />",
        "    </add>",
        "  </cors>",
        "</system.webServer></configuration>"), [("E209", 5)]),
    ("A4-section-already-defined", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true" />',
        '  <cors enabled="false" />',
        "</system.webServer></configuration>"), [("E301", 3)]),
    ("A4-location-dot-is-the-root-level", doc(
        "<configuration>",
        '  <system.webServer><cors enabled="true"><add origin="*" /></cors></system.webServer>',
        '  <location path=".">',
        '    <system.webServer><cors enabled="true"><add origin="*" /></cors></system.webServer>',
        "  </location>",
        "</configuration>"), [("E301", 4)]),
    ("A4-two-locations-with-the-same-path", doc(
        "<configuration>",
        '  <location path="api"><system.webServer><cors enabled="true"><add origin="*"/></cors>',
        "  </system.webServer></location>",
        '  <location path="API/"><system.webServer><cors /></system.webServer></location>',
        "</configuration>"), [("E301", 4)]),
    ("A4-customHeaders-rules", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><add origin="*" /></cors>',
        "  <httpProtocol><customHeaders>",
        '    <add value="x" />',
        '    <add name="X-A" value="1" /><add name="x-a" value="2" />',
        '    <add name="X-B" valu="1" />',
        "  </customHeaders></httpProtocol>",
        "</system.webServer></configuration>"), [("E204", 4), ("E302", 5), ("E201", 6)]),
    ("A4-modules-rules", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><add origin="*" /></cors>',
        '  <modules runAllManagedModulesForAllRequests="yes">',
        '    <remove nam="CorsModule" />',
        "  </modules>",
        "</system.webServer></configuration>"), [("E206", 3), ("E201", 4), ("E204", 4)]),
    ("A6-duplicate-modules", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><add origin="*" /></cors>',
        '  <modules><remove name="WebDAVModule" /><add name="CorsModule" />',
        '    <add name="corsmodule" /></modules>',
        "</system.webServer></configuration>"), [("E302", 4)]),
    ("A5-bad-booleans", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="1" failUnlistedOrigins=" true">',
        '    <add origin="https://a.example" allowed="yes" />',
        "  </cors>",
        "</system.webServer></configuration>"), [("E206", 2), ("E206", 2), ("E206", 3)]),
    ("A5-bad-max-age", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <add origin="https://a.example" maxAge="1.5" />',
        '    <add origin="https://b.example" maxAge=" 5" />',
        '    <add origin="https://c.example" maxAge="2147483648" />',
        '    <add origin="https://d.example" maxAge="-2147483648" />',
        '    <add origin="https://e.example" maxAge="+007" />',
        "  </cors>",
        "</system.webServer></configuration>"), [("E207", 3), ("E207", 4), ("E207", 5)]),
    ("A6-duplicate-origins-compare-case-insensitively", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <add origin="https://a.example" />',
        '    <add origin="HTTPS://A.EXAMPLE" />',
        "  </cors>",
        "</system.webServer></configuration>"), [("E302", 4)]),
    ("A6-duplicate-after-remove-is-fine", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <add origin="https://a.example" />',
        '    <remove origin="https://a.example" />',
        '    <add origin="https://a.example" allowCredentials="true" />',
        "  </cors>",
        "</system.webServer></configuration>"), []),
    ("A6-duplicate-header-in-a-rule", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true"><add origin="https://a.example"><allowHeaders>',
        '    <add header="X-A" />',
        '    <add header="x-a" />',
        "  </allowHeaders></add></cors>",
        "</system.webServer></configuration>"), [("E302", 4)]),
    ("A6-remove-of-a-missing-key-warns", doc(
        "<configuration><system.webServer>",
        '  <cors enabled="true">',
        '    <remove origin="https://never.example" />',
        '    <add origin="https://a.example"><allowMethods><remove method="PUT" /></allowMethods>',
        "    </add>",
        "  </cors>",
        "</system.webServer></configuration>"), [("W103", 3), ("W103", 4)]),
    ("A9-duplicate-across-levels", doc(
        "<configuration>",
        '  <system.webServer><cors enabled="true"><add origin="https://a.example" /></cors>',
        "  </system.webServer>",
        '  <location path="api"><system.webServer><cors>',
        '    <add origin="https://A.example" />',
        "  </cors></system.webServer></location>",
        "</configuration>"), [("E302", 5)]),
    ("A9-remove-inherited-then-add-is-fine", doc(
        "<configuration>",
        '  <system.webServer><cors enabled="true"><add origin="https://a.example" /></cors>',
        "  </system.webServer>",
        '  <location path="api"><system.webServer><cors>',
        '    <remove origin="https://a.example" />',
        '    <add origin="https://a.example" allowCredentials="true" />',
        "  </cors></system.webServer></location>",
        "</configuration>"), []),
    ("A9-invalid-location-path", doc(
        "<configuration>",
        '  <location path="../up"><system.webServer><cors /></system.webServer></location>',
        # no W101: the file is about CORS even where IIS refuses it (tests/config/test_filenotes)
        "</configuration>"), [("E303", 2)]),
]


@pytest.mark.parametrize(("xml", "expected"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_diagnostics(xml: bytes, expected: list[tuple[str, int | None]]) -> None:
    found = [(d.code, d.line) for d in check_config(xml, name="web.config")]
    assert sorted(found, key=str) == sorted(expected, key=str)


def test_a7_every_problem_at_once_with_file_line_column_severity() -> None:
    xml = doc(
        "<configuration><system.webServer>",
        '  <cors enabeld="true" failUnlistedOrigins="nope">',
        '    <add origin="https://a.example" maxAge="x" />',
        "  </cors>",
        "</system.webServer></configuration>")
    diagnostics = check_config(xml, name="site/web.config")
    assert [(d.code, d.file, d.line, d.column, d.severity) for d in diagnostics] == [
        ("E201", "site/web.config", 2, 9, Severity.ERROR),
        ("E206", "site/web.config", 2, 24, Severity.ERROR),
        ("E207", "site/web.config", 3, 37, Severity.ERROR),
    ]
    assert diagnostics[0].severity == "error"
    assert diagnostics[0].message == "Unrecognized attribute 'enabeld'"
    assert all(d.fix for d in diagnostics)


def test_a7_warnings_do_not_make_a_configuration_unusable() -> None:
    xml = doc("<configuration><system.webServer>",
              '<cors enabled="true"><remove origin="https://x.example" /><add origin="*" /></cors>',
              "</system.webServer></configuration>")
    config = load_config(xml)
    assert [d.code for d in config.diagnostics] == ["W103"]


def test_a8_unusable_configuration_raises_with_every_diagnostic() -> None:
    xml = doc("<configuration><system.webServer>",
              '<cors enabled="yes"><add origin="*" maxAge="z" /></cors>',
              "</system.webServer></configuration>")
    with pytest.raises(ConfigError) as raised:
        CorsMiddleware(Recorder(), xml)
    assert [d.code for d in raised.value.diagnostics] == ["E206", "E207"]
    assert "E206" in str(raised.value)
    with pytest.raises(ConfigError):
        load_config(xml)


def test_a8_never_half_works_even_with_a_good_rule_beside_a_bad_one() -> None:
    xml = doc("<configuration><system.webServer>",
              '<cors enabled="true"><add origin="https://good.example" /><add origin="" /></cors>',
              "</system.webServer></configuration>")
    with pytest.raises(ConfigError):
        CorsMiddleware(Recorder(), xml)


def test_a3_rule_tree_is_immutable_and_located() -> None:
    config = load_config(doc(
        "<configuration><system.webServer>",
        '<cors enabled="true">',
        '  <add origin="https://a.example" allowCredentials="true" maxAge="60">',
        '    <allowHeaders allowAllRequestedHeaders="true"><add header="X-A" /></allowHeaders>',
        '    <allowMethods><add method="PUT" /></allowMethods>',
        '    <exposeHeaders><add header="X-B" /></exposeHeaders>',
        "  </add>",
        "</cors></system.webServer></configuration>"), name="w.config")
    (rule,) = config.scopes[()].rules
    assert (rule.origin, rule.allowed, rule.allow_credentials, rule.max_age,
            rule.allow_all_requested_headers, rule.allow_headers, rule.allow_methods,
            rule.expose_headers) == ("https://a.example", True, True, 60, True, ("X-A",),
                                     ("PUT",), ("X-B",))
    assert (rule.location.file, rule.location.line) == ("w.config", 3)
    with pytest.raises(AttributeError):
        rule.origin = "x"  # type: ignore[misc]


def test_schema_and_walker_agree_on_the_samples_and_corpus() -> None:
    """The XSD (through lxml) is the second opinion: no E299 on any file we know."""
    from support import CORPUS, SAMPLES

    files = [*SAMPLES.rglob("*.config"), *CORPUS.glob("*.config")]
    assert files
    for path in files:
        assert not [d for d in check_config(path) if d.code == "E299"], path


def test_schema_violation_the_walker_misses_would_be_reported(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """If the walker and the XSD ever disagree, the XSD's finding still surfaces as E299."""
    from iiscors.config import rules

    monkeypatch.setattr(rules._Walk, "check", lambda self, element, spec: None)
    found = check_config(doc("<configuration><system.webServer>",
                             '<cors bogus="1" />', "</system.webServer></configuration>"))
    assert [(d.code, d.line) for d in found] == [("E299", 2)]


def test_a4_transform_attributes_are_not_section_attributes() -> None:
    """Web.Release.config-style files carry xdt:* instructions; they are not IIS attributes."""
    xml = doc(
        '<configuration xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform">',
        '<system.webServer><cors enabled="true" xdt:Transform="Replace">',
        '  <add origin="https://a.example" xdt:Locator="Match(origin)" />',
        "</cors></system.webServer></configuration>")
    assert check_config(xml) == []
    other = xml.replace(b"XML-Document-Transform", b"other-namespace")
    assert [d.code for d in check_config(other)] == ["E201", "E201"]


def test_a4_a_namespaced_attribute_is_quoted_and_located_as_written() -> None:
    xml = doc(
        '<configuration xmlns:foo="urn:foo">',
        '<system.webServer><cors enabled="true"   foo:bar="1">',
        '  <add origin="https://a.example" />',
        "</cors></system.webServer></configuration>")
    [diagnostic] = check_config(xml)
    assert (diagnostic.code, diagnostic.message) == ("E201", "Unrecognized attribute 'foo:bar'")
    assert (diagnostic.line, diagnostic.column) == (2, 42)  # the attribute, not its element
