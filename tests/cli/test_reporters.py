"""The reporters of iiscors/cli/report.py, fed a fixed Report: every format's shape."""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from iiscors.cli.report import (
    REPORTERS,
    FileResult,
    Report,
    artifact_uri,
    resolve_format,
    summary,
    use_colour,
)
from iiscors.config.diagnostics import CATALOGUE, make

WARNING = make("W204", "origin=\"https://A.example\" has upper-case letters", "site/web.config",
               4, 10)
ERROR = make("E201", "Unrecognized attribute 'enabeld'", "site/web.config", 3, 7)
FILE_LEVEL = make("W104", "Not followed: this symbolic link leads outside the directory searched",
                  "other/web.config")
UNREADABLE = make("E100", "Cannot read the file: No such file or directory", "missing.config")
ODD = make("E102", "bad, very: bad\nsecond line 100%", "odd,name:1.config", 2, 1)

REPORT = Report((
    FileResult("site/web.config", (ERROR, WARNING)),
    FileResult("other/web.config", (FILE_LEVEL,)),
    FileResult("clean/web.config", ()),
))


def render(name: str, report: Report = REPORT, *, colour: bool = False) -> str:
    stream = io.StringIO()
    REPORTERS[name](stream, colour=colour).write(report)
    return stream.getvalue()


def test_registry_has_every_format() -> None:
    assert set(REPORTERS) == {"text", "json", "github", "sarif", "junit"}


def test_text() -> None:
    lines = render("text").splitlines()
    assert lines == [
        "site/web.config:3:7: error E201 Unrecognized attribute 'enabeld'",
        f"    fix: {CATALOGUE['E201'].fix}",
        "site/web.config:4:10: warning W204 origin=\"https://A.example\" has upper-case letters",
        f"    fix: {CATALOGUE['W204'].fix}",
        "other/web.config: warning W104 Not followed: this symbolic link leads outside the "
        "directory searched",
        f"    fix: {CATALOGUE['W104'].fix}",
        "Checked 3 files: 1 error, 2 warnings in 2 files.",
    ]


def test_text_colour_only_when_asked() -> None:
    assert "\x1b[" not in render("text")
    coloured = render("text", colour=True)
    assert "\x1b[31m" in coloured  # red error
    assert "\x1b[33m" in coloured  # yellow warning


def test_summary_without_problems() -> None:
    assert summary(Report((FileResult("a", ()),))) == "Checked 1 file: no problems."


def test_json_shape() -> None:
    document = json.loads(render("json"))
    assert document["version"] == 1
    assert document["tool"]["name"] == "iiscors"
    assert document["summary"] == {"files": 3, "errors": 1, "warnings": 2, "notes": 0,
                                   "failed_files": 1}
    first = document["files"][0]
    assert first["file"] == "site/web.config"
    assert (first["errors"], first["warnings"], first["notes"], first["failed"]) == (1, 1, 0,
                                                                                   True)
    assert first["diagnostics"][0] == {
        "file": "site/web.config", "line": 3, "column": 7, "severity": "error",
        "code": "E201", "message": "Unrecognized attribute 'enabeld'",
        "fix": CATALOGUE["E201"].fix}
    assert document["files"][1]["diagnostics"][0]["line"] is None
    assert document["files"][2] == {"file": "clean/web.config", "errors": 0, "warnings": 0,
                                    "notes": 0, "failed": False, "diagnostics": []}


def test_json_strict_counts_warnings_as_failures() -> None:
    document = json.loads(render("json", Report(REPORT.files, strict=True)))
    assert document["strict"] is True
    assert [f["failed"] for f in document["files"]] == [True, True, False]


def test_github_annotations() -> None:
    lines = render("github").splitlines()
    assert lines[0] == ("::error file=site/web.config,line=3,col=7,title=iiscors E201::"
                        f"Unrecognized attribute 'enabeld'%0AFix: {CATALOGUE['E201'].fix}")
    assert lines[2].startswith("::warning file=other/web.config,title=iiscors W104::")
    assert lines[-1] == "Checked 3 files: 1 error, 2 warnings in 2 files."


def test_github_escapes_properties_and_data() -> None:
    line = render("github", Report((FileResult(ODD.file, (ODD,)),))).splitlines()[0]
    assert line.startswith("::error file=odd%2Cname%3A1.config,line=2,col=1,")
    assert "bad, very: bad%0Asecond line 100%25" in line
    assert "\n" not in line


def sarif(report: Report = REPORT) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render("sarif", report))
    return document


def test_sarif_is_2_1_0_with_catalogue_rules() -> None:
    document = sarif()
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(CATALOGUE)
    for rule in rules:
        info = CATALOGUE[rule["id"]]
        assert rule["shortDescription"]["text"] == info.title
        assert rule["defaultConfiguration"]["level"] == info.severity.value
        assert info.fix in rule["help"]["text"]


def test_sarif_results_point_at_rules_and_regions() -> None:
    run = sarif()["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 3
    for result in results:
        # What GitHub code scanning requires of each result.
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"]
        assert location["region"]["startLine"] >= 1
    first = results[0]["locations"][0]["physicalLocation"]
    assert first == {"artifactLocation": {"uri": "site/web.config"},
                     "region": {"startLine": 3, "startColumn": 7}}
    file_level = results[2]["locations"][0]["physicalLocation"]
    assert file_level["region"] == {"startLine": 1}
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_sarif_unreadable_file_is_an_unsuccessful_execution() -> None:
    run = sarif(Report((FileResult("missing.config", (UNREADABLE,)),)))["runs"][0]
    assert run["invocations"] == [{"executionSuccessful": False}]


@pytest.mark.parametrize(("name", "uri"), [
    ("site/web.config", "site/web.config"),
    ("./a b/web.config", "a%20b/web.config"),
    ("/srv/site/web.config", "file:///srv/site/web.config"),
    ("<stdin>", "stdin"),
])
def test_artifact_uri(name: str, uri: str) -> None:
    assert artifact_uri(name) == uri


def junit(report: Report = REPORT) -> ET.Element:
    return ET.fromstring(render("junit", report).encode())


def test_junit_one_testcase_per_file() -> None:
    root = junit()
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.attrib["tests"] == "3"
    assert suite.attrib["failures"] == "1"
    assert suite.attrib["errors"] == "0"
    cases = suite.findall("testcase")
    assert [case.attrib["name"] for case in cases] == [
        "site/web.config", "other/web.config", "clean/web.config"]
    failure = cases[0].find("failure")
    assert failure is not None and "E201" in (failure.text or "")
    assert cases[1].find("failure") is None
    out = cases[1].find("system-out")
    assert out is not None and "W104" in (out.text or "")
    assert list(cases[2]) == []


def test_junit_strict_and_unreadable() -> None:
    report = Report((FileResult("other/web.config", (FILE_LEVEL,)),
                     FileResult("missing.config", (UNREADABLE,))), strict=True)
    suite = junit(report)[0]
    assert (suite.attrib["failures"], suite.attrib["errors"]) == ("1", "1")
    warned, missing = suite.findall("testcase")
    assert warned.find("failure") is not None
    error = missing.find("error")
    assert error is not None and error.attrib["type"] == "io"


def test_junit_survives_control_characters() -> None:
    odd = make("E102", "bad \x01 byte", "x.config", 1, 1)
    case = junit(Report((FileResult("x.config", (odd,)),)))[0][0]
    failure = case.find("failure")
    assert failure is not None and "\\x01" in (failure.text or "")


def test_junit_escapes_vertical_tab_and_form_feed_in_a_file_name() -> None:
    """XML 1.0 forbids \\x0b and \\x0c even as character references: a file name holding them
    (a legal POSIX name) must still give a well-formed document, the characters shown escaped."""
    name = "odd\x0bname\x0c.config"
    odd = make("E102", "bad byte", name, 1, 1)
    case = junit(Report((FileResult(name, (odd,)),)))[0][0]
    assert case.attrib["name"] == case.attrib["file"] == "odd\\x0bname\\x0c.config"
    failure = case.find("failure")
    assert failure is not None and (failure.text or "").startswith("odd\\x0bname\\x0c.config:1:1")


def test_junit_is_well_formed_for_a_file_name_that_is_not_utf_8() -> None:
    name = os.fsdecode(b"bad\xff.config")  # "bad\udcff.config", as sys.argv gives it
    odd = make("E102", "bad byte", name, 1, 1)
    text = render("junit", Report((FileResult(name, (odd,)),)))
    # What a UTF-8 terminal or file receives (stdout writes such a name's byte back as is).
    case = ET.fromstring(text.encode("utf-8", "surrogateescape"))[0][0]
    assert case.attrib["name"].startswith("bad") and case.attrib["name"].endswith(".config")


@pytest.mark.parametrize(("name", "environ", "expected"), [
    ("auto", {"GITHUB_ACTIONS": "true"}, "github"),
    ("auto", {}, "text"),
    ("auto", {"GITHUB_ACTIONS": "false"}, "text"),
    ("json", {"GITHUB_ACTIONS": "true"}, "json"),
])
def test_resolve_format(name: str, environ: dict[str, str], expected: str) -> None:
    assert resolve_format(name, environ) == expected


@pytest.mark.parametrize(("choice", "environ", "tty", "expected"), [
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"NO_COLOR": ""}, True, True),  # no-color.org: only a non-empty value counts
    ("always", {"NO_COLOR": "1"}, False, True),
    ("never", {}, True, False),
])
def test_use_colour(choice: str, environ: dict[str, str], tty: bool, expected: bool) -> None:
    assert use_colour(choice, io.StringIO(), environ, isatty=lambda _: tty) is expected
