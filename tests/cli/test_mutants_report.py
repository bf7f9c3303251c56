"""Reporter behaviours that a mutation run of iiscors/cli/report.py found no test for
(docs/mutation.md).

Each test feeds a fixed :class:`Report` to a reporter, as ``iiscors validate`` does, and reads
what it wrote: the exact text, and where the format has them, its ANSI styles.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from iiscors import __version__
from iiscors.cli.report import REPORTERS, Report, artifact_uri, use_colour
from iiscors.cli.report import FileResult as Result
from iiscors.config.diagnostics import CATALOGUE, Diagnostic, Related, Severity, make

#: ANSI styles as click writes them
RED, BOLD, DIM, RESET = "\x1b[31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"

#: a duplicate origin (E302) located in the lower file, naming the first one (contract E1)
DUPLICATE = make("E302", "Cannot add duplicate collection entry of type 'add' with unique key "
                 "attribute 'origin' set to 'https://a.example'", "site/api/web.config", 5, 9,
                 (Related("first added", "site/web.config", 4, 9),))
ONE_ERROR = Report((Result("site/api/web.config", (DUPLICATE,)),))


def render(name: str, report: Report, *, colour: bool) -> list[str]:
    stream = io.StringIO()
    REPORTERS[name](stream, colour=colour).write(report)
    return stream.getvalue().splitlines()


def test_text_names_the_related_place_of_a_cross_file_error() -> None:
    assert render("text", ONE_ERROR, colour=False) == [
        f"site/api/web.config:5:9: error E302 {DUPLICATE.message}",
        "    note: first added site/web.config:4:9",
        f"    fix: {CATALOGUE['E302'].fix}",
        "Checked 1 file: 1 error, 0 warnings in 1 file.",
    ]


def test_text_in_colour_makes_the_label_bold_and_the_note_and_fix_dim() -> None:
    label, note, fix, summary = render("text", ONE_ERROR, colour=True)
    assert label == (f"site/api/web.config:5:9: {RED}{BOLD}error E302{RESET} "
                     f"{DUPLICATE.message}")
    assert note == f"{DIM}    note: first added site/web.config:4:9{RESET}"
    assert fix == f"{DIM}    fix: {CATALOGUE['E302'].fix}{RESET}"
    assert summary == "Checked 1 file: 1 error, 0 warnings in 1 file."


#: a diagnostic without a fix (the catalogue gives every code one; a library caller may not)
NO_FIX = Diagnostic("W204", Severity.WARNING, "origin has upper-case letters", "a.config", 2, 3)
NOTE = make("N101", "a note", "a.config", 7, 1)
UNREADABLE = make("E100", "Cannot read the file: No such file or directory", "gone.config")


def test_github_writes_every_related_place_and_no_fix_line_without_a_fix() -> None:
    twice = make("E302", "duplicate", "c.config", 9, 1, (Related("first added", "a.config", 1, 2),
                                                          Related("also", "b.config", 3, 4)))
    report = Report((Result("c.config", (twice,)), Result("a.config", (NO_FIX,))))
    first, second, summary = render("github", report, colour=False)
    assert first == ("::error file=c.config,line=9,col=1,title=iiscors E302::duplicate"
                     "%0ANote: first added a.config:1:2%0ANote: also b.config:3:4"
                     "%0AFix: " + CATALOGUE["E302"].fix)
    assert second == ("::warning file=a.config,line=2,col=3,title=iiscors W204::"
                      "origin has upper-case letters")
    assert summary == "Checked 2 files: 1 error, 1 warning in 2 files."


def test_json_carries_the_tool_version_and_each_related_place() -> None:
    document = json.loads("\n".join(render("json", ONE_ERROR, colour=False)))
    assert document["tool"] == {"name": "iiscors", "version": __version__}
    (diagnostic,) = document["files"][0]["diagnostics"]
    assert diagnostic["related"] == [{"note": "first added", "file": "site/web.config",
                                      "line": 4, "column": 9}]


def test_the_summary_counts_notes_on_their_own() -> None:
    report = Report((Result("a.config", (NOTE, NOTE)),))
    assert render("text", report, colour=False)[-1] == "Checked 1 file: no problems, 2 notes."


def test_junit_document_exactly() -> None:
    """The whole document: suite names and counts, one testcase per file with its class name,
    a failure or an error with the tally as its message and one line per diagnostic, notes in
    <system-out> (contract C3: a note is never a failure)."""
    report = Report((
        Result("site/api/web.config", (DUPLICATE, NO_FIX, NOTE)),
        Result("gone.config", (UNREADABLE,)),
        Result("a.config", (NOTE,)),
        Result("clean.config", ()),
    ))
    counts = 'tests="4" failures="1" errors="1" skipped="0"'
    assert render("junit", report, colour=False) == [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="iiscors validate" {counts}>',
        f'  <testsuite name="iiscors validate" {counts}>',
        '    <testcase classname="iiscors.validate" name="site/api/web.config"'
        ' file="site/api/web.config">',
        '      <failure message="1 error, 1 warning, 1 note" type="iiscors">'
        f"site/api/web.config:5:9: error E302 {DUPLICATE.message}",
        "a.config:2:3: warning W204 origin has upper-case letters",
        "a.config:7:1: note N101 a note</failure>",
        "    </testcase>",
        '    <testcase classname="iiscors.validate" name="gone.config" file="gone.config">',
        '      <error message="1 error, 0 warnings" type="io">gone.config: error E100 '
        f"{UNREADABLE.message}</error>",
        "    </testcase>",
        '    <testcase classname="iiscors.validate" name="a.config" file="a.config">',
        "      <system-out>a.config:7:1: note N101 a note</system-out>",
        "    </testcase>",
        '    <testcase classname="iiscors.validate" name="clean.config" file="clean.config" />',
        "  </testsuite>",
        "</testsuites>",
    ]


def sarif_run(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads("\n".join(render("sarif", report, colour=False)))
    (run,) = document["runs"]
    return dict(run)


def test_sarif_rule_descriptor_exactly() -> None:
    rules = sarif_run(ONE_ERROR)["tool"]["driver"]["rules"]
    info = CATALOGUE["E302"]
    assert rules[list(CATALOGUE).index("E302")] == {
        "id": "E302",
        "name": "E302",
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.title},
        # every string of the document is escaped (docs/cli.md), line breaks included
        "help": {"text": f"{info.fix}\\x0aExample: {info.example}",
                 "markdown": f"{info.fix}\\x0a\\x0aExample: `{info.example}`"},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cors", "iis", "web.config"]},
    }


def test_sarif_run_exactly_with_related_locations_and_a_result_without_a_fix() -> None:
    twice = make("E302", "duplicate", "c.config", 9, 1, (Related("first added", "a.config", 1, 2),
                                                          Related("also", "b.config", 3, 4)))
    run = sarif_run(Report((Result("c.config", (twice,)), Result("a.config", (NO_FIX,)))))
    driver = run.pop("tool")["driver"]
    driver.pop("rules")
    assert driver == {"name": "iiscors", "version": __version__,
                      "semanticVersion": __version__}
    assert run == {
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True}],
        "results": [
            {"ruleId": "E302", "ruleIndex": list(CATALOGUE).index("E302"), "level": "error",
             "message": {"text": f"duplicate Fix: {CATALOGUE['E302'].fix}"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "c.config"},
                                                 "region": {"startLine": 9, "startColumn": 1}}}],
             # contract E1: SARIF's own place for the other files' locations, numbered from 1
             "relatedLocations": [
                 {"id": 1, "message": {"text": "first added"},
                  "physicalLocation": {"artifactLocation": {"uri": "a.config"},
                                       "region": {"startLine": 1, "startColumn": 2}}},
                 {"id": 2, "message": {"text": "also"},
                  "physicalLocation": {"artifactLocation": {"uri": "b.config"},
                                       "region": {"startLine": 3, "startColumn": 4}}}]},
            {"ruleId": "W204", "ruleIndex": list(CATALOGUE).index("W204"), "level": "warning",
             "message": {"text": "origin has upper-case letters"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.config"},
                                                 "region": {"startLine": 2, "startColumn": 3}}}]},
        ],
    }


@pytest.mark.parametrize(("name", "uri"), [
    ("<XML>", "XML"),  # only the angle brackets of a pseudo-name are dropped
    ("<half.config", "%3Chalf.config"),  # a real relative name: both brackets or none
    ("half.config>", "half.config%3E"),
])
def test_a_sarif_uri_drops_the_angle_brackets_of_pseudo_names_only(name: str, uri: str) -> None:
    assert artifact_uri(name) == uri


def test_a_reporter_writes_no_colour_unless_asked() -> None:
    stream = io.StringIO()
    REPORTERS["text"](stream).write(ONE_ERROR)
    assert "\x1b[" not in stream.getvalue()


def test_auto_colour_is_off_for_a_closed_stream() -> None:
    stream = io.StringIO()
    stream.close()  # isatty() now raises ValueError
    assert use_colour("auto", stream, {}) is False
