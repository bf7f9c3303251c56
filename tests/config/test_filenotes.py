"""Notes about a whole file (contract C2, C3): W101 "nothing to check" is a note, and only for a
file that is no CORS configuration at all; N101 says once per file that ``<rewrite>`` is not
interpreted."""

from __future__ import annotations

import pytest

from iiscors import check_config, load_config
from iiscors.config.diagnostics import CATALOGUE, UNRELEASED, Severity


def codes(config: bytes) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in check_config(config, name="web.config")]


def test_w101_is_a_note_with_its_history() -> None:
    info = CATALOGUE["W101"]
    assert info.severity is Severity.NOTE
    assert info.changed and info.changed[0].startswith(f"{UNRELEASED}: a note")
    (d,) = check_config(b"<configuration><system.web /></configuration>")
    assert d.code == "W101" and d.severity == "note" and d.line is None


@pytest.mark.parametrize("body", [
    # contract C2: Access-Control-* customHeaders make the file a CORS configuration
    '<system.webServer><httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" '
    'value="*" /></customHeaders></httpProtocol></system.webServer>',
    # ... in any letter case, and in a <location> too
    '<location path="api"><system.webServer><httpProtocol><customHeaders>'
    '<add name="access-control-allow-methods" value="GET" /></customHeaders></httpProtocol>'
    "</system.webServer></location>",
    # a <cors> section, enabled or not
    '<system.webServer><cors enabled="false" /></system.webServer>',
])
def test_no_w101_for_a_cors_configuration(body: str) -> None:
    config = f"<configuration>{body}</configuration>".encode()
    assert "W101" not in [code for code, _ in codes(config)]


@pytest.mark.parametrize("body", [
    "<system.web />",
    # other custom headers are not CORS
    '<system.webServer><httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY" />'
    "</customHeaders></httpProtocol></system.webServer>",
    # removing an inherited Access-Control-* header sets none
    '<system.webServer><httpProtocol><customHeaders><remove name="Access-Control-Allow-Origin" />'
    "</customHeaders></httpProtocol></system.webServer>",
])
def test_w101_for_a_file_with_neither(body: str) -> None:
    config = f"<configuration>{body}</configuration>".encode()
    assert codes(config) == [("W101", None)]


def test_a_file_with_neither_earns_at_most_a_note() -> None:
    # contract C2: a Views/Web.config (modelled on the ASP.NET MVC template) and a transform
    views = (b'<?xml version="1.0"?>\n<configuration>\n<system.webServer>\n<handlers>\n'
             b'<remove name="BlockViewHandler" />\n<add name="BlockViewHandler" path="*" '
             b'verb="*" preCondition="integratedMode" type="System.Web.HttpNotFoundHandler" />\n'
             b"</handlers>\n</system.webServer>\n</configuration>\n")
    transform = (b'<configuration xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform">'
                 b'<system.web><compilation xdt:Transform="RemoveAttributes(debug)" />'
                 b"</system.web></configuration>")
    for config in (views, transform):
        found = check_config(config, name="web.config")
        assert [(d.code, d.severity) for d in found] == [("W101", Severity.NOTE)]
        # a note is no error: the configuration loads
        assert [d.code for d in load_config(config).diagnostics] == ["W101"]


def test_no_w101_when_the_cors_headers_are_in_a_refused_section() -> None:
    # IIS refuses a second <httpProtocol> (E301) and iiscors does not read it, but its author
    # meant CORS: "nothing to check" would be wrong
    config = (b"<configuration><system.webServer>"
              b'<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY" />'
              b"</customHeaders></httpProtocol>\n"
              b'<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" value="*" />'
              b"</customHeaders></httpProtocol>"
              b"</system.webServer></configuration>")
    assert codes(config) == [("E301", 2)]


SPA = b'<rule name="SPA"><match url=".*" /><action type="Rewrite" url="/" /></rule>'


def test_n101_once_per_file_at_the_first_rewrite() -> None:
    config = (b"<configuration>\n"
              b'<system.webServer><cors enabled="true"><add origin="*" /></cors>'
              b"</system.webServer>\n"
              b'<location path="a">\n<system.webServer>\n<rewrite><rules>' + SPA + b"</rules>"
              b"</rewrite>\n</system.webServer>\n</location>\n"
              b'<location path="b"><system.webServer><rewrite><rules>' + SPA + b"</rules></rewrite>"
              b"</system.webServer></location>\n"
              b"</configuration>\n")
    found = check_config(config, name="web.config")
    assert [(d.code, d.line, d.column) for d in found] == [("N101", 5, 1)]
    assert found[0].severity is Severity.NOTE and "not interpreted" in found[0].message


def test_n101_only_for_the_url_rewrite_section() -> None:
    # a <rewrite> that is not system.webServer's (some other product's section) is not URL Rewrite
    config = (b"<configuration><rewrite /><system.webServer><httpProtocol><customHeaders>"
              b'<add name="Access-Control-Allow-Origin" value="*" /></customHeaders>'
              b"</httpProtocol></system.webServer></configuration>")
    assert codes(config) == []


def test_notes_are_given_beside_errors() -> None:
    config = (b"<configuration><system.webServer>\n<rewrite />\n"
              b'<cors enabeld="true" /></system.webServer></configuration>')
    assert codes(config) == [("N101", 2), ("E201", 3)]


def test_a_root_that_is_not_configuration_has_no_notes() -> None:
    assert codes(b"<config><system.webServer><rewrite /></system.webServer></config>") == [
        ("E106", 1)]


RECIPE = ('<rewrite><rules><rule name="CORS preflight" stopProcessing="true">'
          '<match url=".*" /><conditions>'
          '<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" ignoreCase="true" /></conditions>'
          '<action type="CustomResponse" statusCode="200" statusReason="OK" '
          'statusDescription="OK" /></rule></rules></rewrite>')
CUSTOM = ('<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" '
          'value="https://a.example" /></customHeaders></httpProtocol>')


def test_no_n101_for_a_section_holding_only_the_options_recipe() -> None:
    # contract C2: the recipe is interpreted, so nothing is "not interpreted" there
    config = (f"<configuration><system.webServer>{CUSTOM}{RECIPE}</system.webServer>"
              "</configuration>")
    assert [d.code for d in check_config(config.encode())] == []


def test_n101_for_the_recipe_beside_another_rule() -> None:
    other = RECIPE.replace("</rules>", '<rule name="SPA"><match url=".*" />'
                                       '<action type="Rewrite" url="/" /></rule></rules>')
    config = (f"<configuration><system.webServer>{CUSTOM}{other}</system.webServer>"
              "</configuration>")
    assert "N101" in [d.code for d in check_config(config.encode())]


def test_no_n101_for_rules_left_empty() -> None:
    # what `iiscors fix --migrate-custom-headers` leaves: URL Rewrite has nothing to do there
    config = (b'<configuration><system.webServer><cors enabled="true"><add origin="*" /></cors>'
              b"<rewrite><rules><!-- moved to <cors> --></rules></rewrite>"
              b"</system.webServer></configuration>")
    assert codes(config) == []
