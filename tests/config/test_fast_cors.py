"""The one-pass ``<cors>`` reader (iiscors.config.fastcors, issue 17) says what the long way says.

Every file is read twice, once as the loader reads it and once with the one-pass reader switched
off (the generic A4/A5 walk, lxml's XSD and the typed builders): the diagnostics (codes,
messages, places, order, lint included) and the rules must be the same.  The files: every corpus
and sample web.config, and generated ones mixing plain rules with every kind of unusual one.
A section the one-pass reader accepts is also shown to hold nothing lxml's XSD would refuse,
which is why that reader skips the XSD.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import iiscors.config.rules as rules_module
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.fastcors import (
    _PLAIN_KEY,
    PlainCors,
    RuleChildren,
    _plain_keys,
    read_plain_cors,
)
from iiscors.config.load import Config, SourceFile, analyse
from iiscors.config.loader import _MARKUP, Locator, parse_bytes
from iiscors.config.schema import schema_violations
from iiscors.policy.model import OriginRule, RuleTable

from support import start_tags

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webconfigs"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
LIMIT = 4 * 2**20

#: Rules the one-pass reader reads itself
PLAIN_RULES = (
    '<add origin="https://a{n}.example" />',
    '<add origin="https://a{n}.example" allowCredentials="true"><allowMethods>'
    '<add method="GET"/></allowMethods></add>',
    "<add origin='http://b{n}.example' allowed='False' maxAge='600'/>",
    '<add origin="https://*.c{n}.example" allowed="true"><allowHeaders>'
    '<add header="X-A"/><add header="x-b" /></allowHeaders></add>',
    '<add origin="https://d{n}.example"><allowMethods><add method="PUT"/><!-- c -->'
    '<add method="patch"/></allowMethods>\n  </add>',
    '<add origin="https://e{n}.example" maxAge="-1"><allowHeaders allowAllRequestedHeaders='
    '"false"/></add>',
    "<!-- a comment between rules -->",
    # credentials on a host wildcard over https: lint may report at its places (W201-W203)
    '<add origin="https://*.w{n}.example" allowCredentials="true"/>',
    # a header of its own exposed: nothing for lint to report at (W214 is about
    # Access-Control-* names), so read in one pass without places (issue 17)
    '<add origin="https://x{n}.example" allowCredentials="true"><exposeHeaders>'
    '<add header="X-E"/><add header="X-Access-Control"/></exposeHeaders></add>',
    # white space inside an entry is fine (contract A4), and read in one pass
    '<add origin="https://f{n}.example"><allowMethods><add method="GET"> </add>'
    '<add method="PUT">\n</add></allowMethods> </add>',
)
#: Rules (and other children) it hands to the long way, or reads with their places for lint
UNUSUAL_RULES = (
    # origins that are not printable ASCII without spaces (fastcors._PLAIN_KEY): W223, W204
    '<add origin="https://ü{n}.example"/>', '<add origin="https://a{n} .example"/>',
    '<add origin="https://İ{n}.example"/>',
    # the one-pass reader's guards, each broken by a mutant of fastcors.py that no case caught:
    # text that is white space to Python but not to XML, in every place of a rule's lists
    '<add origin="https://n{n}.example"><allowMethods>&#160;<add method="GET"/></allowMethods>'
    '</add>',
    '<add origin="https://n{n}.example"><allowMethods><add method="GET"/>&#160;</allowMethods>'
    '</add>',
    '<add origin="https://n{n}.example"><allowMethods><add method="GET">&#160;</add>'
    '</allowMethods></add>',
    '<add origin="https://n{n}.example"><allowMethods/>&#160;</add>',
    # an entry with a child or a second attribute, a list with an attribute it does not have
    '<add origin="https://g{n}.example"><allowMethods><add method="GET"><x/></add>'
    '</allowMethods></add>',
    '<add origin="https://g{n}.example"><allowMethods><add method="GET" x="1"/></allowMethods>'
    '</add>',
    '<add origin="https://g{n}.example"><allowMethods x="1"><add method="GET"/></allowMethods>'
    '</add>',
    '<add origin="https://g{n}.example"><allowHeaders allowAllRequestedHeaders="true" x="1">'
    '<add header="X-A"/></allowHeaders></add>',
    # text that is white space to Python but not to XML, after a rule (A4: E203 both ways)
    '<add origin="https://t{n}.example"/>&#160;', '<add origin="https://t{n}.example"/>&#x2028;',
    '<add origin="https://u{n}.example" unknown="1"/>',
    '<add origin="https://u{n}.example" allowed="yes"/>',
    '<add origin="https://u{n}.example" maxAge="99999999999"/>',
    '<add origin="https://u{n}.example" maxAge="9000"/>',
    '<add origin="https://u{n}.example" lockItem="true"/>',
    '<add origin="" />',
    '<add origin=" https://u{n}.example"/>',
    '<add origin="https://ü{n}.example"/>',
    '<add origin="https://u{n}.example">text</add>',
    '<add allowed="true" origin="https://u{n}.example"/>',
    '<add\n   origin="https://u{n}.example"\n   allowCredentials="true"/>',
    '<add\torigin="https://u{n}.example"/>',
    '<add origin = "https://u{n}.example"/>',
    '<add origin="http://u{n}.example" allowCredentials="true"/>',
    '<add origin="*" allowCredentials="true"/>',
    '<add origin="https://*" allowCredentials="true"/>',
    '<add origin="https://u{n}.example"><allowMethods><add method="OPTIONS"/></allowMethods>'
    '</add>',
    # W214 may fire: exposing an Access-Control-* header, whatever its case
    '<add origin="https://u{n}.example"><exposeHeaders><add header="X-E"/>'
    '<add header="access-Control-Allow-Origin"/></exposeHeaders></add>',
    '<add origin="https://u{n}.example"><allowHeaders allowAllRequestedHeaders="true">'
    '<add header="X-A"/></allowHeaders></add>',
    '<add origin="https://u{n}.example"><allowMethods><add method="GET"/><add method="get"/>'
    '</allowMethods></add>',
    '<add origin="https://u{n}.example"><allowMethods><add method="G T"/></allowMethods></add>',
    '<add origin="https://u{n}.example"><allowMethods><remove method="GET"/></allowMethods>'
    '</add>',
    '<add origin="https://u{n}.example"><allowMethods><clear/></allowMethods></add>',
    '<add origin="https://u{n}.example"><allowMethods/><allowMethods/></add>',
    '<add origin="https://u{n}.example"><other/></add>',
    '<add origin="HTTPS://U{n}.example:443/"/>',
    '<add origin="https://a1.example"/>',  # a duplicate of a plain rule's origin
    '<remove origin="https://a2.example"/>',
    "<clear/>",
    "<?pi something?>",
    "stray text",
    '<add origin="https://u{n}.example" xmlns:x="urn:x" x:y="1"/>',
    '<add origin="https://u{n}.example" xdt:Transform="Insert" '
    'xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform"/>',
)
#: ``<configuration>`` declaring namespaces the sections below may use (or not)
NAMESPACES = (b'<configuration xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform">',
              b'<configuration xmlns:b="urn:b&amp;c" xmlns:xdt="urn:x">')
SECTION_HEADS = (
    '<cors enabled="true">',
    '<cors enabled="true" failUnlistedOrigins="true">',
    "<cors>",
    '<cors enabled="TRUE" failUnlistedOrigins="False">',
    '<cors enabled="maybe">',
    '<cors enabled="true" lockElements="add">',
    '<cors enabled="true" other="1">',
)


def webconfig(head: str, rules: list[str], *, location: str = "") -> bytes:
    body = "\n    ".join(rules)
    section = f"<system.webServer>\n  {head}\n    {body}\n  </cors>\n </system.webServer>"
    if location:
        section += (f'\n <location path="{location}"><system.webServer><cors enabled="true">'
                    f'<add origin="https://loc.example"/></cors></system.webServer></location>')
    return f'<?xml version="1.0"?>\n<configuration>\n {section}\n</configuration>\n'.encode()


def generated(count: int) -> Iterator[tuple[str, bytes]]:
    """Files of plain rules with now and then one unusual rule or section head."""
    rng = random.Random(1717)
    for number in range(count):
        rules = [rng.choice(PLAIN_RULES).format(n=n) for n in range(rng.randint(1, 12))]
        if number % 3:
            rules.insert(rng.randrange(len(rules) + 1),
                         rng.choice(UNUSUAL_RULES).format(n=number))
        head = SECTION_HEADS[0] if number % 4 else rng.choice(SECTION_HEADS)
        if number % 5 == 0:  # everything on one line, as minified files are
            rules = ["".join(rules)]
        data = webconfig(head, rules, location="api" if number % 7 == 0 else "")
        if number % 6 == 1:  # namespaces declared above the section, as in real files
            data = data.replace(b"<configuration>", NAMESPACES[number % 4 // 2], 1)
        yield f"generated-{number}.config", data


def files() -> list[tuple[str, bytes]]:
    found = [(str(path), path.read_bytes())
             for folder in (CORPUS, SAMPLES) for path in sorted(folder.rglob("*.config"))]
    return found + list(generated(400))


def read(name: str, data: bytes) -> tuple[Config | None, list[Diagnostic]]:
    return analyse([SourceFile(data, name=name, directory=str(Path(name).parent))],
                   max_bytes=LIMIT, all_or_nothing=False)


def described(config: Config | None) -> list[Any]:
    """The rules of every level and scope, field by field (the places lint alone reads,
    ``header_locations`` and ``attribute_locations``, are compared through lint's output)."""
    if config is None:
        return []

    def rule(item: Any) -> tuple[Any, ...]:
        if isinstance(item, OriginRule):
            return ("rule", item.origin, item.allowed, item.allow_credentials, item.max_age,
                    item.allow_all_requested_headers, item.allow_headers, item.allow_methods,
                    item.expose_headers, item.location)
        return ("entry", item.op, item.key, item.location, item.locked_at,
                None if item.value is None else rule(item.value))

    levels = [(level.path, level.cors.enabled, level.cors.fail_unlisted_origins,
               level.cors.location, level.cors.fail_unlisted_at,
               [rule(entry) for entry in level.cors.entries])
              for level in config.levels if level.cors is not None]
    scopes = [(path, section.enabled, section.unusable, [rule(r) for r in section.rules])
              for path, section in sorted(config.scopes.items())]
    return [levels, scopes]


@pytest.fixture(scope="module")
def every_file() -> list[tuple[str, bytes]]:
    return files()


def test_the_one_pass_reader_changes_no_diagnostic_and_no_rule(
        every_file: list[tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = [read(name, data) for name, data in every_file]
    monkeypatch.setattr(rules_module, "read_plain_cors", lambda *_: None)
    slow = [read(name, data) for name, data in every_file]
    for (name, _), (fast_config, fast_found), (slow_config, slow_found) in zip(
            every_file, fast, slow, strict=True):
        assert fast_found == slow_found, name
        assert described(fast_config) == described(slow_config), name


def accepted_sections(every_file: list[tuple[str, bytes]]) -> Iterator[
        tuple[str, etree._Element, PlainCors]]:
    for name, data in every_file:
        document, _ = parse_bytes(data, name)
        if document is None:
            continue
        for cors in document.root.iter("cors"):
            plain = read_plain_cors(document, cors, rules_module._Walk(document, ()).origin_rule)
            if plain is not None:
                yield name, cors, plain


def test_the_xsd_finds_nothing_in_a_section_the_one_pass_reader_accepts(
        every_file: list[tuple[str, bytes]]) -> None:
    accepted = list(accepted_sections(every_file))
    assert len(accepted) > 150  # a third of the generated files, and corpus files
    assert any(not name.startswith("generated") for name, _, _ in accepted)
    for name, cors, _ in accepted:
        assert schema_violations(cors) == [], name


def test_the_children_of_a_section_read_in_one_pass_are_where_the_long_way_puts_them(
        every_file: list[tuple[str, bytes]]) -> None:
    """The lock checks (contract E2) report a locked ``<add>`` at its element's place."""
    for name, data in every_file:
        document, _ = parse_bytes(data, name)
        if document is None:
            continue
        walk = rules_module._Walk(document, ())
        for cors in document.root.iter("cors"):
            plain = read_plain_cors(document, cors, walk.origin_rule)
            if plain is None:
                continue
            slow = walk.use(cors).children
            fast = walk.use(cors, RuleChildren(plain.rules)).children
            assert isinstance(fast, RuleChildren) and len(fast) == len(slow)
            assert tuple(fast) == slow and fast == slow, name


def test_unusual_sections_are_left_to_the_long_way() -> None:
    for number, unusual in enumerate(UNUSUAL_RULES):
        rule = unusual.format(n=number)
        data = webconfig(SECTION_HEADS[0], [PLAIN_RULES[0].format(n=1), rule])
        document, _ = parse_bytes(data, "unusual.config")
        assert document is not None
        cors = next(document.root.iter("cors"))
        walk = rules_module._Walk(document, ())
        plain = read_plain_cors(document, cors, walk.origin_rule)
        if plain is not None:  # read here, but with the places lint reports at
            assert len(plain.rules) == 2 and plain.rules[1].origin in rule, rule
            assert plain.rules[1] == walk.origin_rule(cors[1], plain.rules[1].origin), rule


def plain_file(count: int, shapes: tuple[str, ...] = PLAIN_RULES[:2]) -> bytes:
    return webconfig(SECTION_HEADS[0], [shapes[n % len(shapes)].format(n=n)
                                        for n in range(count)])


#: Rules exposing headers of their own, as the reload benchmark's (tools/loadtesting)
EXPOSING_RULES = (
    '<add origin="https://a{n}.example" allowCredentials="true"><allowMethods>'
    '<add method="GET"/></allowMethods><exposeHeaders><add header="X-Version"/>'
    '</exposeHeaders></add>',
    '<add origin="https://b{n}.example"><exposeHeaders><add header="X-A"/><add header="x-b"/>'
    '</exposeHeaders></add>',
)


def test_a_plain_section_is_read_in_one_pass_into_rules_that_share_their_settings() -> None:
    document, _ = parse_bytes(plain_file(100), "plain.config")
    assert document is not None
    plain = read_plain_cors(document, next(document.root.iter("cors")),
                            rules_module._Walk(document, ()).origin_rule)
    assert plain is not None and len(plain.rules) == 100
    bare, credentialed = plain.rules[0], plain.rules[1]
    assert (bare.location.line, bare.location.column) == (5, 10)
    assert credentialed.allow_methods == ("GET",) and credentialed.allow_credentials
    # one settings tuple per distinct shape, one interned method tuple (issue 17: memory)
    assert {id(rule.shape) for rule in plain.rules} == {id(bare.shape), id(credentialed.shape)}


@pytest.mark.parametrize("shapes", [PLAIN_RULES[:2], EXPOSING_RULES], ids=["plain", "exposing"])
def test_a_plain_section_is_kept_as_a_table_without_an_object_per_rule(
        shapes: tuple[str, ...]) -> None:
    """What the collector walks at a full collection (issue 17: the pause after a reload):
    the configuration of 2,000 plain rules adds a few tracked objects, not one per rule; the
    level's table is the scope's rules, the same object.  Rules exposing headers of their own
    too (they were built one by one with their places: nine tracked objects a rule)."""
    count = 2000
    data = plain_file(count, shapes)
    read("plain.config", data)  # imports and caches first: only the configuration counts
    gc.collect()
    before = len(gc.get_objects())
    config, _ = read("plain.config", data)
    gc.collect()
    tracked = len(gc.get_objects()) - before
    assert config is not None
    level = config.levels[0]
    assert level.cors is not None and isinstance(level.cors.entries, RuleTable)
    assert config.scopes[()].rules is level.cors.entries
    assert all(isinstance(entry, OriginRule) for entry in level.cors.entries)
    assert tracked < count / 20, tracked


def test_start_tags_are_found_where_the_markup_scan_finds_them(
        every_file: list[tuple[str, bytes]]) -> None:
    """The Locator's C-level scan (files without comments, CDATA or processing instructions)
    finds the start tags the markup regex finds, on every file with and without those."""
    texts = [data.decode("utf-8", errors="replace").lstrip("\ufeff") for _, data in every_file]
    texts += [text.replace("<!-- a comment between rules -->", "") for text in texts]
    texts += [text.split("\n", 1)[-1] for text in texts]  # without the XML declaration
    quick = [text for text in texts if "<!" not in text and text.find("<?", 1) < 0]
    assert len(quick) > 100
    for text in texts:
        assert start_tags(text) == [m.start() for m in _MARKUP.finditer(text) if m.group(1)]


def test_origins_are_judged_together_as_one_by_one() -> None:
    rng = random.Random(17)
    alphabet = [chr(code) for code in range(300)] + ["\u3000", "\u00a0", "\u2028", "é"]
    for _ in range(20_000):
        origins = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
                   for _ in range(rng.randint(1, 3))]
        assert _plain_keys(origins) == all(_PLAIN_KEY.fullmatch(o) for o in origins), origins


def test_elements_placed_by_counting_are_where_the_map_of_all_puts_them(
        every_file: list[tuple[str, bytes]]) -> None:
    """The Locator places the first few elements asked for, and a section of bare rules, by
    counting the elements before them (libxml2), without mapping every element."""
    counted = 0
    for name, data in every_file:
        document, _ = parse_bytes(data, name)
        if document is None:
            continue
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        mapped = Locator(text, document.root)._offset_map()
        for element in document.root.iter(etree.Element):
            fresh = Locator(text, document.root)
            assert fresh.offset_of(element) == mapped.get(element), name
        for cors in document.root.iter("cors"):
            rules = [child for child in cors if isinstance(child.tag, str)]
            if rules:
                fresh = Locator(text, document.root)
                found = fresh._offsets_of(rules)
                counted += fresh._offsets is None
                expected = [mapped.get(rule) for rule in rules]
                assert found == (None if None in expected else expected), name
    assert counted > 50  # sections of bare rules, placed without the map
