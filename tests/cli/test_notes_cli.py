"""``iiscors validate`` and notes (contract C3), end to end through the command: a note never
changes an exit code, in any format, with or without ``--strict``; each format shows it at its own
level; ``--ignore`` takes notes; and issue 14's acceptance on customHeaders files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iiscors.cli.main import main
from iiscors.cli.report import REPORTERS

#: notes only: W101 (no CORS here) and N101 (<rewrite> is not interpreted)
NOTES_ONLY = (b"<configuration>\n<system.webServer>\n<rewrite><rules><rule name=\"SPA\">"
              b'<match url=".*" /><action type="Rewrite" url="/" /></rule></rules></rewrite>\n'
              b"</system.webServer>\n</configuration>\n")
#: a clean customHeaders-only CORS configuration: notes (N301) but no warning
CLEAN_HEADERS = (b'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
                 b"  <system.webServer>\n    <httpProtocol>\n      <customHeaders>\n"
                 b'        <add name="Access-Control-Allow-Origin" '
                 b'value="https://app.example.com" />\n'
                 b'        <add name="Access-Control-Allow-Methods" value="GET, POST, OPTIONS" />\n'
                 b'        <add name="Access-Control-Allow-Headers" value="Content-Type" />\n'
                 b"      </customHeaders>\n    </httpProtocol>\n  </system.webServer>\n"
                 b"</configuration>\n")
#: issue 14's mistake: * with credentials; the <add name="...Credentials"> is on line 7
STAR_CREDENTIALS = (b"<configuration>\n  <system.webServer>\n    <httpProtocol>\n"
                    b"      <customHeaders>\n"
                    b'        <add name="Access-Control-Allow-Origin" value="*" />\n'
                    b'        <add name="Access-Control-Allow-Headers" value="Content-Type" />\n'
                    b'        <add name="Access-Control-Allow-Credentials" value="true" />\n'
                    b"      </customHeaders>\n    </httpProtocol>\n  </system.webServer>\n"
                    b"</configuration>\n")
#: an ASP.NET MVC Views/Web.config (the template's shape): no CORS at all
VIEWS = (b'<?xml version="1.0"?>\n<configuration>\n  <configSections>\n'
         b'    <sectionGroup name="system.web.webPages.razor" type="x, y">\n'
         b'      <section name="pages" type="x, y" requirePermission="false" />\n'
         b"    </sectionGroup>\n  </configSections>\n"
         b'  <appSettings>\n    <add key="webpages:Enabled" value="false" />\n  </appSettings>\n'
         b"  <system.webServer>\n    <handlers>\n"
         b'      <remove name="BlockViewHandler" />\n'
         b'      <add name="BlockViewHandler" path="*" verb="*" preCondition="integratedMode" '
         b'type="System.Web.HttpNotFoundHandler" />\n'
         b"    </handlers>\n  </system.webServer>\n</configuration>\n")
#: a Web.Release.config transform (xdt:) without CORS
TRANSFORM = (b'<?xml version="1.0" encoding="utf-8"?>\n'
             b'<configuration xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform">\n'
             b"  <system.web>\n"
             b'    <compilation xdt:Transform="RemoveAttributes(debug)" />\n'
             b"  </system.web>\n</configuration>\n")

FORMATS = sorted(REPORTERS)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, data in {"notes.config": NOTES_ONLY, "web.config": CLEAN_HEADERS,
                       "star/web.config": STAR_CREDENTIALS, "Views/Web.config": VIEWS,
                       "Web.Release.config": TRANSFORM}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


@pytest.mark.parametrize("format_name", FORMATS)
@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict"])
def test_notes_never_change_the_exit_code(files: Path, format_name: str, strict: bool) -> None:
    flags = ["--strict"] if strict else []
    for name in ("notes.config", "web.config", "Views/Web.config", "Web.Release.config"):
        result = run("--format", format_name, *flags, str(files / name))
        assert result.exit_code == 0, (name, result.stdout)
    # ... nor with a warning beside them: the warning decides, exactly as without notes
    result = run("--format", format_name, *flags, str(files / "star/web.config"))
    assert result.exit_code == (1 if strict else 0), result.stdout


def test_acceptance_star_with_credentials_points_at_the_credentials_add(files: Path) -> None:
    result = run("--strict", str(files / "star/web.config"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{files / 'star/web.config'}:6:")  # N301 on line 6
    warning = next(line for line in lines if " warning " in line)
    assert warning.startswith(f"{files / 'star/web.config'}:7:14: warning W301 ")
    document = json.loads(run("--strict", "--format", "json",
                              str(files / "star/web.config")).stdout)
    (w301,) = [d for d in document["files"][0]["diagnostics"] if d["severity"] == "warning"]
    assert (w301["code"], w301["line"]) == ("W301", 7)


def test_text_counts_notes_on_their_own(files: Path) -> None:
    result = run(str(files / "notes.config"))
    lines = result.stdout.splitlines()
    assert lines[0] == f"{files / 'notes.config'}: note W101 No system.webServer/cors section " \
        "and no Access-Control-* custom header: nothing to check"
    assert lines[2].startswith(f"{files / 'notes.config'}:3:1: note N101 ")
    assert lines[-1] == "Checked 1 file: no problems, 2 notes."
    both = run(str(files / "notes.config"), str(files / "star/web.config"))
    assert both.stdout.splitlines()[-1] == "Checked 2 files: 0 errors, 1 warning in 1 file, " \
        "3 notes."


def test_text_colours_notes(files: Path) -> None:
    result = run("--color", "always", str(files / "notes.config"))
    assert "\x1b[36m" in result.stdout  # cyan, neither the error's red nor the warning's yellow


def test_json_counts_notes(files: Path) -> None:
    document = json.loads(run("--strict", "--format", "json", str(files / "notes.config")).stdout)
    assert document["summary"] == {"files": 1, "errors": 0, "warnings": 0, "notes": 2,
                                   "failed_files": 0}
    (entry,) = document["files"]
    assert (entry["notes"], entry["failed"]) == (2, False)
    assert {d["severity"] for d in entry["diagnostics"]} == {"note"}


def test_sarif_note_level(files: Path) -> None:
    document = json.loads(run("--format", "sarif", str(files / "notes.config")).stdout)
    run_ = document["runs"][0]
    assert [r["level"] for r in run_["results"]] == ["note", "note"]
    rules = {rule["id"]: rule for rule in run_["tool"]["driver"]["rules"]}
    assert rules["W101"]["defaultConfiguration"]["level"] == "note"
    assert rules["N301"]["defaultConfiguration"]["level"] == "note"
    assert rules["W301"]["defaultConfiguration"]["level"] == "warning"


def test_github_notice(files: Path) -> None:
    lines = run("--format", "github", str(files / "notes.config")).stdout.splitlines()
    assert lines[0].startswith(f"::notice file={files / 'notes.config'},title=iiscors W101::")
    assert lines[1].startswith(f"::notice file={files / 'notes.config'},line=3,col=1,"
                               "title=iiscors N101::")
    assert not [line for line in lines if line.startswith(("::warning", "::error"))]


def test_junit_notes_are_not_failures(files: Path) -> None:
    out = run("--strict", "--format", "junit", str(files / "notes.config"),
              str(files / "star/web.config")).stdout
    suite = ET.fromstring(out.encode())[0]
    assert suite.attrib["failures"] == "1"  # the warning, under --strict; never the notes
    notes_case, star_case = suite.findall("testcase")
    assert notes_case.find("failure") is None
    system_out = notes_case.find("system-out")
    assert system_out is not None and "note W101" in (system_out.text or "")
    failure = star_case.find("failure")
    assert failure is not None and failure.attrib["message"] == "0 errors, 1 warning, 1 note"


def test_ignore_takes_notes_but_not_errors(files: Path) -> None:
    result = run("--format", "json", "--ignore", "w101,N101", str(files / "notes.config"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["files"][0]["diagnostics"] == []
    refused = run("--ignore", "E201", str(files / "notes.config"))
    assert refused.exit_code == 2 and "E201 is an error and cannot be ignored" in refused.output


def test_acceptance_clean_views_and_transform_pass_strict_together(files: Path) -> None:
    result = run("--strict", str(files / "web.config"), str(files / "Views/Web.config"),
                 str(files / "Web.Release.config"))
    assert result.exit_code == 0, result.stdout
    assert " warning " not in result.stdout and " error " not in result.stdout
