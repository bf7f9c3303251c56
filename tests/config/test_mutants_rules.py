"""What a mutation run of iiscors/config/rules.py found unpinned (docs/mutation.md), pinned
through the public interfaces: check_config's diagnostics (code, line, column and the exact
message, contract A4-A9, E2-E6) and load_config's effective sections (contract A3, A6).

A section with a ``<clear/>`` (or anything else unusual) is read the long way, one with plain
``<add origin>`` rules only may be read in one pass (iiscors/config/fastcors.py): the cases that
build rules run both ways, so they hold whichever reader a section takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iiscors import check_config, load_config
from iiscors.cli.explain import contributing
from iiscors.config.rules import application_paths, parse_int32, split_location_path
from iiscors.config.server import ApplicationHost, analyse_server
from iiscors.config.site import analyse_site
from iiscors.policy.model import Location, OriginRule

#: The codes the rule tree's reader reports (the lint checks' are not about it)
RULE_CODES = frozenset({
    "E106", "E201", "E202", "E203", "E204", "E205", "E206", "E207", "E208", "E209", "E210",
    "E211", "E212", "E299", "E301", "E302", "E303", "E306", "E307", "W102", "W103",
})

Found = tuple[str, int | None, int | None, str]


def found(xml: str) -> list[Found]:
    """The rule tree's diagnostics for ``xml``, in file order, with their exact messages."""
    return sorted(((d.code, d.line, d.column, d.message) for d in check_config(xml.encode())
                   if d.code in RULE_CODES), key=lambda f: (f[1] or 0, f[2] or 0, f[0]))


def server(body: str) -> str:
    return f"<configuration><system.webServer>\n{body}\n</system.webServer></configuration>"


XDT = 'xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform"'

MESSAGES: list[tuple[str, str, list[Found]]] = [
    ("A1-root-element-named", "<config/>",
     [("E106", 1, 1, "The root element is <config>, not <configuration>")]),
    ("A4-unknown-attribute-quoted-as-written-with-its-prefix",
     f'<configuration {XDT} xmlns:my="urn:x"><system.webServer>\n'
     '<cors enabled="true" my:flag="1" xdt:Transform="Replace"><add origin="*"/></cors>\n'
     "</system.webServer></configuration>",
     [("E201", 2, 22, "Unrecognized attribute 'my:flag'")]),
    ("A4-attributes-after-a-transform-are-still-checked",
     f"<configuration {XDT}><system.webServer>\n"
     '<cors xdt:Transform="Replace" enabled="true" bogus="1"/>\n'
     "</system.webServer></configuration>",
     [("E201", 2, 46, "Unrecognized attribute 'bogus'")]),
    ("A6-entries-after-a-blank-key-still-count", server(
        '<cors enabled="true"><add origin=""/><add origin="https://a.example"/>'
        '<add origin="https://A.example"/></cors>'),
     [("E205", 2, 27, "Required attribute 'origin' is empty"),
      ("E302", 2, 76, "Cannot add duplicate collection entry of type 'add' with unique key "
       "attribute 'origin' set to 'https://A.example'")]),
    ("A4-missing-required-attribute-names-the-element",
     server('<cors enabled="true"><add allowed="true"/></cors>'),
     [("E204", 2, 22, "Missing required attribute 'origin' on <add>")]),
    ("A4-text-inside-an-element-and-after-a-child",
     server('<cors enabled="true"> x <add origin="*"><allowMethods/> y </add></cors>'),
     [("E203", 2, 1, "Text is not allowed inside <cors>"),
      ("E203", 2, 25, "Text is not allowed inside <add>")]),
    ("A4-unknown-element-named",
     server('<cors enabled="true"><origin/></cors>'),
     [("E202", 2, 22, "Unrecognized element 'origin'")]),
    ("A4-single-child-list-named",
     server('<cors enabled="true"><add origin="*"><allowMethods/><allowMethods/></add></cors>'),
     [("E209", 2, 53, "Element 'allowMethods' may appear only once here")]),
    ("A4-a-second-customHeaders-named",
     server("<httpProtocol><customHeaders/><customHeaders/></httpProtocol>"),
     [("E209", 2, 31, "Element 'customHeaders' may appear only once here")]),
    ("A5-boolean-and-integer-messages",
     server('<cors enabled="yes"><add origin="*" maxAge="12s"/></cors>'),
     [("E206", 2, 7, "Invalid boolean value 'yes' for attribute 'enabled' (true or false)"),
      ("E207", 2, 37, "Invalid integer value '12s' for attribute 'maxAge'")]),
    ("A5-int32-bounds", server(
        '<cors enabled="true"><add origin="https://a.example" maxAge="2147483648"/>'
        '<add origin="https://b.example" maxAge="-2147483649"/>'
        '<add origin="https://c.example" maxAge="2147483647"/>'
        '<add origin="https://d.example" maxAge="-2147483648"/></cors>'),
     [("E207", 2, 54, "Invalid integer value '2147483648' for attribute 'maxAge'"),
      ("E207", 2, 107, "Invalid integer value '-2147483649' for attribute 'maxAge'")]),
    ("A4-blank-key-and-blank-token-are-empty", server(
        '<cors enabled="true"><add origin="  "/>'
        '<add origin="*"><allowHeaders><add header=" "/></allowHeaders></add></cors>'),
     [("E205", 2, 27, "Required attribute 'origin' is empty"),
      ("E205", 2, 75, "Required attribute 'header' is empty")]),
    ("A4-control-character-quoted", server(
        '<httpProtocol><customHeaders><add name="X-A" value="a&#x9;b"/>'
        '<add name="X&#x85;B" value="b"/></customHeaders></httpProtocol>'),
     [("E208", 2, 46, "Attribute 'value' holds a control character '\\t'"),
      ("E208", 2, 68, "Attribute 'name' holds a control character '\\x85'")]),
    ("A4-every-child-checked-after-a-comment-and-an-unknown-one", server(
        '<cors enabled="true"><!-- c --><origin/><bogus/><add origin="*" bogus="1"/></cors>'),
     [("E202", 2, 32, "Unrecognized element 'origin'"),
      ("E202", 2, 41, "Unrecognized element 'bogus'"),
      ("E201", 2, 65, "Unrecognized attribute 'bogus'")]),
    ("A4-control-characters-in-keys-and-tokens", server(
        '<cors enabled="true"><add origin="https://a&#x9;.example"><allowHeaders>'
        '<add header="X&#x7F;A"/></allowHeaders><allowMethods><add method="GET&#x85;"/>'
        "</allowMethods></add></cors>"),
     [("E208", 2, 27, "Attribute 'origin' holds a control character '\\t'"),
      ("E208", 2, 78, "Attribute 'header' holds a control character '\\x7f'"),
      ("E208", 2, 131, "Attribute 'method' holds a control character '\\x85'")]),
    ("A4-header-names-are-tokens", server(
        '<cors enabled="true"><add origin="*"><allowHeaders><add header="X:A"/></allowHeaders>'
        '<exposeHeaders><add header="X&#xE9;"/></exposeHeaders></add></cors>'
        '<modules><add name="A&#x9;B"/></modules>'),
     [("E210", 2, 57, "'X:A' cannot be sent as a header name or method: attribute 'header' "
       "must be an HTTP token"),
      ("E210", 2, 106, "'X\u00e9' cannot be sent as a header name or method: attribute "
       "'header' must be an HTTP token"),
      ("E208", 2, 167, "Attribute 'name' holds a control character '\\t'")]),
    ("A4-not-a-token", server(
        '<cors enabled="true"><add origin="*"><allowMethods><add method="GE T"/>'
        "</allowMethods></add></cors>"),
     [("E210", 2, 57, "'GE T' cannot be sent as a header name or method: attribute 'method' "
       "must be an HTTP token")]),
    ("A4-value-beyond-latin-1", server(
        '<httpProtocol><customHeaders><add name="X-A" value="&#xE9;&#x20AC;"/>'
        "</customHeaders></httpProtocol>"),
     [("E210", 2, 46, "Attribute 'value' holds characters a WSGI server cannot send in a "
       "header (only ISO-8859-1 is allowed)")]),
    ("A6-duplicate-and-missing-remove-in-a-rule-list", server(
        '<cors enabled="true"><add origin="*"><exposeHeaders><add header="X-A"/>'
        '<add header="x-a"/><remove header="X-B"/></exposeHeaders></add></cors>'),
     [("E302", 2, 77, "Cannot add duplicate collection entry of type 'add' with unique key "
       "attribute 'header' set to 'x-a'"),
      ("W103", 2, 99, '<remove header="X-B"/>: no such entry in <exposeHeaders>')]),
    ("A6-clear-then-add-again-is-no-duplicate", server(
        '<cors enabled="true"><add origin="*"><allowMethods><add method="GET"/><clear/>'
        '<add method="get"/><remove method="GET"/><add method="GET"/></allowMethods></add>'
        "</cors>"),
     []),
    ("E2-location-attributes-checked", '<configuration>\n'
     '<location path="api" overrideMode="Maybe" inheritInChildApplications="no" bogus="1"/>\n'
     '<location path="b" overrideMode="Deny" allowOverride="false"/>\n'
     '<location path="c" allowOverride="perhaps"/>\n</configuration>',
     [("E211", 2, 22, "Invalid overrideMode value 'Maybe' (Allow, Deny or Inherit)"),
      ("E206", 2, 43, "Invalid boolean value 'no' for attribute 'inheritInChildApplications' "
       "(true or false)"),
      ("E201", 2, 75, "Unrecognized attribute 'bogus'"),
      ("E212", 3, 40, "overrideMode and allowOverride cannot both be set on one <location>"),
      ("E206", 4, 20, "Invalid boolean value 'perhaps' for attribute 'allowOverride' "
       "(true or false)")]),
    ("E2-a-bad-override-mode-is-reported-alone-beside-allow-override",
     '<configuration><location path="x" overrideMode="Maybe" allowOverride="false"/>'
     "</configuration>",
     [("E211", 1, 35, "Invalid overrideMode value 'Maybe' (Allow, Deny or Inherit)")]),
    ("A9-section-twice-for-a-path-and-for-the-file", '<configuration>\n'
     '<location path="/Api/"><system.webServer><cors/><cors/></system.webServer></location>\n'
     "<system.webServer><cors/></system.webServer>\n"
     "<system.webServer><cors/></system.webServer>\n</configuration>",
     [("E301", 2, 49, "Config section 'system.webServer/cors' already defined for path 'Api'. "
       "Sections must only appear once per config file"),
      ("E301", 4, 19, "Config section 'system.webServer/cors' already defined. "
       "Sections must only appear once per config file")]),
    ("A9-invalid-location-path-quoted", '<configuration>\n'
     '<location path="a\\b"/><location path="a//b"/><location path="./x"/></configuration>',
     [("E303", 2, 11, "Invalid location path 'a\\b'"),
      ("E303", 2, 33, "Invalid location path 'a//b'"),
      ("E303", 2, 56, "Invalid location path './x'")]),
    ("A1-misplaced-cors-named", '<configuration>\n<cors/>\n'
     "<location><cors/></location>\n"
     "<other><system.webServer><cors/></system.webServer></other>\n"
     '<location path="x"><other><system.webServer><cors/></system.webServer></other></location>'
     "\n</configuration>",
     [("W102", 2, 1, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's"),
      ("W102", 3, 11, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's"),
      ("W102", 4, 26, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's"),
      ("W102", 5, 45, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's")]),
    ("A1-misplaced-cors-namespaces-and-nesting", '<configuration xmlns:x="urn:x">\n'
     '<x:cors/><other><cors><cors/></cors></other>\n'
     '<system.webServer><x:cors/></system.webServer>\n</configuration>',
     # (only <cors> in no namespace is a CORS section, wherever it is nested: W102's search
     # is an XPath since issue 17, and must find what iter("cors") found, in its order)
     [("W102", 2, 17, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's"),
      ("W102", 2, 23, "This <cors> element is not under system.webServer: it is some other "
       "product's section, not the IIS CORS module's")]),
    ("E5-config-source-from-memory", server(
        '<cors configSource="c.config" enabled="true"/>'
        '<modules configSource="m.config" xdt:Transform="Replace" '
        f'{XDT}/>'),
     [("E307", 2, 1, "A section using 'configSource' may contain no other attributes or "
       "elements"),
      ("E306", 2, 7, 'configSource="c.config": a configuration read from memory has no '
       "directory to read it from"),
      ("E306", 2, 56, 'configSource="m.config": a configuration read from memory has no '
       "directory to read it from")]),
]


@pytest.mark.parametrize(("xml", "expected"), [pytest.param(x, e, id=i) for i, x, e in MESSAGES])
def test_each_problem_is_reported_once_with_its_place_and_exact_words(
        xml: str, expected: list[Found]) -> None:
    assert found(xml) == expected


# -- the rules built (contract A3, A6): both readers, the same rules ----------------------------

#: Read the long way: a <clear/> is something the one-pass reader leaves to it
LONG_WAY = "<clear/>"


def rule_values(rule: OriginRule) -> tuple[object, ...]:
    return (rule.origin, rule.allowed, rule.allow_credentials, rule.max_age,
            rule.allow_all_requested_headers, rule.allow_headers, rule.allow_methods,
            rule.expose_headers, rule.location)


@pytest.mark.parametrize("lead", ["", LONG_WAY], ids=["as-read", "the-long-way"])
def test_rule_settings_as_written_and_their_defaults(lead: str) -> None:
    config = load_config(server(
        f'<cors enabled="true" failUnlistedOrigins="true">{lead}\n'
        '<add origin="https://a.example"/>\n'
        '<add origin="https://b.example" allowed="false" allowCredentials="TRUE" maxAge="+30">'
        '<allowHeaders allowAllRequestedHeaders="true"><add header="X-A"/><add header="X-B"/>'
        '</allowHeaders><allowMethods><add method="PUT"/></allowMethods>'
        '<exposeHeaders><add header="X-E"/></exposeHeaders></add>\n'
        '<add origin="https://c.example" allowed="true" allowCredentials="false" maxAge="-5">'
        '<allowHeaders><add header="X-C"/></allowHeaders></add>\n'
        '<add origin="https://d.example"><allowHeaders allowAllRequestedHeaders="false"/>'
        "</add>\n</cors>").encode())
    section = config.scopes[()]
    assert (section.enabled, section.fail_unlisted_origins) == (True, True)
    assert section.fail_unlisted_location == Location("<bytes>", 2, 22)
    at = [Location("<bytes>", line, 6) for line in (3, 4, 5, 6)]
    assert [rule_values(r) for r in section.rules] == [
        ("https://a.example", True, False, -1, False, (), (), (), at[0]),
        ("https://b.example", False, True, 30, True, ("X-A", "X-B"), ("PUT",), ("X-E",), at[1]),
        ("https://c.example", True, False, -5, False, ("X-C",), (), (), at[2]),
        ("https://d.example", True, False, -1, False, (), (), (), at[3]),
    ]


def test_a_rule_list_resolves_clear_and_remove_keeping_the_first_spelling() -> None:
    config = load_config(server(
        '<cors enabled="true"><add origin="*"><allowHeaders>'
        '<add header="X-Old"/><clear/><add header="X-A"/><add header="X-Gone"/>'
        '<remove header="x-gone"/><add header="X-B"/></allowHeaders>'
        '<allowMethods><add method="PUT"/><remove method="put"/><add method="Delete"/>'
        "</allowMethods></add></cors>").encode())
    [rule] = config.scopes[()].rules
    assert (rule.allow_headers, rule.allow_methods) == (("X-A", "X-B"), ("Delete",))


def test_lint_quotes_the_places_of_a_rules_attributes_and_list_entries() -> None:
    # Those places are located by the long way only (lint's W203, W213-W216)
    xml = server(
        '<cors enabled="true">\n<add origin="http://a.example" allowCredentials="true" '
        'maxAge="100000">\n<allowHeaders allowAllRequestedHeaders="true"><add header="X-A"/>'
        '</allowHeaders>\n<allowMethods><add method="OPTIONS"/></allowMethods>\n'
        '<exposeHeaders><add header="Access-Control-Max-Age"/></exposeHeaders></add></cors>')
    assert [(d.code, d.line, d.column) for d in check_config(xml.encode())] == [
        ("W203", 3, 32), ("W215", 3, 56), ("W216", 4, 52), ("W213", 5, 20), ("W214", 6, 21)]


def test_custom_headers_and_modules_entries() -> None:
    config = load_config(server(
        '<cors enabled="true"/><httpProtocol><customHeaders><add name="X-Gone" value="g"/>'
        '<clear/><add name="X-Empty"/><add name="X-A" value="a"/><add name="X-B" value="b"/>'
        '<remove name="X-B"/></customHeaders></httpProtocol>'
        '<modules><add name="Other"/><remove name="CorsModule"/></modules>').encode())
    section = config.scopes[()]
    assert section.custom_headers == (("X-Empty", ""), ("X-A", "a"))
    assert [(at.line, at.column) for at in section.custom_header_locations] == [(2, 95), (2, 116)]
    assert section.cors_module is False
    assert section.module_removed_location == Location("<bytes>", 2, 252)


def test_a_locations_section_is_not_inherited_by_a_child_application_when_it_says_so() -> None:
    xml = (b'<configuration><system.webServer><cors enabled="true"/></system.webServer>'
           b'<location path="api" inheritInChildApplications="false"><system.webServer>'
           b'<cors enabled="false"/></system.webServer></location>'
           b'<location path="web" inheritInChildApplications="true"><system.webServer>'
           b'<cors enabled="false"/></system.webServer></location></configuration>')
    config = load_config(xml, applications=(("api", "v1"), ("web", "v1")))
    assert {path: s.enabled for path, s in config.scopes.items()} == {
        (): True, ("api",): False, ("api", "v1"): True, ("web",): False, ("web", "v1"): False}


# -- the helpers others call (the CLI's --application, the loaders) ---------------------------

def test_application_paths_are_folded_segments_without_duplicates() -> None:
    assert application_paths(["/Api/", "api", "/", "", "legacy/App", "/legacy/app/"]) == (
        ("api",), ("legacy", "app"))
    for bad in ("a/../b", "./x", "a\\b", "a//b"):
        with pytest.raises(ValueError) as refused:
            application_paths([bad])
        assert str(refused.value) == (f"{bad!r} is not an application path: write plain "
                                      "segments such as /api or /legacy/app")


def test_location_paths_and_int32() -> None:
    assert split_location_path(" /A/b/ ") == ("a", "b")
    assert split_location_path("/XX/aX/") == ("xx", "ax")  # only "/" and spaces are trimmed
    assert split_location_path(".") == split_location_path(" / ") == ()
    assert [split_location_path(p) for p in ("..", "a/.", "a\\b", "a//b")] == [None] * 4
    assert [parse_int32(v) for v in ("2147483647", "-2147483648", "+7", "007")] == [
        2**31 - 1, -(2**31), 7, 7]
    assert [parse_int32(v) for v in ("2147483648", "-2147483649", " 7", "7 ", "", "1e3")] == [
        None] * 6


# -- files on disk: configSource (contract E5) and locks (contract E2) ------------------------

def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def site_found(root: Path) -> list[tuple[str, str, int | None, int | None, str, list[object]]]:
    return sorted((d.code, Path(d.file).relative_to(root).as_posix(), d.line, d.column,
                   d.message, [(r.note, r.line, r.column) for r in d.related])
                  for d in analyse_site(root, all_or_nothing=False).diagnostics if d.is_error)


def test_config_source_files_are_read_checked_and_refused_in_place(tmp_path: Path) -> None:
    write(tmp_path, {
        "web.config": "<configuration><system.webServer>\n"
                      '<cors configSource="cors.config"/>\n'
                      '<httpProtocol configSource="hp.config"/>\n'
                      '<modules configSource="mods.config"/>\n</system.webServer>\n'
                      '<location path="api"><system.webServer><cors configSource="api.config"/>'
                      "</system.webServer></location>\n</configuration>\n",
        "cors.config": '<cors enabled="true">\n<add origin="https://a.example"/></cors>\n',
        "hp.config": '<httpProtocol configSource="x.config"/>\n',
        "mods.config": "<system.webServer/>\n",
        "api.config": '<cors enabled="true" bogus="1"/>\n',
    })
    assert [(d.code, Path(d.file).name, d.line, d.column, d.message)
            for d in check_config(tmp_path / "web.config")] == [
        ("E201", "api.config", 1, 22, "Unrecognized attribute 'bogus'"),
        ("E306", "hp.config", 1, 15, "A configSource file cannot use configSource itself"),
        ("E306", "mods.config", 1, 1, "The root element of this configSource file is "
         "<system.webServer>, not <modules>"),
    ]


def test_an_error_in_a_config_source_file_breaks_only_the_scope_that_reads_it(
        tmp_path: Path) -> None:
    write(tmp_path, {
        "web.config": '<configuration><system.webServer><cors configSource="cors.config"/>'
                      '</system.webServer><location path="api"><system.webServer>'
                      '<cors configSource="api.config"/></system.webServer></location>'
                      "</configuration>\n",
        "cors.config": '<cors enabled="true"><add origin="https://a.example"/></cors>\n',
        "api.config": '<cors enabled="true" bogus="1"/>\n',
    })
    config = analyse_site(tmp_path, all_or_nothing=False).config
    assert config is not None
    assert {path: (s.unusable, s.enabled, [r.origin for r in s.rules])
            for path, s in config.scopes.items()} == {
        (): (False, True, ["https://a.example"]), ("api",): (True, True, ["https://a.example"])}
    assert [Path(p).name for p in config.includes] == ["cors.config", "api.config"]
    assert [(d.code, Path(d.file).name) for d in config.errors] == [("E201", "api.config")]


def test_a_lower_file_cannot_remove_locked_items_or_set_locked_attributes(
        tmp_path: Path) -> None:
    write(tmp_path, {
        "web.config": '<configuration><system.webServer>\n<cors enabled="true" '
                      'lockAttributes="enabled"><add origin="https://a.example" lockItem="true"/>'
                      '<add origin="https://b.example" lockItem="false"/></cors>\n'
                      '<httpProtocol><customHeaders><add name="X-A" value="1" lockItem="true"/>'
                      "</customHeaders></httpProtocol>\n</system.webServer></configuration>\n",
        "api/web.config": f"<configuration {XDT}><system.webServer>\n"
                          '<cors xdt:Transform="Replace" enabled="false">\n'
                          '<remove origin="https://a.example"/>\n'
                          '<remove origin="https://b.example"/>\n</cors>\n'
                          '<httpProtocol><customHeaders><remove name="X-A"/></customHeaders>'
                          "</httpProtocol>\n</system.webServer></configuration>\n",
    })
    item = "is locked at a parent level (lockItem)"
    assert site_found(tmp_path) == [
        ("E305", "api/web.config", 2, 31, "Lock violation: the attribute 'enabled' of <cors> "
         "is locked at a parent level", [("locked at", 2, 22)]),
        ("E305", "api/web.config", 3, 9, f"Lock violation: the entry "
         f"origin='https://a.example' {item}", [("locked at", 2, 79)]),
        ("E305", "api/web.config", 6, 38, f"Lock violation: the entry name='X-A' {item}",
         [("locked at", 3, 56)]),
    ]


@pytest.mark.parametrize("lead", ["", LONG_WAY], ids=["as-read", "the-long-way"])
def test_lock_attributes_transforms_and_config_system_attributes_are_not_settings(
        tmp_path: Path, lead: str) -> None:
    write(tmp_path, {
        "web.config": '<configuration><system.webServer><cors enabled="true" '
                      'lockAllAttributesExcept="failUnlistedOrigins" lockElements="clear"/>'
                      "</system.webServer></configuration>\n",
        "api/web.config": f"<configuration {XDT}><system.webServer>\n"
                          '<cors xdt:Transform="Replace" lockElements="add" '
                          f'failUnlistedOrigins="true">{lead}\n'
                          '<add origin="https://a.example"/></cors>\n'
                          "</system.webServer></configuration>\n",
    })
    errors = site_found(tmp_path)
    assert [(code, line, column) for code, _, line, column, _, _ in errors] == (
        [("E305", 2, 77)] if lead else [])


@pytest.mark.parametrize("lead", ["", LONG_WAY], ids=["as-read", "the-long-way"])
def test_locked_elements_are_reported_at_each_element_below(tmp_path: Path, lead: str) -> None:
    write(tmp_path, {
        "web.config": '<configuration><system.webServer><cors enabled="true" lockElements="add"/>'
                      "</system.webServer></configuration>\n",
        "api/web.config": "<configuration><system.webServer>\n"
                          f'<cors>{lead}\n<add origin="https://a.example"/>\n'
                          '  <add origin="https://b.example"/></cors>\n'
                          "</system.webServer></configuration>\n",
    })
    assert [(code, line, column) for code, _, line, column, _, _ in site_found(tmp_path)] == (
        [("E305", 3, 1), ("E305", 4, 3)])


# -- an applicationHost.config's <location> entries (contract E4) -----------------------------

SAMPLE_APPHOST = Path(__file__).resolve().parents[2] / "sample_configs" / "applicationHost.config"


def test_an_apphost_reads_its_sites_locations_and_skips_the_other_sites(tmp_path: Path) -> None:
    # Another site's location comes first, with a path this site would refuse: skipped, not
    # reported, and the locations after it are still read.
    text = SAMPLE_APPHOST.read_text(encoding="utf-8").replace(
        '    <location path="Default Web Site/api">',
        '    <location path="Contoso Intranet/a/../b"><system.webServer><cors enabled="false"/>'
        '</system.webServer></location>\n    <location path="Default Web Site/api">', 1)
    (tmp_path / "applicationHost.config").write_text(text, encoding="utf-8")
    for name in ("wwwroot", "api", "shared/assets"):
        write(tmp_path / "inetpub", {f"{name}/web.config": "<configuration/>"})
    host = ApplicationHost(tmp_path / "applicationHost.config", "Default Web Site",
                           [f"C:\\inetpub={tmp_path / 'inetpub'}"])
    analysis = analyse_server(host, all_or_nothing=False)
    assert [d.code for d in analysis.diagnostics if d.is_error] == []
    assert analysis.config is not None
    api = analysis.config.scopes[("api",)]
    assert (api.enabled, api.fail_unlisted_origins, [r.origin for r in api.rules]) == (
        True, True, ["https://www.contoso.com"])
    assert analysis.config.scopes[()].enabled is False


def test_section_locks_of_a_location_and_the_scopes_its_errors_break(tmp_path: Path) -> None:
    below = '<configuration><system.webServer><cors enabled="true"/></system.webServer>' \
            "</configuration>\n"
    write(tmp_path, {
        "web.config": "<configuration>\n"
                      '<system.webServer><cors enabled="true"/></system.webServer>\n'
                      '<location path="api" overrideMode=" DENY "><system.webServer><cors/>'
                      "</system.webServer></location>\n"
                      '<location path="b" allowOverride="False"><system.webServer><cors/>'
                      "</system.webServer></location>\n"
                      '<location path="c" allowOverride="true"><system.webServer><cors/><cors/>'
                      "</system.webServer></location>\n"
                      '<location path="d" inheritInChildApplications="maybe"/>\n'
                      '<location path="e"><system.webServer>'
                      '<cors configSource="missing.config"/></system.webServer></location>\n'
                      "</configuration>\n",
        "api/web.config": below, "b/web.config": below, "c/web.config": below,
    })
    locked = ("This configuration section cannot be used at this path. This happens when the "
              "section is locked at a parent level (system.webServer/cors is locked with ")
    assert site_found(tmp_path) == [
        ("E206", "web.config", 6, 20, "Invalid boolean value 'maybe' for attribute "
         "'inheritInChildApplications' (true or false)", []),
        ("E301", "web.config", 5, 66, "Config section 'system.webServer/cors' already defined "
         "for path 'c'. Sections must only appear once per config file", []),
        ("E304", "api/web.config", 1, 34, locked + 'overrideMode=" DENY ")',
         [("locked at", 3, 22)]),
        ("E304", "b/web.config", 1, 34, locked + 'allowOverride="False")', [("locked at", 4, 20)]),
        ("E306", "web.config", 7, 44, 'configSource="missing.config" cannot be read: No such '
         "file or directory", []),
    ]
    config = analyse_site(tmp_path, all_or_nothing=False).config
    assert config is not None
    assert {path: s.unusable for path, s in config.scopes.items()} == {
        (): False, ("api",): True, ("b",): True, ("c",): True, ("d",): True, ("e",): True}


def test_a_config_source_section_holds_nothing_else_but_comments_and_transforms() -> None:
    xml = server(f'<cors configSource="c.config" {XDT} xdt:Locator="Match(x)"><!-- c --></cors>'
                 '<httpProtocol configSource="h.config"> text </httpProtocol>'
                 '<modules configSource="m.config"><add name="X"/></modules>')
    assert [(code, column) for code, _, column, _ in found(xml)] == [
        ("E306", 7), ("E307", 135), ("E306", 149), ("E307", 194), ("E306", 203)]


def test_blank_keys_make_no_entries() -> None:
    xml = server('<cors enabled="true"><add origin=""/><add origin=" "/><remove origin=""/>'
                 '<add origin="*"><allowHeaders><add header=""/><add header=""/>'
                 '<remove header=" "/></allowHeaders></add></cors>')
    assert [(code, column) for code, _, column, _ in found(xml)] == [
        ("E205", 27), ("E205", 43), ("E205", 63), ("E205", 109), ("E205", 125), ("E205", 144)]


def test_locked_elements_of_other_sections_are_their_own_beside_a_plain_cors(
        tmp_path: Path) -> None:
    write(tmp_path, {
        "web.config": '<configuration><system.webServer><modules lockElements="remove"/>'
                      "</system.webServer></configuration>\n",
        "api/web.config": "<configuration><system.webServer>\n"
                          '<cors enabled="true"><add origin="https://a.example"/></cors>\n'
                          '<modules><remove name="WebDAVModule"/></modules>\n'
                          "</system.webServer></configuration>\n",
    })
    assert [(code, line, column) for code, _, line, column, _, _ in site_found(tmp_path)] == [
        ("E305", 3, 10)]


# -- where each level's sections are written (contract A4, A9, C2, E2) -------------------------

def test_three_sections_for_one_location_are_two_errors_named_by_its_trimmed_path() -> None:
    """Contract A4: every section written again for one path is "already defined", not only the
    first repeat; the path is named as written, only its slashes and spaces trimmed."""
    xml = ('<configuration>\n<location path=" /Xbox/ "><system.webServer>\n'
           '<cors enabled="true"/>\n<cors enabled="false"/>\n<cors/>\n'
           "</system.webServer></location>\n</configuration>")
    message = ("Config section 'system.webServer/cors' already defined for path 'Xbox'. "
               "Sections must only appear once per config file")
    assert found(xml) == [("E301", 4, 1, message), ("E301", 5, 1, message)]


def test_a_location_without_a_path_is_the_level_itself() -> None:
    """Contract A9: a ``<location>`` with no ``path`` is ``path=""``: the file's own level."""
    config = load_config(b'<configuration><location><system.webServer>'
                         b'<cors enabled="true"><add origin="https://a.example"/></cors>'
                         b"</system.webServer></location></configuration>")
    assert [level.path for level in config.levels] == [()]
    assert [rule.origin for rule in config.section_for("/x").rules] == ["https://a.example"]


def test_only_the_system_webserver_of_a_location_holds_its_sections() -> None:
    """Contract A4/W102: a ``<cors>`` under a location's other element (here ``system.web``) is
    another product's section: warned about, never read as CORS configuration."""
    xml = ('<configuration>\n<location path="api"><system.webServer/>\n<system.web>'
           '<cors enabled="true"><add origin="https://a.example"/></cors></system.web>\n'
           "</location>\n</configuration>")
    assert [code for code, _, _, _ in found(xml)] == ["W102"]
    section = load_config(xml.encode()).section_for("/api/x")
    assert (section.cors_configured, section.rules) == (False, ())


def test_explain_names_the_location_that_holds_a_section() -> None:
    """Contract A9 (what explain shows, from each level's place): a ``<location path>``'s
    sections are its own, a file's ``system.webServer`` sections the file's."""
    config = load_config(b'<configuration>\n<system.webServer><cors enabled="true"/>'
                         b"</system.webServer>\n"
                         b'<location path="api"><system.webServer><cors enabled="false"/>'
                         b"</system.webServer></location>\n</configuration>")
    assert [(level.path, level.location and (level.location.line, level.location.column))
            for level in config.levels] == [((), None), (("api",), (3, 1))]
    assert [(name, place, where.line) for name, place, where in contributing(config, "/api/x")
            ] == [("cors", None, 2), ("cors", "api", 3)]


def test_a_sub_directory_rewrite_section_is_no_lock_matter(tmp_path: Path) -> None:
    """Contract C2 and E2: ``<rewrite>`` is read for the OPTIONS recipe only; the lock checks
    of a sub-directory's sections under a locked parent never look at it."""
    write(tmp_path, {
        "web.config": '<configuration><location path="api" overrideMode="Deny">'
                      '<system.webServer><cors enabled="true"/></system.webServer></location>'
                      "</configuration>\n",
        "api/web.config": "<configuration><system.webServer>\n"
                          '<rewrite><rules><clear/></rules></rewrite>\n'
                          "</system.webServer></configuration>\n",
    })
    assert site_found(tmp_path) == []
