"""Reading files (contract A2): encodings, size, DOCTYPE, malformed XML, all located."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from iiscors import DEFAULT_MAX_BYTES, check_config, load_config

VALID = ('<?xml version="1.0" encoding="{enc}"?>\n<configuration>\n<system.webServer>\n'
         '<cors enabled="true"><add origin="https://café.example" /></cors>\n'
         "</system.webServer>\n</configuration>\n")


def codes(data: bytes | str | Path, **kwargs: int) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in check_config(data, **kwargs)]


def rules_of(data: bytes) -> tuple[str, ...]:
    return tuple(rule.origin for rule in load_config(data).scopes[()].rules)


@pytest.mark.parametrize(("data"), [
    VALID.format(enc="utf-8").encode("utf-8"),
    codecs.BOM_UTF8 + VALID.format(enc="utf-8").encode("utf-8"),
    codecs.BOM_UTF16_LE + VALID.format(enc="utf-16").encode("utf-16-le"),
    codecs.BOM_UTF16_BE + VALID.format(enc="utf-16").encode("utf-16-be"),
    VALID.format(enc="iso-8859-1").encode("latin-1"),
    VALID.replace(' encoding="{enc}"', "").encode("utf-8"),
], ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "latin-1-declared",
        "no-declaration"])
def test_a2_encodings_read_as_declared(data: bytes) -> None:
    assert rules_of(data) == ("https://café.example",)


@pytest.mark.parametrize(("data", "expected"), [
    (VALID.format(enc="utf-16").encode("utf-16-le"), [("E104", 1)]),
    (codecs.BOM_UTF16_LE + VALID.format(enc="utf-8").encode("utf-16-le"), [("E104", 1)]),
    (codecs.BOM_UTF8 + VALID.format(enc="iso-8859-1").encode("utf-8"), [("E104", 1)]),
    (VALID.format(enc="x-no-such-encoding").encode(), [("E104", 1)]),
    (VALID.format(enc="utf-8").encode("latin-1"), [("E102", 4)]),
], ids=["utf-16-without-bom", "bom-contradicts-declaration", "utf-8-bom-vs-latin-1",
        "unknown-encoding", "invalid-utf-8"])
def test_a2_encoding_problems_are_errors(data: bytes, expected: list[tuple[str, int]]) -> None:
    assert codes(data) == expected


def test_a2_doctype_is_an_error_even_hidden_in_utf_16() -> None:
    text = ('<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE configuration [\n'
            '<!ENTITY t "true">]>\n<configuration><system.webServer>'
            '<cors enabled="&t;"/></system.webServer></configuration>')
    assert codes(codecs.BOM_UTF16_LE + text.encode("utf-16-le")) == [("E103", 2)]
    assert codes(text.replace("utf-16", "utf-8").encode()) == [("E103", 2)]


def test_a2_malformed_xml_has_line_and_column() -> None:
    (diagnostic,) = check_config(b"<configuration>\n  <system.webServer>\n</configuration>\n",
                                 name="web.config")
    assert (diagnostic.code, diagnostic.file, diagnostic.line) == ("E102", "web.config", 3)
    assert diagnostic.column is not None
    assert "mismatch" in diagnostic.message


def test_a2_empty_file() -> None:
    assert codes(b"") == [("E102", 1)]


def test_a2_size_limit_defaults_to_250_kib_and_is_adjustable(tmp_path: Path) -> None:
    assert DEFAULT_MAX_BYTES == 250 * 1024
    padding = "<!--" + "x" * DEFAULT_MAX_BYTES + "-->"
    data = VALID.format(enc="utf-8").replace("<configuration>", padding + "<configuration>")
    path = tmp_path / "web.config"
    path.write_text(data, encoding="utf-8")
    assert codes(path) == [("E101", 1)]
    assert codes(data.encode()) == [("E101", 1)]
    raised = check_config(path, max_bytes=2 * DEFAULT_MAX_BYTES)
    assert not [d for d in raised if d.is_error]


def test_a2_gzip_is_not_unpacked(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "web.config"
    path.write_bytes(gzip.compress(VALID.format(enc="utf-8").encode()))
    assert [code for code, _ in codes(path)] == ["E102"]


def test_a2_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    (diagnostic,) = check_config(tmp_path / "missing.config")
    assert diagnostic.code == "E100"
    assert diagnostic.file.endswith("missing.config")


def test_a2_deep_nesting_is_bounded() -> None:
    deep = "<configuration>" + "<a>" * 1500 + "</a>" * 1500 + "</configuration>"
    assert [code for code, _ in codes(deep.encode())] == ["E105"]
    moderate = "<configuration>" + "<a>" * 150 + "</a>" * 150 + "</configuration>"
    assert [code for code, _ in codes(moderate.encode())] == ["E105"]


def test_a2_entities_are_never_expanded() -> None:
    data = (b'<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<configuration><system.webServer><cors enabled=\"true\">"
            b'<add origin="&x;"/></cors></system.webServer></configuration>')
    assert [code for code, _ in codes(data)] == ["E103"]


def test_locations_point_at_attributes_on_continuation_lines() -> None:
    data = (b"<configuration>\n<system.webServer>\n<cors enabled=\"true\">\n"
            b'  <add origin="https://a.example"\n       allowCredentials="maybe"\n'
            b'       maxAge="1" />\n</cors>\n</system.webServer>\n</configuration>\n')
    (diagnostic,) = check_config(data)
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E206", 5, 8)


def test_a2_a_doctype_in_a_comment_or_cdata_is_not_a_doctype() -> None:
    data = (b"<configuration><!-- removed: <!DOCTYPE x> --><appSettings>"
            b"<![CDATA[<!DOCTYPE]]></appSettings><system.webServer>"
            b'<cors enabled="true"><add origin="*" /></cors></system.webServer></configuration>')
    assert codes(data) == []


def test_a2_utf_32_is_refused_as_an_encoding_problem() -> None:
    text = VALID.format(enc="utf-32")
    assert codes(codecs.BOM_UTF32_LE + text.encode("utf-32-le")) == [("E104", 1)]


def test_locations_survive_non_ascii_element_names_and_quoted_lookalikes() -> None:
    data = ("<configuration>\n<appSettings><élément/></appSettings>\n<system.webServer>\n"
            '<cors enabled="true" bogus="1"\n  failUnlistedOrigins="false">\n'
            '<add origin="https://a.com maxAge=1" maxAge="x"/>\n'
            "</cors>\n</system.webServer>\n</configuration>\n").encode()
    found = [(d.code, d.line, d.column) for d in check_config(data)]
    assert found == [("E201", 4, 22), ("E207", 6, 38)]


def test_a1_the_old_dotnet_configuration_namespace_is_ignored() -> None:
    """Visual Studio 2005's web.config root carried a namespace IIS ignores; so does iiscors."""
    data = (b'<configuration xmlns="http://schemas.microsoft.com/.NetConfiguration/v2.0">\n'
            b'<system.webServer><cors enabled="true" bogus="1">\n'
            b'<add origin="https://a.example" /></cors></system.webServer></configuration>')
    assert codes(data) == [("E201", 2)]
    config = load_config(data.replace(b' bogus="1"', b""))
    assert [rule.origin for rule in config.scopes[()].rules] == ["https://a.example"]
    other = data.replace(b".NetConfiguration/v2.0", b"other")
    assert [code for code, _ in codes(other)] == ["E106"]
