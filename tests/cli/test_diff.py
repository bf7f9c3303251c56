"""``iiscors diff`` from the command line (issue 16 part 1): inputs (files, site directories,
``--git REV`` on a temporary repository), the five formats, ``--fail-on`` and the exit codes,
bad input, and hostile file names and values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iiscors.cli.main import main

from support import web_config as support_web_config

ON = '<cors enabled="true">'
END = "</cors>"
A = '<add origin="https://a.example"/>'
B = '<add origin="https://b.example"/>'
B_CRED = '<add origin="https://b.example" allowCredentials="true"/>'
NARROWER = f'<cors enabled="true" failUnlistedOrigins="true">{A}{END}'


def web_config_text(cors: str, server: str = "") -> str:
    """A web.config whose ``<cors>`` snippet starts on line 4 (support.web_config, as text)."""
    return support_web_config(cors, server=server).decode()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["diff", *args], env=env)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    """old: a allowed; new: a allowed, b allowed with credentials (on line 5)."""
    old = write(tmp_path / "old.config", web_config_text(f"{ON}\n{A}\n{END}"))
    new = write(tmp_path / "new.config", web_config_text(f"{ON}\n{A}\n{B_CRED}\n{END}"))
    return str(old), str(new)


# --- formats ---------------------------------------------------------------------------------


def test_text_names_the_line_the_class_the_scope_and_what_changed(pair: tuple[str, str]) -> None:
    result = run(*pair)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"{pair[1]}:6: widens, with credentials: / https://b.example "
                        "(exact origin)")
    assert lines[1] == ("    access: not allowed (no CORS headers; the app answers) → "
                        "allowed, with credentials")
    assert lines[-1].startswith("Compared 1 configuration: 1 change in access")


def test_no_change(tmp_path: Path) -> None:
    old = write(tmp_path / "a.config", web_config_text(f"{ON}{A}{B}{END}"))
    new = write(tmp_path / "b.config", web_config_text(f"{ON}\n  {B}\n  {A}\n{END}"))
    result = run(str(old), str(new), "--fail-on", "any")
    assert result.exit_code == 0
    assert result.stdout == "Compared 1 configuration: no change in access.\n"


def test_json_shape(pair: tuple[str, str]) -> None:
    result = run(*pair, "--format", "json")
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["tool"]["name"] == "iiscors"
    assert document["fail_on"] == "none"
    assert document["compared"] == [{"old": pair[0], "new": pair[1]}]
    assert document["summary"] == {"changes": 1, "widens": 1, "narrows": 0, "neutral": 0,
                                   "credentials": 1, "failing": 0}
    (change,) = document["changes"]
    assert {k: v for k, v in change.items() if k not in ("message", "aspects")} == {
        "class": "widens", "credentials": True, "failing": False, "scopes": ["/"],
        "origin": "https://b.example", "kind": "exact", "witness": "https://b.example",
        "cause": "rule", "file": pair[1], "line": 6, "column": 6, "side": "new"}
    assert change["aspects"] == [{
        "what": "access", "old": "not allowed (no CORS headers; the app answers)",
        "new": "allowed, with credentials", "class": "widens", "requests": "all"}]
    assert change["message"].startswith("widens, with credentials: / https://b.example")


def test_github_annotations(tmp_path: Path) -> None:
    old = write(tmp_path / "old.config", web_config_text(f"{ON}\n{A}\n{B}\n{END}"))
    new = write(tmp_path / "new.config", web_config_text(f'{ON}\n{B_CRED}\n<add origin="https://'
                                                    f'c.example"/>\n{END}'))
    lines = run(str(old), str(new), "--format", "github").stdout.splitlines()
    assert lines[0] == (f"::error file={new},line=5,title=iiscors diff%3A widens%2C with "
                        "credentials::widens, with credentials: / https://b.example (exact "
                        "origin)%0Acredentials: false → true")
    assert lines[1].startswith(f"::warning file={new},line=6,title=iiscors diff%3A widens::")
    # A removal is a line of the old version: annotated on the file as a whole.
    assert lines[2] == (f"::notice file={old},title=iiscors diff%3A narrows::narrows: / "
                        "https://a.example (exact origin) (line 5 of the old version)%0A"
                        "access: allowed → not allowed (no CORS headers; the app answers)")
    assert lines[3].startswith("Compared 1 configuration: 3 changes")


def test_auto_is_github_under_actions(pair: tuple[str, str]) -> None:
    result = run(*pair, "--format", "auto", env={"GITHUB_ACTIONS": "true"})
    assert result.stdout.startswith("::error ")
    assert run(*pair, "--format", "auto", env={"GITHUB_ACTIONS": ""}).stdout.startswith(
        f"{pair[1]}:6:")


def test_markdown_comment(pair: tuple[str, str]) -> None:
    lines = run(*pair, "--format", "markdown").stdout.splitlines()
    assert lines[0] == "### iiscors diff: changes in access"
    assert lines[4:6] == ["| Class | Scope | Origin | What changed | Where |",
                          "|---|---|---|---|---|"]
    assert lines[6] == ("| **widens, with credentials** | `/` | `https://b.example` (exact "
                        "origin) | access: `not allowed (no CORS headers; the app answers)` → "
                        f"`allowed, with credentials` | `{pair[1]}:6` |")


def test_markdown_rows_are_bounded(tmp_path: Path) -> None:
    rules = "".join(f'<add origin="https://app{i}.example"/>' for i in range(250))
    old = write(tmp_path / "old.config", web_config_text(f"{ON}{A}{END}"))
    new = write(tmp_path / "new.config", web_config_text(f"{ON}{A}{rules}{END}"))
    lines = run(str(old), str(new), "--format", "markdown").stdout.splitlines()
    assert sum(line.startswith(("| widens |", "| **widens**")) for line in lines) == 200
    assert lines[-1] == "… and 50 more (`--format json` lists them all)."


def test_sarif(pair: tuple[str, str]) -> None:
    document = json.loads(run(*pair, "--format", "sarif").stdout)
    assert document["version"] == "2.1.0"
    run_ = document["runs"][0]
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert rules == ["access-widens-credentials", "access-widens", "access-narrows",
                     "access-neutral"]
    (result,) = run_["results"]
    assert result["ruleId"] == "access-widens-credentials" and result["ruleIndex"] == 0
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["region"] == {"startLine": 6}
    assert location["artifactLocation"]["uri"] == Path(pair[1]).as_uri()
    assert result["properties"]["origin"] == "https://b.example"


def test_sarif_places_a_removal_on_line_1_and_names_the_old_line(tmp_path: Path) -> None:
    old = write(tmp_path / "old.config", web_config_text(f"{ON}\n{A}\n{B}\n{END}"))
    new = write(tmp_path / "new.config", web_config_text(f"{ON}\n{A}\n{END}"))
    (result,) = json.loads(run(str(old), str(new), "-f", "sarif").stdout)["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("access-narrows", "note")
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        Path(old).as_uri()
    assert "(line 6 of the old version)" in result["message"]["text"]


def test_output_file(pair: tuple[str, str], tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = run(*pair, "--format", "json", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["changes"] == 1


# --- --fail-on and exit codes ------------------------------------------------------------------


@pytest.mark.parametrize(("new", "fail_on", "code"), [
    (f"{ON}{A}{B_CRED}{END}", "none", 0),
    (f"{ON}{A}{B_CRED}{END}", "credentials", 1),
    (f"{ON}{A}{B}{END}", "credentials", 0),
    (f"{ON}{A}{B}{END}", "widen", 1),
    (NARROWER, "widen", 0),
    (NARROWER, "any", 1),
    (f'{ON}<add origin="https://a.example" maxAge="5"/>{END}', "widen", 0),
    (f'{ON}<add origin="https://a.example" maxAge="5"/>{END}', "any", 1),
    (f"{ON}{A}{END}", "any", 0),
], ids=["credentials-none", "credentials-credentials", "widen-credentials", "widen-widen",
        "narrow-widen", "narrow-any", "neutral-widen", "neutral-any", "nothing-any"])
def test_fail_on(tmp_path: Path, new: str, fail_on: str, code: int) -> None:
    old = write(tmp_path / "old.config", web_config_text(f"{ON}{A}{END}"))
    changed = write(tmp_path / "new.config", web_config_text(new))
    result = run(str(old), str(changed), "--fail-on", fail_on, "--format", "json")
    assert result.exit_code == code, result.output
    assert bool(json.loads(result.stdout)["summary"]["failing"]) == bool(code)


def test_failing_count_in_the_summary(pair: tuple[str, str]) -> None:
    result = run(*pair, "--fail-on", "credentials")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].endswith("; 1 failing under --fail-on credentials.")


@pytest.mark.parametrize("args", [[], ["one.config"], ["--git", "HEAD", "a", "b"],
                                  ["a", "b", "--fail-on", "sometimes"], ["a", "b", "-f", "xml"]],
                         ids=["nothing", "one-side", "git-and-files", "bad-fail-on",
                              "bad-format"])
def test_usage_problems_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_missing_file_exits_2_located(tmp_path: Path, pair: tuple[str, str]) -> None:
    missing = tmp_path / "absent.config"
    result = run(str(missing), pair[1])
    assert result.exit_code == 2
    assert f"{missing}: error E100 Cannot read the file" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.output


def test_not_xml_exits_2_with_its_line(tmp_path: Path, pair: tuple[str, str]) -> None:
    broken = write(tmp_path / "broken.config", "<configuration>\n<system.webServer>\n<cors\n")
    result = run(pair[0], str(broken))
    assert result.exit_code == 2
    assert f"{broken}:4:" in result.stderr and " error E10" in result.stderr
    assert "cannot be loaded; nothing compared" in result.stderr


def test_unusable_configuration_exits_2(tmp_path: Path, pair: tuple[str, str]) -> None:
    duplicate = write(tmp_path / "dup.config", web_config_text(f"{ON}\n{A}\n{A}\n{END}"))
    result = run(pair[0], str(duplicate))
    assert result.exit_code == 2
    assert f"{duplicate}:6:" in result.stderr and "E302" in result.stderr


def test_github_format_annotates_the_errors_too(tmp_path: Path, pair: tuple[str, str]) -> None:
    duplicate = write(tmp_path / "dup.config", web_config_text(f"{ON}\n{A}\n{A}\n{END}"))
    result = run(pair[0], str(duplicate), "--format", "github")
    assert result.exit_code == 2
    assert result.stdout.startswith(f"::error file={duplicate},line=6,title=iiscors diff::E302")


def test_warnings_do_not_stop_a_diff(tmp_path: Path, pair: tuple[str, str]) -> None:
    # credentials on "*" is a warning (W-code): the configuration is usable and compared.
    warned = write(tmp_path / "warned.config", web_config_text(
        f'{ON}<add origin="*" allowCredentials="true"/>{END}'))
    result = run(pair[0], str(warned))
    assert result.exit_code == 0 and "* (every origin no other rule matches)" in result.stdout


# --- site directories --------------------------------------------------------------------------


def test_site_directories(tmp_path: Path) -> None:
    for side, extra in (("old", ""), ("new", B)):
        write(tmp_path / side / "web.config", web_config_text(f"{ON}{A}{END}"))
        write(tmp_path / side / "API" / "web.config", web_config_text(f"<cors>\n{extra}\n{END}"))
    result = run(str(tmp_path / "old"), str(tmp_path / "new"), "--format", "json")
    (change,) = json.loads(result.stdout)["changes"]
    assert (change["scopes"], change["origin"], change["class"]) == (
        ["/api"], "https://b.example", "widens")
    assert (change["file"], change["line"]) == (str(tmp_path / "new" / "API" / "web.config"), 5)


def test_a_file_against_a_site(tmp_path: Path, pair: tuple[str, str]) -> None:
    write(tmp_path / "site" / "web.config", web_config_text(f"{ON}{A}{END}"))
    result = run(pair[0], str(tmp_path / "site"), "--fail-on", "any")
    assert result.exit_code == 0 and "no change in access" in result.stdout


def test_a_directory_without_web_config_exits_2(tmp_path: Path, pair: tuple[str, str]) -> None:
    (tmp_path / "empty").mkdir()
    result = run(pair[0], str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert "No web.config in this directory" in result.stderr


# --- --git -------------------------------------------------------------------------------------

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def git(repo: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose first commit has web.config, api/web.config, gone/web.config,
    app.config (IIS configuration by its root) and packages.config (not IIS configuration)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root / "web.config", web_config_text(f"{ON}\n{A}\n{END}"))
    write(root / "api" / "web.config", web_config_text(f"{ON}\n{A}\n{END}"))
    write(root / "gone" / "web.config", web_config_text(f"{ON}\n{A}\n{END}"))
    write(root / "app.config", web_config_text(f"{ON}\n{A}\n{END}"))
    write(root / "packages.config", '<?xml version="1.0"?>\n<packages>\n</packages>\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    monkeypatch.chdir(root)
    return root


@needs_git
def test_git_compares_every_changed_configuration_file(repo: Path) -> None:
    write(repo / "web.config", web_config_text(f"{ON}\n{A}\n{B_CRED}\n{END}"))   # modified
    (repo / "gone" / "web.config").unlink()                                   # deleted
    write(repo / "new" / "Web.config", web_config_text(f"{ON}\n{B}\n{END}"))       # untracked
    write(repo / "packages.config", "<packages><package id='x'/></packages>")  # not IIS
    write(repo / "node_modules" / "web.config", web_config_text(f"{ON}{B}{END}"))  # skipped
    write(repo / ".hidden" / "web.config", web_config_text(f"{ON}{B}{END}"))       # skipped
    write(repo / "ignored" / "web.config", web_config_text(f"{ON}{B}{END}"))       # ignored
    write(repo / ".gitignore", "ignored/\n")
    result = run("--git", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["compared"] == [
        {"old": "HEAD:gone/web.config", "new": None},
        {"old": None, "new": "new/Web.config"},
        {"old": "HEAD:web.config", "new": "web.config"}]
    found = {(c["file"], c["line"], c["side"], c["origin"], c["class"])
             for c in document["changes"]}
    assert found == {
        ("web.config", 6, "new", "https://b.example", "widens"),
        ("new/Web.config", 4, "new", "https://b.example", "widens"),
        ("gone/web.config", 4, "old", "https://a.example", "narrows")}


@needs_git
def test_git_from_a_sub_directory_and_the_old_side_marked(repo: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    write(repo / "api" / "web.config", web_config_text(f"{ON}\n{END}"))
    monkeypatch.chdir(repo / "api")
    result = run("--git", "HEAD")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "api/web.config:5 (at HEAD): narrows: / https://a.example (exact origin)")


@needs_git
def test_git_nothing_changed(repo: Path) -> None:
    result = run("--git", "HEAD", "--fail-on", "any")
    assert result.exit_code == 0
    assert result.stdout == "Compared 0 configurations: no change in access.\n"


@needs_git
def test_git_other_config_files_by_their_root(repo: Path) -> None:
    write(repo / "app.config", web_config_text(f"{ON}\n{A}\n{B}\n{END}"))
    changes = json.loads(run("--git", "HEAD", "-f", "json").stdout)["changes"]
    assert [(c["file"], c["origin"]) for c in changes] == [("app.config", "https://b.example")]


@needs_git
@pytest.mark.parametrize("rev", ["no-such-rev", "--output=/tmp/x", "HEAD~5"])
def test_git_bad_revision_exits_2(repo: Path, rev: str) -> None:
    result = run("--git", rev)
    assert result.exit_code == 2
    assert "is not a" in result.stderr and "Traceback" not in result.output


@needs_git
def test_git_outside_a_repository_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    (tmp_path / "plain").mkdir()
    monkeypatch.chdir(tmp_path / "plain")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    result = run("--git", "HEAD")
    assert result.exit_code == 2
    assert result.stderr.startswith("iiscors diff: git rev-parse:")


@needs_git
def test_git_old_version_unusable_exits_2_marked(repo: Path) -> None:
    write(repo / "web.config", web_config_text(f"{ON}\n{A}\n{A}\n{END}"))
    git(repo, "commit", "-q", "-am", "broken")
    write(repo / "web.config", web_config_text(f"{ON}\n{A}\n{END}"))
    result = run("--git", "HEAD")
    assert result.exit_code == 2
    assert "web.config:6:" in result.stderr and "(at HEAD)" in result.stderr


@needs_git
def test_git_old_version_too_large_is_e101_without_reading_it_all(repo: Path) -> None:
    write(repo / "web.config",
          web_config_text(f"{ON}{A}{END}", server="<!--" + "x" * 300_000 + "-->"))
    git(repo, "commit", "-q", "-am", "large")
    write(repo / "web.config", web_config_text(f"{ON}{A}{END}"))
    result = run("--git", "HEAD")
    assert result.exit_code == 2 and "E101" in result.stderr


@needs_git
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_git_symbolic_links_are_skipped_with_a_note(repo: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "outside.config", web_config_text(f"{ON}{B_CRED}{END}"))
    os.symlink(secret, repo / "linked.config")
    result = run("--git", "HEAD", "--fail-on", "any")
    assert result.exit_code == 0
    assert "linked.config: skipped, not a regular file in the working tree" in result.stderr


@needs_git
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_git_a_symbolic_link_at_the_old_revision_is_skipped(repo: Path, tmp_path: Path) -> None:
    os.symlink("web.config", repo / "alias.config")
    git(repo, "add", "alias.config")
    git(repo, "commit", "-q", "-m", "link")
    (repo / "alias.config").unlink()
    write(repo / "alias.config", web_config_text(f"{ON}{B_CRED}{END}"))
    result = run("--git", "HEAD", "--fail-on", "any")
    assert result.exit_code == 0
    assert "alias.config: skipped, not a regular file at the old revision" in result.stderr


# --- hostile names and values ------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="such names are POSIX only")
def test_hostile_file_name_is_escaped_everywhere(tmp_path: Path) -> None:
    name = "we\x1b[31mb\u202e,:%\nX.config"
    old = write(tmp_path / "old.config", web_config_text(f"{ON}{A}{END}"))
    new = write(tmp_path / name, web_config_text(f"{ON}{A}{B}{END}"))
    text = run(str(old), str(new)).stdout
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[31m" in text
    assert "\\u202e" in text and "\\x0aX.config:4:" in text
    github = run(str(old), str(new), "-f", "github").stdout.splitlines()[0]
    assert "\n" not in github and "\x1b" not in github
    assert "%2C%3A%25\\x0aX.config,line=4," in github
    markdown = run(str(old), str(new), "-f", "markdown").stdout
    assert "\x1b" not in markdown and "\\x1b[31m" in markdown
    document = json.loads(run(str(old), str(new), "-f", "json").stdout)
    assert document["changes"][0]["file"] == str(new)  # JSON keeps it exact, escaped by JSON


@pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8: POSIX bytes")
@pytest.mark.parametrize("format_name", ["text", "json", "github", "markdown", "sarif"])
def test_a_file_name_that_is_not_utf8_in_every_format(tmp_path: Path, format_name: str) -> None:
    old = write(tmp_path / "old.config", web_config_text(f"{ON}{A}{END}"))
    new = os.path.join(os.fsencode(tmp_path), b"n\xffew.config")
    with open(new, "wb") as handle:
        handle.write(web_config_text(f"{ON}{A}{B}{END}").encode())
    done = subprocess.run([sys.executable, "-m", "iiscors", "diff", os.fsencode(old), new,
                           "-f", format_name], capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8:strict",
                               "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    output = done.stdout.decode("utf-8")  # whatever the format, valid UTF-8
    if format_name == "json":
        assert json.loads(output)["changes"][0]["file"].endswith("n\udcffew.config")
    elif format_name == "sarif":
        (result,) = json.loads(output)["runs"][0]["results"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert location.endswith("/n%FFew.config")
    else:
        assert "n\\udcffew.config" in output


def test_hostile_header_value_in_markdown_and_text(tmp_path: Path) -> None:
    old = write(tmp_path / "old.config", web_config_text(f"{ON}{A}{END}"))
    hostile = "x|`y`\xad"  # a soft hyphen: invisible formatting, ISO-8859-1 (E210 allows it)
    new = write(tmp_path / "new.config", web_config_text(
        f"{ON}{A}{END}", server=f'<httpProtocol><customHeaders><add name="Access-Control-'
                                f'Expose-Headers" value="{hostile}"/></customHeaders>'
                                "</httpProtocol>"))
    markdown = run(str(old), str(new), "-f", "markdown").stdout
    assert "``x\\|`y`\\xad``" in markdown and "\xad" not in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| **widens"))
    assert row.count(" | ") == 4  # the pipe in the value does not open a column
    text = run(str(old), str(new)).stdout
    assert "x|`y`\\xad" in text and "\xad" not in text


HOSTILE = {
    "doctype-entity-bomb": '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa">'
                           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><configuration>&b;'
                           "</configuration>",
    "deep-nesting": "<configuration>" + "<a>" * 5000 + "</a>" * 5000 + "</configuration>",
    "binary": "\x00\xff\xfe<configuration>\x00",
    "external-entity": '<?xml version="1.0"?><!DOCTYPE c SYSTEM "file:///etc/passwd">'
                       "<configuration/>",
}


@pytest.mark.parametrize("content", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_files_exit_2_quickly_and_write_nothing(tmp_path: Path, content: str) -> None:
    site = tmp_path / "site"
    write(site / "web.config", web_config_text(f"{ON}{A}{END}"))
    hostile = tmp_path / "hostile" / "web.config"
    write(hostile, content)
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    for args in ([str(site), str(hostile.parent)], [str(hostile), str(site / "web.config")]):
        done = subprocess.run([sys.executable, "-m", "iiscors", "diff", *args, "-f", "json"],
                              capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and " error E1" in done.stderr
    assert sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_without_waiting(tmp_path: Path, kind: str,
                                                       pair: tuple[str, str]) -> None:
    target = Path("/dev/zero")
    if kind == "fifo":
        target = tmp_path / "pipe.config"
        os.mkfifo(target)
    done = subprocess.run([sys.executable, "-m", "iiscors", "diff", pair[0], str(target)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 2
    assert f"{target}: error E100 Cannot read the file" in done.stderr


def test_the_installed_command_runs_diff(pair: tuple[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "iiscors", "diff", *pair, "--fail-on",
                           "credentials"], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 1, done.stderr
    assert "widens, with credentials" in done.stdout
