"""customHeaders CORS lint (contract C1, C3): one table row per code that fires and per near miss
that must not, each with the line of the ``<add>`` it must point at; then scoping (a
``<location>`` or a sub-directory adds or removes a header) and "reported once"."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from iiscors import check_config
from iiscors.config.diagnostics import CATALOGUE, Severity
from iiscors.config.load import SourceFile, analyse

#: the lint codes of this room: every one must have a firing row below
CUSTOM_HEADER_CODES = {code for code in CATALOGUE if code.startswith(("W3", "N3"))}


def headers(*adds: str, extra: str = "") -> bytes:
    """A web.config whose customHeaders ``<add>`` elements are on lines 5, 6, 7..."""
    lines = "\n".join(f'<add name="{name}" value="{value}" />'
                      for name, _, value in (add.partition(": ") for add in adds))
    return ("<configuration>\n<system.webServer>\n<httpProtocol>\n<customHeaders>\n"
            f"{lines}\n</customHeaders>\n</httpProtocol>\n{extra}\n</system.webServer>\n"
            "</configuration>\n").encode()


ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
ACEH = "Access-Control-Expose-Headers"
ACMA = "Access-Control-Max-Age"


@dataclass(frozen=True)
class Case:
    id: str
    config: bytes
    #: (code, line) pairs that must be reported; nothing else may be
    expected: tuple[tuple[str, int | None], ...]


FIRES = [
    Case("W301 * with credentials, at the credentials add",
         headers(f"{ACAO}: *", f"{ACAC}: true"), (("W301", 6),)),
    Case("W301 whatever the order", headers(f"{ACAC}: true", f"{ACAO}: *"), (("W301", 5),)),
    Case("W302 two origins with a comma",
         headers(f"{ACAO}: https://a.example.com,https://b.example.com"), (("W302", 5),)),
    Case("W302 two origins with a space",
         headers(f"{ACAO}: https://a.example.com https://b.example.com"), (("W302", 5),)),
    Case("W302 two origins with a semicolon",
         headers(f"{ACAO}: https://a.example.com; https://b.example.com"), (("W302", 5),)),
    Case("W302 * and an origin", headers(f"{ACAO}: *, https://a.example.com"), (("W302", 5),)),
    Case("W303 trailing slash", headers(f"{ACAO}: https://app.example.com/"), (("W303", 5),)),
    Case("W303 a path", headers(f"{ACAO}: https://app.example.com/api"), (("W303", 5),)),
    Case("W303 and W304 both", headers(f"{ACAO}: https://App.example.com/"),
         (("W303", 5), ("W304", 5))),
    Case("W304 a host pattern", headers(f"{ACAO}: *.example.com"), (("W304", 5),)),
    Case("W304 a scheme pattern", headers(f"{ACAO}: https://*.example.com"), (("W304", 5),)),
    Case("W304 no scheme", headers(f"{ACAO}: localhost:4200"), (("W304", 5),)),
    Case("W304 upper case", headers(f"{ACAO}: https://App.example.com"), (("W304", 5),)),
    Case("W304 default port", headers(f"{ACAO}: https://app.example.com:443"), (("W304", 5),)),
    Case("W304 a template", headers(f"{ACAO}: https://{{host}}"), (("W304", 5),)),
    Case("W304 empty", headers(f"{ACAO}: "), (("W304", 5),)),
    Case("W304 a stray comma", headers(f"{ACAO}: https://a.example.com,"), (("W304", 5),)),
    Case("W304 not an origin", headers(f"{ACAO}: https://exa_mple..com"), (("W304", 5),)),
    Case("W305 null", headers(f"{ACAO}: null"), (("W305", 5),)),
    Case("W306 True", headers(f"{ACAO}: https://a.example.com", f"{ACAC}: True"),
         (("W306", 6),)),
    Case("W306 yes", headers(f"{ACAC}: yes"), (("W306", 5),)),
    Case("W306 empty", headers(f"{ACAC}: "), (("W306", 5),)),
    Case("W307 * methods with credentials",
         headers(f"{ACAO}: https://a.example.com", f"{ACAC}: true", f"{ACAM}: *"),
         (("W307", 7), ("N301", 7))),
    Case("W307 * headers in a list with credentials",
         headers(f"{ACAO}: https://a.example.com", f"{ACAC}: true", f"{ACAH}: Content-Type, *"),
         (("W307", 7), ("N301", 7))),
    Case("W307 * expose with credentials",
         headers(f"{ACAO}: https://a.example.com", f"{ACAC}: true", f"{ACEH}: *"),
         (("W307", 7),)),
    Case("W308 a misspelled name", headers("Access-Control-Allow-Method: GET"), (("W308", 5),)),
    Case("W308 a request header", headers("Access-Control-Request-Headers: x"), (("W308", 5),)),
    Case("W309 not a number", headers(f"{ACMA}: 1d"), (("W309", 5), ("N301", 5))),
    Case("W309 negative", headers(f"{ACMA}: -1"), (("W309", 5), ("N301", 5))),
    Case("W215 above what Chromium honours", headers(f"{ACMA}: 86400"),
         (("W215", 5), ("N301", 5))),
    Case("N301 allow-methods", headers(f"{ACAO}: *", f"{ACAM}: GET, POST"), (("N301", 6),)),
    Case("N301 allow-headers", headers(f"{ACAO}: *", f"{ACAH}: Content-Type"), (("N301", 6),)),
    Case("N301 private network",
         headers("Access-Control-Allow-Private-Network: true"), (("N301", 5),)),
    Case("N302 false", headers(f"{ACAO}: https://a.example.com", f"{ACAC}: false"),
         (("N302", 6),)),
]

QUIET = [
    Case("* alone", headers(f"{ACAO}: *"), ()),
    Case("one origin with credentials",
         headers(f"{ACAO}: https://app.example.com", f"{ACAC}: true"), ()),
    Case("a port that is not the default", headers(f"{ACAO}: http://localhost:4200"), ()),
    Case("white space around values is stripped (RFC 9110)",
         headers(f"{ACAO}:  https://app.example.com ", f"{ACAC}: true "), ()),
    Case("* lists without credentials are wildcards",
         headers(f"{ACAO}: *", f"{ACEH}: *"), ()),
    Case("* with credentials false is not W301", headers(f"{ACAO}: *", f"{ACAC}: false"),
         (("N302", 6),)),
    Case("Max-Age within what browsers honour", headers(f"{ACMA}: 600"), (("N301", 5),)),
    Case("other headers are not ours (so the file is no CORS configuration: W101)",
         headers("X-Frame-Options: DENY", "Vary: *"), (("W101", None),)),
    Case("the name's letter case does not matter",
         headers("access-control-allow-origin: *"), ()),
    Case("credentials with no Allow-Origin (the application may send it)",
         headers(f"{ACAC}: true"), ()),
]


def codes_and_lines(config: bytes) -> list[tuple[str, int | None]]:
    found = check_config(config, name="web.config")
    assert not [d for d in found if d.is_error], [str(d) for d in found]
    return sorted((d.code, d.line) for d in found)


@pytest.mark.parametrize("case", FIRES + QUIET, ids=lambda case: case.id)
def test_header_lint(case: Case) -> None:
    assert codes_and_lines(case.config) == sorted(case.expected)


def test_every_custom_header_code_has_a_firing_case() -> None:
    fired = {code for case in FIRES for code, _ in case.expected}
    assert fired >= CUSTOM_HEADER_CODES
    assert sorted(CUSTOM_HEADER_CODES) == ["N301", "N302", "W301", "W302", "W303", "W304", "W305",
                                           "W306", "W307", "W308", "W309"]


def test_severities_and_fixes() -> None:
    # contract C3: the customHeaders problems are warnings; the harmless ones are notes
    for code in CUSTOM_HEADER_CODES:
        expected = Severity.NOTE if code.startswith("N") else Severity.WARNING
        assert CATALOGUE[code].severity is expected
        assert CATALOGUE[code].fix and "\n" not in CATALOGUE[code].fix  # a one-line fix
    found = check_config(headers(f"{ACAO}: *", f"{ACAC}: true"), name="web.config")
    (w301,) = found
    assert (w301.file, w301.line, w301.column) == ("web.config", 6, 6)  # the name attribute
    assert w301.fix == CATALOGUE["W301"].fix
    assert "web.config:5" in w301.message  # where the * is


def test_the_message_quotes_the_value() -> None:
    (w302,) = check_config(headers(f"{ACAO}: https://a.example https://b.example"))
    assert "https://a.example https://b.example" in w302.message and "2 origins" in w302.message
    (w308,) = check_config(headers("Access-Control-Allow-Origins: *"))
    assert "did you mean Access-Control-Allow-Origin?" in w308.message


# -- scopes (contract A9): customHeaders are added, removed and inherited like <cors> ------------

def located(body: str) -> bytes:
    """A web.config: line 1 <configuration>, then ``body``'s lines from line 2."""
    return f"<configuration>\n{body}\n</configuration>\n".encode()


ROOT_STAR = ("<system.webServer><httpProtocol><customHeaders>\n"
             f'<add name="{ACAO}" value="*" />\n'
             "</customHeaders></httpProtocol></system.webServer>")


def test_credentials_added_in_a_location_fire_there_once() -> None:
    config = located(ROOT_STAR + "\n"
                     '<location path="api"><system.webServer><httpProtocol><customHeaders>\n'
                     f'<add name="{ACAC}" value="true" />\n'
                     "</customHeaders></httpProtocol></system.webServer></location>\n"
                     '<location path="api/v2"><system.webServer><httpProtocol><customHeaders>\n'
                     '<add name="X-Version" value="2" />\n'
                     "</customHeaders></httpProtocol></system.webServer></location>")
    found = check_config(config, name="web.config")
    # /api and /api/v2 both inherit the problem: one diagnostic, at the <add> that causes it
    assert [(d.code, d.line) for d in found] == [("W301", 6)]
    assert "at /api" in found[0].message


def test_a_location_that_removes_the_credentials_is_clean() -> None:
    config = located("<system.webServer><httpProtocol><customHeaders>\n"
                     f'<add name="{ACAO}" value="https://app.example.com" />\n'
                     f'<add name="{ACAC}" value="true" />\n'
                     "</customHeaders></httpProtocol></system.webServer>\n"
                     '<location path="public"><system.webServer><httpProtocol><customHeaders>\n'
                     f'<remove name="{ACAO}" /><add name="{ACAO}" value="*" />\n'
                     f'<remove name="{ACAC}" />\n'
                     "</customHeaders></httpProtocol></system.webServer></location>")
    assert codes_and_lines(config) == []


def test_a_location_that_widens_to_star_fires_at_the_inherited_credentials() -> None:
    config = located("<system.webServer><httpProtocol><customHeaders>\n"
                     f'<add name="{ACAO}" value="https://app.example.com" />\n'
                     f'<add name="{ACAC}" value="true" />\n'
                     "</customHeaders></httpProtocol></system.webServer>\n"
                     '<location path="public"><system.webServer><httpProtocol><customHeaders>\n'
                     f'<remove name="{ACAO}" /><add name="{ACAO}" value="*" />\n'
                     "</customHeaders></httpProtocol></system.webServer></location>")
    found = check_config(config, name="web.config")
    assert [(d.code, d.line) for d in found] == [("W301", 4)]
    assert "web.config:7" in found[0].message and "at /public" in found[0].message


def test_a_sub_directory_file_is_a_scope_too() -> None:
    root = headers(f"{ACAO}: *")
    sub = headers(f"{ACAC}: true")
    _, found = analyse([SourceFile(root, (), "web.config"),
                        SourceFile(sub, ("api",), "api/web.config")])
    assert [(d.code, d.file, d.line) for d in found] == [("W301", "api/web.config", 5)]


def test_an_inherited_problem_is_reported_once() -> None:
    config = located("<system.webServer><httpProtocol><customHeaders>\n"
                     f'<add name="{ACAO}" value="https://a.example/" />\n'
                     "</customHeaders></httpProtocol></system.webServer>\n"
                     + "\n".join(f'<location path="p{i}"><system.webServer><httpProtocol>'
                                 f'<customHeaders><add name="X-{i}" value="1" /></customHeaders>'
                                 "</httpProtocol></system.webServer></location>"
                                 for i in range(5)))
    assert codes_and_lines(config) == [("W303", 3)]


# -- W220: customHeaders beside an enabled <cors> (contract C1), at the <add> ---------------------

def test_w220_is_at_each_add_and_only_where_cors_is_enabled() -> None:
    config = located("<system.webServer>\n"
                     '<cors enabled="true"><add origin="https://app.example.com" /></cors>\n'
                     "<httpProtocol><customHeaders>\n"
                     f'<add name="{ACAO}" value="https://app.example.com" />\n'
                     '<add name="X-Frame-Options" value="DENY" />\n'
                     "</customHeaders></httpProtocol></system.webServer>\n"
                     '<location path="off"><system.webServer><cors enabled="false" />'
                     "</system.webServer></location>")
    found = check_config(config, name="web.config")
    assert [(d.code, d.line, d.column) for d in found] == [("W220", 5, 6)]
