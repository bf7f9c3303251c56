"""Edges of the ``<cors>`` readers found by an adversarial review (reader hardening brief).

Each case is bad or unusual input that once raised instead of giving a located diagnostic, or
that the one-pass reader (:mod:`iiscors.config.fastcors`) read differently from the long way
(:mod:`iiscors.config.rules`).  Every file here is read both ways (the one-pass reader switched
off as ``tests/config/test_fast_cors.py`` does it), and the two must agree.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

import iiscors.config.rules as rules_module
from iiscors import check_config, load_config
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.fastcors import read_plain_cors
from iiscors.config.lint import origin_problems
from iiscors.config.loader import parse_bytes
from iiscors.config.reading import parse_int32
from iiscors.policy.model import OriginRule
from iiscors.policy.origins import MAX_ORIGIN_BYTES
from iiscors.serving.proxy_wire import ProxyError, request_body

from support import web_config

#: The line of a :func:`cors_file`'s rules
RULE_LINE = 3
#: Past the columns an :class:`OriginRule` packs into an int (model._COLUMN_LIMIT, 1024)
FAR = 1100


def cors_file(body: str, *, pad: int = 0, head: str = '<cors enabled="true">') -> bytes:
    """A web.config whose ``<cors>`` holds ``body`` on line 3, after ``pad`` spaces (the
    shared :func:`support.web_config` does not place its rules at a chosen column)."""
    return (f'<?xml version="1.0"?>\n<configuration><system.webServer>{head}\n'
            f'{" " * pad}{body}\n</cors></system.webServer></configuration>\n').encode()


@pytest.fixture(params=["fast", "slow"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test runs with the one-pass reader on, then switched off (the long way only)."""
    if request.param == "slow":
        monkeypatch.setattr(rules_module, "read_plain_cors", lambda *_: None)
    yield request.param


def both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    """check_config's diagnostics with the one-pass reader on, asserted equal to those of the
    long way alone."""
    fast = check_config(data, name="web.config")
    with monkeypatch.context() as patch:
        patch.setattr(rules_module, "read_plain_cors", lambda *_: None)
        slow = check_config(data, name="web.config")
    assert fast == slow
    return fast


def placed(found: list[Diagnostic]) -> list[tuple[str, int | None, int | None]]:
    return [(d.code, d.line, d.column) for d in found]


def rules_of(data: bytes) -> tuple[OriginRule, ...]:
    return load_config(data, name="web.config").scopes[()].rules


# -- 1. a rule at a column past what a rule packs (model._COLUMN_LIMIT) ----------------------

EXPOSED = ('<add origin="https://a.example"><exposeHeaders><add header="X-a"/>'
           "</exposeHeaders></add>")
FAR_RULES = [
    '<add origin="https://a.example"/>',
    EXPOSED,
    '<add origin="https://a.example" maxAge="600"><allowMethods><add method="GET"/>'
    "</allowMethods></add>",
    '<add origin="https://a.example" maxAge="9000"/>',
    '<add origin="http://a.example" allowCredentials="true"/>',
    '<add origin="https://a.example"><exposeHeaders><add header="Access-Control-Allow-Origin"/>'
    "</exposeHeaders></add>",
]


@pytest.mark.parametrize("rule", FAR_RULES)
@pytest.mark.parametrize("pad", [0, FAR])
def test_a_rule_far_along_its_line_is_located_there(rule: str, pad: int, reader: str) -> None:
    (read,) = rules_of(cors_file(rule, pad=pad))
    # contract A7: a rule is located at its origin attribute, 1-based: after the pad and "<add "
    assert (read.location.file, read.location.line, read.location.column) == (
        "web.config", RULE_LINE, pad + len("<add ") + 1)


def one_line(rules: list[str]) -> str:
    """``rules`` on one line, each with its own origin (contract A6: no duplicate keys)."""
    return "".join(rule.replace("a.example", f"r{n}.example") for n, rule in enumerate(rules))


def test_rules_far_along_a_line_agree_with_those_near_its_start(reader: str) -> None:
    line = one_line(FAR_RULES)
    near = rules_of(cors_file(line))
    far = rules_of(cors_file(line, pad=FAR))
    assert [rule.location.column for rule in far] == [
        FAR + rule.location.column for rule in near if rule.location.column is not None]
    assert [rule.shape[1:8] for rule in far] == [rule.shape[1:8] for rule in near]


def test_lint_places_far_along_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warnings of rules with located attributes and entries, past column 1024."""
    line = one_line(FAR_RULES[3:])
    near = placed(both_ways(cors_file(line), monkeypatch))
    far = placed(both_ways(cors_file(line, pad=FAR), monkeypatch))
    assert [code for code, _, _ in near] == ["W215", "W203", "W214"]
    assert far == [(code, row, None if column is None else column + FAR)
                   for code, row, column in near]
    assert all(row == RULE_LINE for _, row, _ in far)


def test_a_far_rule_with_children_gives_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's repro: 1,100 spaces, then a rule with an ``<exposeHeaders>``."""
    assert both_ways(cors_file(EXPOSED, pad=FAR), monkeypatch) == []


# -- 2. integers longer than Python's int() digit limit (4,300 digits) -----------------------

#: 5,000 zeros then 5: contract A5's leading zeros, as "007" is 7
ZEROS = "0" * 5000 + "5"
#: 5,000 nines: out of a 32-bit int's range, as 99999999999 is
NINES = "9" * 5000
ELEVEN_NINES = "9" * 11


@pytest.mark.parametrize(("written", "read"), [
    ("0", 0), ("007", 7), ("+7", 7), ("-0", 0), (ZEROS, 5), ("-" + ZEROS, -5),
    ("2147483647", 2**31 - 1), ("-2147483648", -(2**31)), ("0" * 5000 + "2147483647", 2**31 - 1),
    ("2147483648", None), ("-2147483649", None), ("99999999999", None), (NINES, None),
    ("0" * 5000 + "2147483648", None), ("", None), ("+", None), ("00", 0), (" 7", None),
    ("7 ", None), ("1e3", None), ("+-1", None), ("\u0667", None), ("0" * 5000 + "x", None)])
def test_parse_int32(written: str, read: int | None) -> None:
    assert parse_int32(written) == read


def max_age_rule(value: str) -> str:
    return f'<add origin="https://a.example" maxAge="{value}"/>'



@pytest.mark.parametrize(("written", "read"), [("007", 7), ("+007", 7), ("-0", 0), (ZEROS, 5),
                                               ("-" + ZEROS, -5)])
def test_max_age_with_leading_zeros_is_read_as_its_value(written: str, read: int,
                                                         reader: str) -> None:
    (rule,) = rules_of(cors_file(max_age_rule(written)))
    assert rule.max_age == read


def test_max_age_of_5000_zeros_gives_no_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    assert both_ways(cors_file(max_age_rule(ZEROS)), monkeypatch) == []


@pytest.mark.parametrize("written", [NINES, "-" + NINES, "0" * 5000 + "2147483648"])
def test_max_age_out_of_range_is_the_usual_located_error(written: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    found = both_ways(cors_file(max_age_rule(written)), monkeypatch)
    usual = both_ways(cors_file(max_age_rule(ELEVEN_NINES)), monkeypatch)
    assert placed(found) == placed(usual) and found
    assert all(d.is_error and d.line == RULE_LINE for d in found)


def custom_max_age(value: str) -> bytes:
    return ('<configuration><system.webServer><httpProtocol><customHeaders>\n'
            f'<add name="Access-Control-Max-Age" value="{value}"/>\n'
            "</customHeaders></httpProtocol></system.webServer></configuration>\n").encode()


@pytest.mark.parametrize(("written", "same_as"), [(ZEROS, "5"), ("0" * 5000, "0"),
                                                  (NINES, ELEVEN_NINES),
                                                  ("0" * 5000 + "9000", "9000")])
def test_a_custom_max_age_header_of_5000_digits(written: str, same_as: str) -> None:
    """headerlint's W215 (contract B: what browsers honour) reads the header's number."""
    found = check_config(custom_max_age(written), name="web.config")
    usual = check_config(custom_max_age(same_as), name="web.config")
    assert placed(found) == placed(usual)
    # the number as written, without its leading zeros
    assert [d.message for d in found] == [d.message.replace(ELEVEN_NINES, NINES)
                                          for d in usual]


def rewrite_config(status: str, sub_status: str = "0") -> bytes:
    action = (f'<action type="CustomResponse" statusCode="{status}" subStatusCode="{sub_status}"'
              ' statusReason="OK"/>')
    return ('<configuration><system.webServer><rewrite><rules>\n'
            '<rule name="p"><match url=".*"/><conditions>'
            '<add input="{REQUEST_METHOD}" pattern="^OPTIONS$"/></conditions>'
            f"{action}</rule>\n</rules></rewrite></system.webServer></configuration>\n").encode()


@pytest.mark.parametrize(("status", "sub_status", "recipe"), [
    ("200", "0", True), ("0" * 5000 + "200", "0", True), ("200", "0" * 5000, True),
    (NINES, "0", False), ("200", NINES, False), ("0" * 5000 + "201", "0", False)])
def test_a_rewrite_status_of_5000_digits(status: str, sub_status: str, recipe: bool) -> None:
    """Contract C2: the recipe answers 200 (leading zeros read as IIS reads them)."""
    data = rewrite_config(status, sub_status)
    assert check_config(data, name="web.config") == check_config(rewrite_config("200" if recipe
                                                                                else "201"),
                                                                 name="web.config")
    assert (load_config(data).scopes[()].options_recipe is not None) is recipe


# -- 3. text inside a list entry: white space is fine anywhere (contract A4) --------------

@pytest.mark.parametrize(("entry", "codes"), [
    ('<add method="GET"> </add>', []), ('<add method="GET">\n</add>', []),
    ('<add method="GET"></add>', []), ('<add method="GET">x</add>', ["E203"]),
    ('<add method="GET"><!--c--></add>', []), ('<add method="GET"><!--c--> </add>', []),
    ('<add method="GET"> <!--c-->x</add>', ["E203"]), ('<clear> </clear>', []),
    ('<add method="GET"> x </add>', ["E203"])])
def test_text_inside_a_list_entry_is_judged_by_contract_a4_both_ways(
        entry: str, codes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Contract A4: white space and comments are fine anywhere, other text is an error (E203,
    the walker's words).  The XSD gives entries an empty content type, which refuses even
    white space; the schema's second opinion must not turn that into an E299."""
    rule = f'<add origin="https://a.example"><allowMethods>{entry}</allowMethods></add>'
    found = both_ways(cors_file(rule), monkeypatch)
    assert [d.code for d in found] == codes
    assert all(d.line == RULE_LINE for d in found)


def test_white_space_in_every_empty_element_of_a_section_is_no_e299() -> None:
    """Contract A4 for each entry kind the XSD types as empty: a rule, a header, a method, a
    clear and remove, customHeaders' and modules' entries, each holding white space."""
    data = web_config(
        '<cors enabled="true"><add origin="https://a.example"> </add>'
        '<add origin="https://b.example"><allowHeaders> <clear>\n</clear> '
        '<add header="X-a"> </add></allowHeaders><exposeHeaders><add header="X-b">\t</add>'
        '</exposeHeaders></add></cors>', server='<httpProtocol><customHeaders><clear> </clear>'
        '<add name="X-c" value="1"> </add><remove name="X-d"> </remove></customHeaders>'
        '</httpProtocol><modules><remove name="CorsModule"> </remove></modules>')
    assert [d.code for d in check_config(data, name="web.config") if d.code.startswith("E")] == []


# -- 4. lint's shortcut for plain origins, and origins over MAX_ORIGIN_BYTES -----------------

LONG_ORIGIN = "https://" + "a" * 2100 + ".example"
#: exactly MAX_ORIGIN_BYTES long: still a serialized origin (contract B6: at most 2,048)
LONGEST_ORIGIN = "https://" + "b" * (MAX_ORIGIN_BYTES - len("https://.example")) + ".example"


@pytest.mark.parametrize(("origins", "warned"), [
    ([LONG_ORIGIN], [0]), ([LONGEST_ORIGIN], []), (["https://c.example", LONG_ORIGIN], [1]),
    ([LONG_ORIGIN, "https://c.example", LONGEST_ORIGIN], [0]),
    (["https://c.example", LONG_ORIGIN.replace("https", "http"), "https://d.example"], [1])])
def test_a_plain_origin_over_max_origin_bytes_gets_w223(
        origins: list[str], warned: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Contract B6: an origin over MAX_ORIGIN_BYTES is not a serialized one; lint's shortcut
    for plain origins must not skip the check that says so."""
    assert len(LONGEST_ORIGIN) == MAX_ORIGIN_BYTES
    rules = [f'<add origin="{origin}"/>' for origin in origins]
    found = both_ways(cors_file("\n".join(rules)), monkeypatch)
    assert placed(found) == [("W223", RULE_LINE + index, len("<add ") + 1)
                             for index in warned]
    assert [origin_problems(origin) != [] for origin in origins] == [
        index in warned for index in range(len(origins))]


# -- 5. namespaces declared on <configuration> (speed only: the one-pass reader) -------------

XDT_HEAD = '<configuration xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform">'
NAMESPACE_HEADS = [XDT_HEAD, '<configuration xmlns:b="urn:b&amp;c" xmlns:xdt="urn:x">']
PLAIN_BODIES = [
    '<add origin="https://a.example"/>\n<add origin="https://b.example" maxAge="5"/>',
    '<add origin="https://a.example" allowCredentials="true"><allowMethods><add method="GET"/>'
    '</allowMethods><allowHeaders><add header="X-A"/></allowHeaders></add>\n'
    '<!-- c --><add origin="https://b.example" allowed="false"/>',
]


def read_in_one_pass(data: bytes) -> bool:
    """Whether the one-pass reader reads the file's first ``<cors>`` itself."""
    document, _ = parse_bytes(data, "web.config")
    assert document is not None
    cors = next(document.root.iter("cors"))
    walk = rules_module._Walk(document, ())
    return read_plain_cors(document, cors, walk.origin_rule) is not None


@pytest.mark.parametrize("head", NAMESPACE_HEADS)
@pytest.mark.parametrize("body", PLAIN_BODIES)
def test_namespaces_declared_above_a_plain_section_keep_it_in_one_pass(
        head: str, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = cors_file(body).replace(b"<configuration>", head.encode(), 1)
    assert read_in_one_pass(cors_file(body)) and read_in_one_pass(data)
    assert both_ways(data, monkeypatch) == both_ways(cors_file(body), monkeypatch)
    fast = [settings(rule) for rule in rules_of(data)]
    with monkeypatch.context() as patch:
        patch.setattr(rules_module, "read_plain_cors", lambda *_: None)
        assert [settings(rule) for rule in rules_of(data)] == fast


def settings(rule: OriginRule) -> tuple[object, ...]:
    """A rule's origin, place, flags and lists (not the places lint alone reads, which only
    the long way records: compared through lint's output instead, as test_fast_cors does)."""
    return rule.origin, rule.location, rule.shape[1:8]


@pytest.mark.parametrize("rule", [
    '<add origin="https://a.example" xdt:Transform="Insert" maxAge="5"/>',
    '<add origin="https://a.example" maxAge="5"><allowMethods xdt:Transform="Insert">'
    '<add method="GET"/></allowMethods></add>'])
def test_a_section_using_the_namespaces_is_still_read_the_long_way(
        rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = cors_file(rule).replace(b"<configuration>", XDT_HEAD.encode(), 1)
    assert not read_in_one_pass(data)
    both_ways(data, monkeypatch)


# -- the reverse proxy's Content-Length (the same int() limit) ------------------------------

@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "1", "1" * 19, "-1", "1e3", ""])
def test_the_proxy_refuses_a_content_length_that_is_not_a_short_number(length: str) -> None:
    """A Content-Length of 5,000 digits is a 400 with a reason, never int()'s ValueError."""
    environ = {"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": length}
    if not length:
        assert request_body(environ) == (None, None)
        return
    with pytest.raises(ProxyError) as raised:
        request_body(environ)
    assert raised.value.status == "400 Bad Request"
    assert "Content-Length" in raised.value.message


def test_the_proxy_reads_a_content_length_of_18_digits_with_leading_zeros() -> None:
    environ = {"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "0" * 17 + "3"}
    body, length = request_body(environ)
    assert length == 3 and body is not None and b"".join(body) == b"abc"
