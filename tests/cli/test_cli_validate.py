"""``iiscors validate`` through click's CliRunner: inputs, formats, exit codes, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iiscors.cli import report
from iiscors.cli.main import main

CLEAN = (b'<configuration><system.webServer><cors enabled="true">'
         b'<add origin="https://app.example" /></cors></system.webServer></configuration>')
WARNS = (b'<configuration>\n<system.webServer>\n<cors enabled="true">\n'
         b'<add origin="https://App.example" />\n</cors>\n</system.webServer>\n</configuration>')
BROKEN = (b'<configuration>\n<system.webServer>\n<cors enabeld="true">\n'
          b'<add origin="https://app.example" />\n</cors>\n</system.webServer>\n</configuration>')
APP_CONFIG = b'<?xml version="1.0"?>\n<!-- app settings -->\n<configuration><appSettings />' \
             b"</configuration>"
PACKAGES = b'<?xml version="1.0" encoding="utf-8"?>\n<packages><package id="x" /></packages>'


def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["validate", *args], input=input, env=env)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, data in {"clean.config": CLEAN, "warns.config": WARNS,
                       "broken.config": BROKEN}.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


# -- exit codes -----------------------------------------------------------------------------

def test_clean_file_exits_0(files: Path) -> None:
    result = run(str(files / "clean.config"))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Checked 1 file: no problems.\n"


def test_warnings_exit_0_and_1_under_strict(files: Path) -> None:
    path = str(files / "warns.config")
    result = run(path)
    assert result.exit_code == 0
    assert f"{path}:4:6: warning W204 " in result.stdout
    assert run(path, "--strict").exit_code == 1


def test_errors_exit_1_never_a_count(files: Path) -> None:
    for index in range(3):
        (files / f"more{index}.config").write_bytes(BROKEN)
    result = run(str(files))
    assert result.exit_code == 1
    assert result.stdout.count(" error E201 ") == 4
    assert result.stdout.splitlines()[-1] == ("Checked 6 files: 4 errors, 1 warning in "
                                              "5 files.")


def test_missing_file_exits_2_with_e100(files: Path) -> None:
    result = run(str(files / "clean.config"), str(files / "nope.config"))
    assert result.exit_code == 2
    assert "nope.config: error E100 Cannot read the file" in result.stdout


def test_errors_and_unreadable_exit_2(files: Path) -> None:
    assert run(str(files / "broken.config"), str(files / "nope.config")).exit_code == 2


@pytest.mark.parametrize("args", [
    [],
    ["--format", "xml", "x.config"],
    ["--ignore", "E201", "x.config"],
    ["--ignore", "W999", "x.config"],
    ["--max-bytes", "0", "x.config"],
    ["--color", "sometimes", "x.config"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.output or "Error:" in result.output


def test_too_large_is_an_error_not_an_io_problem(files: Path) -> None:
    result = run("--max-bytes", "50", str(files / "clean.config"))
    assert result.exit_code == 1
    assert "error E101" in result.stdout


# -- inputs ---------------------------------------------------------------------------------

def test_stdin() -> None:
    result = run("-", input=WARNS)
    assert result.exit_code == 0
    assert result.stdout.startswith("<stdin>:4:6: warning W204 ")


def test_stdin_reads_at_most_the_limit() -> None:
    result = run("--max-bytes", "100", "-", input=WARNS + b" " * 10_000)
    assert result.exit_code == 1
    assert "<stdin>:1: error E101" in result.stdout


def test_stdin_broken() -> None:
    result = run("-", input=b"<configuration><system.webServer>")
    assert result.exit_code == 1
    assert "<stdin>:1:" in result.stdout and "error E102" in result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    layout = {
        "web.config": CLEAN,
        "api/Web.config": WARNS,                # any letter case
        "api/v2/web.Release.config": CLEAN,     # *.config with a <configuration> root
        "tools/app.config": APP_CONFIG,         # <configuration> root, no <cors>: W101
        "packages.config": PACKAGES,            # another root: skipped
        "notes.txt": b"not a config",
        "node_modules/pkg/web.config": BROKEN,  # dependency folder: not entered
        "bin/web.config": BROKEN,               # build output: not entered
        ".git/x.config": BROKEN,                # hidden: not entered
    }
    for name, data in layout.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def checked(result: Result, root: Path) -> list[str]:
    document = json.loads(result.stdout)
    return [Path(f["file"]).relative_to(root).as_posix() for f in document["files"]]


# os.walk order: a directory's files, then its sub-directories in name order.
EXPECTED_TREE = ["web.config", "api/Web.config", "api/v2/web.Release.config",
                 "tools/app.config"]


def test_directory_search(tree: Path) -> None:
    # --each-file: files one by one (the site search is tests/cli/test_validate_sites.py).
    result = run("--each-file", "--format", "json", str(tree))
    assert result.exit_code == 0, result.stdout
    assert checked(result, tree) == EXPECTED_TREE


def test_glob(tree: Path) -> None:
    result = run("--format", "json", str(tree / "**" / "*.config"))
    assert result.exit_code == 1, result.stdout  # the broken bin/ and node_modules/ copies
    # A glob's matches obey the directory rule: packages.config is left out.  (glob's ** does
    # not enter hidden directories; node_modules and bin are named files here, so they count.)
    assert set(checked(result, tree)) == {*EXPECTED_TREE, "bin/web.config",
                                          "node_modules/pkg/web.config"}


def test_glob_matching_nothing_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "*.config"))
    assert result.exit_code == 2
    assert "error E100 No configuration file found" in result.stdout


def test_empty_directory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    assert run(str(tmp_path)).exit_code == 2


def test_same_file_twice_is_checked_once(files: Path) -> None:
    path = files / "warns.config"
    result = run(str(path), str(files / "." / "warns.config"))
    assert result.stdout.count("W204") == 1


def test_named_file_with_another_root_is_an_error_unless_skipped(tree: Path) -> None:
    packages = str(tree / "packages.config")
    result = run(packages)
    assert result.exit_code == 1
    assert "error E106" in result.stdout
    skipped = run("--skip-unrelated", packages, str(tree / "web.config"))
    assert skipped.exit_code == 0
    assert "packages.config" not in skipped.stdout
    assert skipped.stdout.endswith("Checked 1 file: no problems.\n")


def test_ignore_drops_warnings(files: Path) -> None:
    path = str(files / "warns.config")
    result = run("--strict", "--ignore", "w204,W213", path)
    assert result.exit_code == 0
    assert "W204" not in result.stdout


# -- formats --------------------------------------------------------------------------------

def test_format_json(files: Path) -> None:
    result = run("--format", "json", str(files / "broken.config"))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["summary"]["errors"] == 1
    assert document["files"][0]["diagnostics"][0]["code"] == "E201"


def test_format_github(files: Path) -> None:
    result = run("--format", "github", str(files / "broken.config"))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::error file={files / 'broken.config'},line=3,col=7,"
                                    "title=iiscors E201::")


@pytest.mark.parametrize(("actions", "github"), [("true", True), ("", False)])
def test_format_auto(files: Path, actions: str, github: bool) -> None:
    path = str(files / "warns.config")
    result = run("--format", "auto", path, env={"GITHUB_ACTIONS": actions})
    expected = f"::warning file={path},line=4" if github else f"{path}:4:6: warning W204"
    assert result.stdout.startswith(expected)


def test_format_sarif(files: Path) -> None:
    result = run("--format", "sarif", str(files / "warns.config"), str(files / "broken.config"))
    assert result.exit_code == 1
    run_ = json.loads(result.stdout)["runs"][0]
    assert [r["ruleId"] for r in run_["results"]] == ["W204", "E201"]
    region = run_["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 6}


def test_format_junit(files: Path) -> None:
    result = run("--format", "junit", str(files / "clean.config"), str(files / "broken.config"))
    assert result.exit_code == 1
    suite = ET.fromstring(result.stdout.encode())[0]
    assert suite.attrib["tests"] == "2" and suite.attrib["failures"] == "1"


def test_output_file(files: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.sarif"
    target.parent.mkdir()
    result = run("--format", "sarif", "-o", str(target), str(files / "broken.config"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"


def test_colour_on_a_terminal_unless_no_color(files: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_isatty", lambda stream: True)
    path = str(files / "broken.config")
    assert "\x1b[31m" in run(path, env={"NO_COLOR": ""}).stdout
    assert "\x1b[" not in run(path, env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in run("--color", "never", path).stdout


def test_no_colour_when_not_a_terminal(files: Path) -> None:
    assert "\x1b[" not in run(str(files / "broken.config"), env={"NO_COLOR": ""}).stdout


# -- start-up cost --------------------------------------------------------------------------

def test_validation_never_compiles_a_policy(files: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    import iiscors.policy.core

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate compiled a policy")

    monkeypatch.setattr(iiscors.policy.core.Policy, "__init__", refuse)
    assert run(str(files / "warns.config")).exit_code == 0


def test_startup_imports_only_what_validation_needs(files: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "iiscors", "validate",
                           str(files / "clean.config")], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "iiscors.config.load" in imported  # the measurement works
    for module in ("werkzeug", "iiscors.cli.explain", "iiscors.serving.serve",
                   "xml.etree.ElementTree", "http.server", "asyncio"):
        assert module not in imported, module
