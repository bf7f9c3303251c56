"""What the command line prints cannot be steered by the files and arguments it is given
(issue 12, items 10 and 11).

``iiscors validate`` runs in pre-commit hooks and in CI on files from strangers' pull requests,
and CI logs are a command channel: GitHub's runner obeys a line that starts with ``::`` (after
white space) and ``##[command]`` anywhere in a line, Azure Pipelines obeys ``##vso[`` anywhere,
and a terminal obeys escape sequences.  Every test here feeds hostile text through the real
command (click's CliRunner, or a real ``python -m iiscors`` process where file names are bytes)
and checks the whole output with :func:`assert_inert`: no control character (C0, DEL, C1), no
Unicode line or paragraph separator, no bidi control (the "Trojan Source" class), no lone
surrogate, no CI command marker, and no line that a runner would take for a command other than
the annotations ``--format github`` means to write.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iiscors.cli import report as report_module
from iiscors.cli.main import main

# The module, not the command that iiscors.cli re-exports under the same name.
main_module = importlib.import_module("iiscors.cli.main")

FORMATS = ("text", "json", "github", "sarif", "junit")

#: What no output may hold, raw: C0 but the line feed, DEL, C1, the Unicode line and paragraph
#: separators, the bidi controls (U+202A-U+202E, U+2066-U+2069, and the marks ALM, LRM, RLM),
#: lone surrogates (from undecodable file names) and the two noncharacters XML 1.0 forbids.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                    "\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
#: Commands obeyed anywhere in a line: GitHub's legacy ``##[cmd]``, Azure's ``##vso[``,
#: TeamCity's ``##teamcity[``.
CI_MARKER = re.compile(r"(?i)##[a-z]*\[")
ANNOTATION = re.compile(r"::(error|warning) file=[^:]*::")

#: Every character the output must escape, one by one.
CONTROLS = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
            + ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"]
            + [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)])
#: The ones an XML 1.0 document can carry (as character references).
XML_CONTROLS = [c for c in CONTROLS if c in "\t\n\r" or ord(c) >= 0x7F]


#: What stands for the OSC sequence in an origin, where C1 characters are errors (E208).
BIDI = "\u2067RLI"


def payload(char: str, osc: str = "\x1b]0;title\x07") -> str:
    """A value that tries every trick at once around one control character, and sets the
    terminal's title with an OSC sequence."""
    return (f"{char}::error title=pwned::injected{char}##[add-mask]secret{char}"
            f"##vso[task.complete result=Failed]%0A::warning::x%25{char}OSC{osc}")


def as_xml(text: str) -> str:
    """``text`` as an attribute value: every control written as a character reference (the
    7-bit OSC, whose ESC and BEL XML 1.0 cannot hold, becomes the 8-bit one, C1 OSC and ST)."""
    text = text.replace("\x1b]", "\x9d").replace("\x07", "\x9c")
    return "".join(f"&#x{ord(c):x};" if c == "\n" or UNSAFE.match(c) else c for c in text)


def assert_inert(text: str, *, annotations: int = 0) -> None:
    """The output holds no control character and no CI command but the expected annotations."""
    bad = UNSAFE.search(text)
    assert bad is None, f"{bad.group()!r} in {text[max(0, bad.start() - 80):bad.end() + 40]!r}"
    marker = CI_MARKER.search(text)
    assert marker is None, text[max(0, marker.start() - 80):marker.end() + 40]
    commands = [line for line in text.split("\n") if line.lstrip().startswith("::")]
    assert all(ANNOTATION.match(line) for line in commands), commands
    assert len(commands) == annotations, commands


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def diagnostics_of(json_output: str) -> list[dict[str, Any]]:
    document = json.loads(json_output)
    return [d for f in document["files"] for d in f["diagnostics"]]


def check_every_format(*paths: str) -> int:
    """Run every format on ``paths``; each output must be inert.  Returns the diagnostic count."""
    count = len(diagnostics_of(validate("-f", "json", *paths).stdout))
    assert count > 0
    for name in FORMATS:
        result = validate("-f", name, *paths)
        assert result.exit_code in (0, 1), (name, result.output)
        assert_inert(result.stdout, annotations=count if name == "github" else 0)
        assert_inert(result.stderr)
        if name == "text":
            fixes = sum(1 for line in result.stdout.splitlines()
                        if line.startswith(("    fix: ", "    note: ")))
            assert len(result.stdout.splitlines()) == count + fixes + 1  # one line each
        elif name == "junit":
            ET.fromstring(result.stdout)  # XML 1.0 can hold it
        elif name in ("json", "sarif"):
            assert_values_inert(result.stdout)
    return count


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings(item)]


def assert_values_inert(document: str) -> None:
    """Each string of a JSON document is inert on a line of its own, as ``jq -r`` prints it."""
    for text in strings(json.loads(document)):
        assert_inert(text)


# -- item 10: attribute values --------------------------------------------------------------

def hostile_config(chars: list[str]) -> str:
    """A web.config whose E206, E207, E208, E210, E302 and W103 messages echo the payloads."""
    locations = []
    for index, char in enumerate(chars):
        value = as_xml(payload(char))
        locations.append(
            f'<location path="p{index}"><system.webServer>'
            f'<cors enabled="{value}" failUnlistedOrigins="{value}">'
            f'<add origin="https://o.example" maxAge="{value}" allowCredentials="{value}" />'
            f'<add origin="https://d.example/{value}" /><add origin="https://d.example/{value}" />'
            f'<remove origin="{value}" /></cors>'
            f'<httpProtocol><customHeaders><add name="X-A" value="{value}" /></customHeaders>'
            f"</httpProtocol></system.webServer></location>")
    return f"<configuration>{''.join(locations)}</configuration>"


def lint_config(chars: list[str]) -> str:
    """A web.config IIS accepts whose lint warnings (W204, W205, W223) echo the payloads."""
    rules = "".join(f'<add origin="HTTP://B{as_xml(payload(c, BIDI))}" />' for c in chars
                    if c not in "\t\n\r" and not 0x7F <= ord(c) <= 0x9F)  # those are E208
    return (f'<configuration><system.webServer><cors enabled="true">{rules}</cors>'
            "</system.webServer></configuration>")


def test_attribute_values_cannot_inject_lines_or_escapes(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(hostile_config(XML_CONTROLS), encoding="utf-8")
    count = check_every_format(str(config))
    # Not vacuous: every payload reached the messages, escaped.
    text = validate(str(config)).stdout
    assert text.count("injected") >= 4 * len(XML_CONTROLS), count
    assert "\\x0a::error title=pwned::injected\\x0a" in text
    assert "\\u202e" in text and "OSC\\x9d0;title\\x9c" in text


def test_lint_messages_cannot_inject(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(lint_config(XML_CONTROLS), encoding="utf-8")
    check_every_format(str(config))
    assert "warning W223" in validate(str(config)).stdout


def test_plain_ascii_ci_commands_are_broken(tmp_path: Path) -> None:
    # No control character needed: "##[error]" anywhere in a line is a GitHub command.
    config = tmp_path / "web.config"
    config.write_text('<configuration><system.webServer><cors enabled="##[error]x ##VSO[y] '
                      '##teamcity[z]" /></system.webServer></configuration>', encoding="utf-8")
    check_every_format(str(config))


def test_raw_control_bytes_in_a_file(tmp_path: Path) -> None:
    # XML 1.0 refuses raw C0 characters (E102): the parser's message must not carry them either.
    for code in [*range(0x20), 0x7F]:
        data = f'<configuration><cors a="{payload(chr(code))}" /></configuration>'
        (tmp_path / f"raw{code:02x}.config").write_bytes(data.encode("utf-8", "surrogatepass"))
    check_every_format(str(tmp_path))


def github_unescape(data: str) -> str:
    """What GitHub's runner makes of an annotation's data (ActionCommand.UnescapeData)."""
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def test_github_keeps_percent_sequences_literal(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text('<configuration><system.webServer><cors enabled="a%0A::error::b %25 %0D" />'
                      "</system.webServer></configuration>", encoding="utf-8")
    (line, _summary) = validate("-f", "github", str(config)).stdout.splitlines()
    message = github_unescape(line.split("::", 2)[2])
    assert message.startswith("Invalid boolean value 'a%0A::error::b %25 %0D'")


# -- item 10: file names ---------------------------------------------------------------------

BAD = b'<configuration><system.webServer><cors enabled="no!" /></system.webServer></configuration>'


def hostile_names() -> list[bytes]:
    """File names holding each control character, CI commands, separators and non-UTF-8 bytes."""
    names = [os.fsencode(f"n{ord(c):04x}{c}::error::x{c}.config") for c in CONTROLS if c != "\x00"]
    names += [b"::error title=pwned::x.config", b"  ::warning::x.config",
              "\u00a0::notice::x.config".encode(), "\u2003::add-mask::x.config".encode(),
              b"##[error]x.config", b"##vso[task.complete]x.config", b"caf\xe9.config",
              b"\x9b31m\xff\xfe.config", b"%0A::error::%25.config",
              ("\x1b" * 240 + ".config").encode()]
    return names


@pytest.fixture(scope="module")
def named_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("names")
    for name in hostile_names():
        with open(os.path.join(os.fsencode(root), name), "wb") as handle:
            handle.write(BAD)
    return root


def run_cli(*args: str | bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """A real ``python -m iiscors`` process, its standard streams strict UTF-8 (as under a
    UTF-8 locale such as en_US.UTF-8: a lone surrogate there cannot be written at all)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "iiscors", *args], capture_output=True,
                          cwd=cwd, env=env, timeout=120, check=False)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("how", ["named", "searched"])
def test_file_names_cannot_inject(named_tree: Path, name: str, how: str) -> None:
    # Relative names, as pre-commit ("named") and CI ("." searched) pass them: a name then
    # starts a line of the text and JUnit formats.
    count = len(hostile_names())
    paths = hostile_names() if how == "named" else [b"."]
    result = run_cli("validate", "-f", name, *paths, cwd=named_tree)
    assert result.returncode == 1, result.stderr
    assert result.stderr == b""
    out = result.stdout.decode("utf-8")  # strict: valid UTF-8
    assert_inert(out, annotations=count if name == "github" else 0)
    # The whole report, one entry per file: not a crash that happens to exit 1.
    if name == "json":
        assert_values_inert(out)
        files = [f["file"] for f in json.loads(out)["files"]]
        assert f"{'./' if how == 'searched' else ''}caf\\xe9.config" in files  # \xNN: a byte
        assert len(files) == count
    elif name == "sarif":
        assert_values_inert(out)
        assert len(json.loads(out)["runs"][0]["results"]) == count
    elif name == "junit":
        assert len(ET.fromstring(out).findall("testsuite/testcase")) == count
    else:
        assert out.count("E206") == count
        assert out.splitlines()[-1] == f"Checked {count} files: {count} errors, 0 warnings " \
                                       f"in {count} files."


@pytest.mark.parametrize("name", FORMATS)
def test_undecodable_file_name_to_output_file(tmp_path: Path, name: str) -> None:
    # Item 11: -o FILE crashed text, json and junit, leaving a truncated file.
    (tmp_path / "site").mkdir()
    with open(os.path.join(os.fsencode(tmp_path / "site"), b"caf\xe9.config"), "wb") as handle:
        handle.write(BAD)
    result = run_cli("validate", "-f", name, "-o", "report.out", "site", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout == b"" and result.stderr == b""
    written = (tmp_path / "report.out").read_bytes().decode("utf-8")
    assert_inert(written, annotations=1 if name == "github" else 0)
    shown = {"json": "caf\\\\xe9.config", "sarif": "caf%E9.config"}.get(name, "caf\\xe9.config")
    assert shown in written
    assert sorted(os.listdir(tmp_path)) == ["report.out", "site"]  # no temporary file left


def test_sarif_uri_of_an_undecodable_name_is_its_bytes_percent_encoded(tmp_path: Path) -> None:
    # Item 11: --format sarif exited 1 with empty output, which `|| test $? -eq 1` accepts.
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9\n.config"), "wb") as handle:
        handle.write(BAD)
    result = run_cli("validate", "-f", "sarif", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    (found,) = json.loads(result.stdout)["runs"][0]["results"]
    uri = found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "caf%E9%0A.config"


def test_huge_hostile_argument(tmp_path: Path) -> None:
    # Longer than any file name may be: the loader's E100 echoes it, escaped, and exits 2.
    argument = ("\x1b]0;x\x07\n::error::y" * 8000) + ".config"
    for name in FORMATS:
        result = validate("-f", name, argument)
        assert result.exit_code == 2, result.output
        assert_inert(result.stdout, annotations=1 if name == "github" else 0)
        assert_inert(result.stderr)


def test_junit_vertical_tab_and_form_feed_in_a_file_name(tmp_path: Path) -> None:
    # Issue 11: XML 1.0 cannot hold \x0b or \x0c even escaped; they are shown as \x0b, \x0c.
    path = tmp_path / "a\x0bb\x0cc.config"
    path.write_bytes(BAD)
    result = validate("-f", "junit", str(path))
    case = ET.fromstring(result.stdout)[0][0]
    assert case.attrib["name"] == str(tmp_path / "a\\x0bb\\x0cc.config")
    assert case.attrib["file"] == case.attrib["name"]
    failure = case.find("failure")
    assert failure is not None and "a\\x0bb\\x0cc.config:1:" in (failure.text or "")


# -- item 10: explain ------------------------------------------------------------------------

@pytest.fixture
def explain_config(tmp_path: Path) -> Path:
    # Rules whose origins carry payloads: the chosen rule is echoed on the "rule:" line.
    rules = "".join(f'<add origin="https://r{i}.example/{as_xml(payload(c, BIDI))}" />'
                    for i, c in enumerate(XML_CONTROLS) if c in "\u2028\u202e\u2066")
    config = tmp_path / "web.config"
    config.write_text(f'<configuration><system.webServer><cors enabled="true">{rules}'
                      '<add origin="*" /></cors></system.webServer></configuration>',
                      encoding="utf-8")
    return config


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("format_name", ["text", "json"])
def test_explain_echoes_request_values_escaped(explain_config: Path, char: str,
                                               format_name: str) -> None:
    value = payload(char)
    result = CliRunner().invoke(main, [
        "explain", str(explain_config), "--origin", f"https://a.example{value}",
        "--path", f"/{value}", "--request-method", f"PUT{value}",
        "--request-headers", f"x-a{value}", "--host", f"h{value}", "--exempt-same-origin",
        "--format", format_name, "--expect-iis", "denied"])
    assert result.exit_code in (0, 1), result.output
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    if format_name == "json":
        assert "injected" in json.loads(result.stdout)["request"]["origin"]


def test_explain_echoes_rule_origins_and_header_values_from_the_file_escaped(
        tmp_path: Path) -> None:
    # Header values are ISO-8859-1 without controls (E208, E210), but "##[" is plain ASCII.
    config = tmp_path / "web.config"
    config.write_text(f'<configuration><system.webServer><cors enabled="true">'
                      f'<add origin="https://a.example/{as_xml(payload(chr(0x2028), BIDI))}" />'
                      '<add origin="*" /></cors><httpProtocol><customHeaders>'
                      '<add name="X-Note" value="##[add-mask]x ::error::y" /></customHeaders>'
                      "</httpProtocol></system.webServer></configuration>", encoding="utf-8")
    for format_name in ("text", "json"):
        result = CliRunner().invoke(main, ["explain", str(config), "--origin", "https://b.example",
                                           "--format", format_name])
        assert result.exit_code == 0, result.output
        assert_inert(result.stdout)
        assert_inert(result.stderr)
        assert "X-Note" in result.stdout
    assert "W205" in result.stdout  # the rule's warning reached the JSON, escaped
    assert_values_inert(result.stdout)


def test_explain_unloadable_config_name_and_errors_escaped(tmp_path: Path) -> None:
    config = tmp_path / "bad\n::error::x\x1b[31m.config"
    value = as_xml(payload("\n"))
    config.write_text(f'<configuration><system.webServer><cors enabled="{value}"'
                      " /></system.webServer></configuration>", encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", str(config), "--origin", "https://a.example"])
    assert result.exit_code == 2
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert "E206" in result.stderr and "cannot be loaded" in result.stderr


# -- error messages ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["validate", "--format", "x\n::error::y\x1b]0;t\x07"],
    ["validate", "--ignore", "W2\n::error::y\u202e"],
    ["validate", "--\n::error::y\x1b]0;t\x07", "x"],
    ["validate", "-o", "/nonexistent\n::error::y/\x1b]0;t\x07/r.txt", "x"],
    ["explain", "--origin", "x", "missing\n::error::y\x1b]0;t\x07"],
    ["explain", "web.config", "--origin", "x", "--expect", "\n::error::y"],
    ["\n::error::y\x1b]0;t\x07"],
    # click quotes with repr(), which leaves "##[" alone: a GitHub command anywhere in a line.
    ["validate", "--format", "##[add-mask]x"],
    ["validate", "--x##[error]y", "x"],
    ["validate", "--ignore", "##vso[task.complete]"],
    ["explain", "--origin", "x", "--scheme", "##[error]y", "web.config"],
    # serve and playground are escaped by the group, which sees their usage errors too.
    ["serve", "--no-such-option-##[error]y"],
])
def test_usage_errors_are_escaped(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert_inert(result.stdout)
    assert_inert(result.stderr)


# -- item 11: crashes exit 2, never 1, and never leave a truncated report -------------------

def explode(self: report_module.Reporter, report: report_module.Report) -> None:
    self.stream.write("half a report\n")
    raise RuntimeError("boom\n::error::injected")


def test_internal_error_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(BAD)
    monkeypatch.setattr(report_module.TextReporter, "write", explode)
    result = validate(str(config))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stdout == ""  # nothing half-written
    (line,) = result.stderr.splitlines()
    assert "internal error" in line and "RuntimeError" in line
    assert_inert(result.stderr)


def test_explain_internal_error_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    # explain's exit 1 means "not the --expect outcome": a crash must not look like it.
    config = tmp_path / "web.config"
    config.write_text('<configuration><system.webServer><cors enabled="true">'
                      '<add origin="*" /></cors></system.webServer></configuration>',
                      encoding="utf-8")

    def crash(*args: object) -> list[str]:
        raise TypeError("boom\n::error::injected")

    monkeypatch.setattr(importlib.import_module("iiscors.cli.explain"), "render_text", crash)
    result = CliRunner().invoke(main, ["explain", str(config), "--origin", "https://a.example",
                                       "--expect", "allowed"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert "internal error" in line and "TypeError" in line
    assert_inert(result.stderr)


def test_output_file_is_replaced_atomically(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(BAD)
    out = tmp_path / "report.txt"
    out.write_text("previous report\n", encoding="utf-8")
    monkeypatch.setattr(report_module.TextReporter, "write", explode)
    result = validate("-o", str(out), str(config))
    assert result.exit_code == 2
    assert out.read_text(encoding="utf-8") == "previous report\n"  # untouched, not truncated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "web.config"]
    monkeypatch.undo()
    result = validate("-o", str(out), str(config))
    assert result.exit_code == 1
    assert "error E206" in out.read_text(encoding="utf-8")


def test_output_file_failing_at_the_rename_keeps_the_old_one(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(BAD)
    out = tmp_path / "report.txt"
    out.write_text("previous report\n", encoding="utf-8")

    def refuse(source: str, destination: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    result = validate("-o", str(out), str(config))
    assert result.exit_code == 2
    assert "Permission denied" in result.stderr and "Traceback" not in result.output
    assert out.read_text(encoding="utf-8") == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "web.config"]


def test_output_file_through_a_symlink_replaces_the_link(tmp_path: Path) -> None:
    # A checked-out repository may hold report.sarif -> ~/.bashrc: the link is replaced, its
    # target is never written.
    config = tmp_path / "web.config"
    config.write_bytes(BAD)
    target = tmp_path / "precious"
    target.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "report.sarif"
    link.symlink_to(target)
    result = validate("-f", "sarif", "-o", str(link), str(config))
    assert result.exit_code == 1, result.output
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert not link.is_symlink()
    assert json.loads(link.read_text(encoding="utf-8"))["version"] == "2.1.0"


def test_output_file_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(BAD)
    out = tmp_path / "report.json"
    out.write_text("{}", encoding="utf-8")
    out.chmod(0o640)
    assert validate("-f", "json", "-o", str(out), str(config)).exit_code == 1
    assert out.stat().st_mode & 0o777 == 0o640


def test_output_to_a_missing_directory_exits_2_before_checking(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def never(*args: object) -> None:
        raise AssertionError("a file was checked")

    monkeypatch.setattr(main_module, "_check", never)
    result = validate("-o", str(tmp_path / "nowhere" / "r.txt"), str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "cannot write the report to" in result.stderr and "nowhere" in result.stderr


def test_interrupted_exits_130_not_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(main_module, "_check", interrupt)
    result = validate(str(tmp_path))
    assert result.exit_code == 130
    assert result.stderr == "iiscors: interrupted\n"
