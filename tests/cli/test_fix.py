"""``iiscors fix``: what it repairs, byte for byte, and what it prints and exits with.

Every repair is checked on the bytes: the file after ``--write`` equals the file before with
exactly the announced span changed, so comments, quoting, attribute order, indentation, tabs,
CRLF line endings, the byte order mark and the encoding survive.  Refusals are in
``test_fix_refusals.py``; the corpus round trip in ``test_fix_corpus.py``.
"""

from __future__ import annotations

import codecs
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iiscors.cli import docgen
from iiscors.cli.fixes.catalogue import FIXES
from iiscors.cli.fixes.model import Effect
from iiscors.cli.main import main
from iiscors.config.diagnostics import CATALOGUE
from iiscors.config.load import check_config


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["fix", *args])


def cors(body: str, *, enabled: str = 'enabled="true"') -> str:
    return (f"<configuration>\n  <system.webServer>\n    <cors {enabled}>\n{body}"
            "    </cors>\n  </system.webServer>\n</configuration>\n")


def codes(path: Path) -> list[str]:
    return [d.code for d in check_config(path)]


def write_and_check(path: Path, data: bytes) -> Result:
    path.write_bytes(data)
    result = run("--write", str(path))
    assert result.exit_code == 0, result.output + result.stderr
    return result


# -- formatting kept, byte for byte -------------------------------------------------------------

RICH = ("<?xml version='1.0' encoding='utf-8'?>\r\n"
        "<!-- keep me: <add origin='https://Not.A.Rule'/> -->\r\n"
        "<configuration>\r\n"
        "\t<system.webServer>\r\n"
        "\t\t<cors failUnlistedOrigins='false'   enabled=\"true\">\r\n"
        "\t\t\t<add maxAge='60' origin='https://App.Example:443' allowed=\"true\"/>\r\n"
        "\t\t\t<add origin=\"https://other.example\" /><!-- trailing -->\r\n"
        "\t\t</cors>\r\n"
        "\t</system.webServer>\r\n"
        "</configuration>")  # no final line ending


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8], ids=["utf-8", "utf-8-bom"])
def test_a_repair_changes_only_its_span(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "web.config"
    before = bom + RICH.encode("utf-8")
    write_and_check(path, before)
    assert path.read_bytes() == before.replace(b"'https://App.Example:443'",
                                               b"'https://app.example'")
    assert "W204" not in codes(path) and "W210" not in codes(path)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_written_back_in_utf16(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "web.config"
    text = "\ufeff" + RICH.replace("encoding='utf-8'", "encoding='utf-16'")
    write_and_check(path, text.encode(codec))
    expected = text.replace("https://App.Example:443", "https://app.example")
    assert path.read_bytes() == expected.encode(codec)


def test_a_declared_single_byte_encoding_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    text = ('<?xml version="1.0" encoding="iso-8859-1"?>\n<!-- café -->\n'
            + cors('      <add origin="https://Caf.example" />\n'))
    write_and_check(path, text.encode("latin-1"))
    assert path.read_bytes() == text.replace("Caf.", "caf.").encode("latin-1")


# -- what each code's repair does -----------------------------------------------------------------

@pytest.mark.parametrize(("written", "repaired"), [
    ("https://App.Example.COM", "https://app.example.com"),          # W204
    ("HTTPS://app.example", "https://app.example"),                  # W204, the scheme
    ("https://app.example/", "https://app.example"),                 # W205, lone slash
    ("https://app.example:443", "https://app.example"),              # W210
    ("http://app.example:0080", "http://app.example"),               # W210, leading zeros
    ("wss://[::1]:443", "wss://[::1]"),                              # W210, IPv6
    ("https://*.Example.com", "https://*.example.com"),              # W204 on a wildcard
    ("HTTPS://App.example:443/", "https://app.example"),             # W204+W205+W210
    ("https://App.example/Path", "https://app.example/Path"),        # W204 only: path kept
], ids=lambda value: value)
def test_origin_repairs(tmp_path: Path, written: str, repaired: str) -> None:
    path = tmp_path / "web.config"
    before = cors(f'      <add origin="{written}" />\n')
    write_and_check(path, before.encode())
    assert path.read_text() == before.replace(written, repaired)
    left = set(codes(path))
    assert not left & {"W204", "W210"}
    assert ("W205" in left) == repaired.endswith("/Path")


@pytest.mark.parametrize(("written", "reason"), [
    ("https://app.example/api", "path, query or fragment"),
    ("https://app.example?x", "path, query or fragment"),
    ("https://app.example&#47;", "character references"),
], ids=["path", "query", "entity"])
def test_origins_left_alone(tmp_path: Path, written: str, reason: str) -> None:
    path = tmp_path / "web.config"
    before = cors(f'      <add origin="{written}" />\n').encode()
    path.write_bytes(before)
    result = run(str(path))
    assert result.exit_code == 0, result.stderr
    assert "not fixed W205" in result.stderr and reason in result.stderr
    assert result.stdout == "" and path.read_bytes() == before


def test_an_origin_repair_never_creates_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://app.example" allowCredentials="true" />\n'
                  '      <add origin="https://app.example/" />\n').encode()
    path.write_bytes(before)
    result = run("--write", str(path))
    assert result.exit_code == 0
    assert "would repeat the origin on line 4" in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(("written", "code"), [
    ("HTTPS://*", "W202"),             # would give credentials to every https site
    ("http://App.example", "W203"),    # would give credentials over plain HTTP
])
def test_a_rule_with_credential_warnings_is_not_brought_to_life(
        tmp_path: Path, written: str, code: str) -> None:
    path = tmp_path / "web.config"
    before = cors(f'      <add origin="{written}" allowCredentials="true" />\n').encode()
    path.write_bytes(before)
    result = run("--write", str(path))
    assert result.exit_code == 0
    assert f"with credentials it is warned about ({code})" in result.stderr
    assert path.read_bytes() == before


def test_an_origin_repair_never_creates_a_new_warning(tmp_path: Path) -> None:
    # "http://App.example/" with credentials: W203 is not reported (the pattern is no origin),
    # and the repaired one would earn it: refused.
    path = tmp_path / "web.config"
    before = cors('      <add origin="http://App.example/" allowCredentials="true" />\n')
    path.write_bytes(before.encode())
    result = run("--write", str(path))
    assert result.exit_code == 0
    assert "would be reported for W203" in result.stderr
    assert path.read_bytes() == before.encode()


def test_credentials_on_a_lone_star_rule_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors("      <add origin='*'\n           allowCredentials='True'\n"
                  "           maxAge='60' />\n")
    result = write_and_check(path, before.encode())
    assert path.read_text() == before.replace("\n           allowCredentials='True'", "")
    assert "Access-Control-Allow-Credentials: true" in result.stderr
    assert "W201" not in codes(path)


def test_credentials_on_a_star_rule_beside_others_are_kept(tmp_path: Path) -> None:
    # Contract B10: beside another rule, * echoes the Origin: credentials do work, for all.
    path = tmp_path / "web.config"
    before = cors('      <add origin="*" allowCredentials="true" />\n'
                  '      <add origin="https://app.example" />\n').encode()
    path.write_bytes(before)
    result = run("--write", str(path))
    assert result.exit_code == 0
    assert "not fixed W201" in result.stderr and path.read_bytes() == before


def test_credentials_kept_when_a_location_adds_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = (cors('      <add origin="*" allowCredentials="true" />\n').replace(
        "</configuration>", '  <location path="api"><system.webServer><cors>'
        '<add origin="https://app.example" /></cors></system.webServer></location>\n'
        "</configuration>")).encode()
    path.write_bytes(before)
    assert run("--write", str(path)).exit_code == 0
    assert path.read_bytes() == before


def test_options_is_dropped_from_allow_methods(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://a.example">\n        <allowMethods>\n'
                  '          <add method="GET" />\n          <add method="OPTIONS" />\n'
                  "        </allowMethods>\n      </add>\n")
    write_and_check(path, before.encode())
    assert path.read_text() == before.replace('          <add method="OPTIONS" />\n', "")


def test_an_emptied_list_goes_too(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://a.example">\n        <allowMethods>\n'
                  '          <add method="options" />\n          <remove method="PUT" />\n'
                  "        </allowMethods>\n      </add>\n")
    result = write_and_check(path, before.encode())
    assert path.read_text() == cors('      <add origin="https://a.example">\n      </add>\n')
    assert "W103" in result.stderr and "W213" in result.stderr


def test_a_list_with_a_comment_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://a.example">\n        <allowMethods>\n'
                  "          <!-- preflights -->\n          <add method=\"OPTIONS\" />\n"
                  "        </allowMethods>\n      </add>\n")
    write_and_check(path, before.encode())
    assert path.read_text() == before.replace('          <add method="OPTIONS" />\n', "")


def test_a_remove_of_an_origin_is_left_alone(tmp_path: Path) -> None:
    # It may remove an origin inherited from a parent web.config or applicationHost.config.
    path = tmp_path / "web.config"
    before = cors('      <remove origin="https://parent.example" />\n'
                  '      <add origin="https://a.example" />\n').encode()
    path.write_bytes(before)
    result = run(str(path))
    assert result.exit_code == 0
    assert "not fixed W103" in result.stderr and "applicationHost.config" in result.stderr


def test_identical_duplicates_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    rule = ('      <add origin="https://a.example" maxAge="5">\n'
            '        <allowMethods><add method="PUT" /></allowMethods>\n      </add>\n')
    again = rule.replace('maxAge="5">', 'maxAge="5"><!-- again -->')
    before = cors(rule + again + '      <add origin="https://App.example:443" />\n')
    result = write_and_check(path, before.encode())
    # The duplicate (an error) goes first, then the warnings of what is left.
    assert path.read_text() == cors(rule + '      <add origin="https://app.example" />\n')
    assert codes(path) == []
    assert "fixed E302" in result.stderr and "can now be loaded" in result.stderr
    # the W204 is reported at its line in the file as it was, not as repaired
    assert f"web.config:{4 + 6}:12: fixed W204+W210" in result.stderr


@pytest.mark.parametrize("second", [
    '<add origin="https://A.example" />',                      # key case differs
    '<add origin="https://a.example" allowCredentials="true" />',
], ids=["key-case", "attributes"])
def test_duplicates_that_differ_are_refused(tmp_path: Path, second: str) -> None:
    path = tmp_path / "web.config"
    before = cors(f'      <add origin="https://a.example" />\n      {second}\n').encode()
    path.write_bytes(before)
    result = run("--write", str(path))
    assert result.exit_code == 2
    assert "refused" in result.stderr and "E302" in result.stderr
    assert path.read_bytes() == before


def test_duplicates_across_levels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://a.example" />\n').replace(
        "</configuration>", '  <location path="api"><system.webServer><cors>'
        '<add origin="https://a.example" /></cors></system.webServer></location>\n'
        "</configuration>").encode()
    path.write_bytes(before)
    result = run("--write", str(path))
    assert result.exit_code == 2 and path.read_bytes() == before


# -- output and exit codes --------------------------------------------------------------------

def test_a_dry_run_prints_the_diff_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    before = cors('      <add origin="https://App.example" />\n').encode()
    path.write_bytes(before)
    result = run(str(path))
    assert result.exit_code == 1
    name = str(path)
    assert result.stdout == (
        f"--- a/{name}\n+++ b/{name}\n@@ -1,7 +1,7 @@\n <configuration>\n"
        "   <system.webServer>\n     <cors enabled=\"true\">\n"
        '-      <add origin="https://App.example" />\n'
        '+      <add origin="https://app.example" />\n'
        "     </cors>\n   </system.webServer>\n </configuration>\n")
    assert (f'{name}:4:12: would fix W204: origin "https://App.example" -> '
            '"https://app.example"; behaviour: the rule now matches Origin https://app.example'
            ) in result.stderr
    assert "1 fix to make in 1 file (dry run" in result.stderr
    assert path.read_bytes() == before  # a dry run writes nothing


def test_the_diff_marks_a_missing_final_line_ending(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(cors('      <add origin="https://App.example" />\n').rstrip().encode())
    # five lines after the change, so the last one is in the hunk only with enough context
    text = cors('<add origin="https://App.example" />').rstrip()
    path.write_text(text)
    result = run(str(path))
    assert result.stdout.endswith(" </configuration>\n\\ No newline at end of file\n")


def test_write_then_nothing_left_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text(cors('      <add origin="https://App.example" />\n'))
    first = run("--write", str(path))
    assert first.exit_code == 0 and first.stdout == ""
    assert "fixed W204" in first.stderr and "made 1 fix in 1 file" in first.stderr
    again = run(str(path))
    assert again.exit_code == 0 and again.stdout == ""
    assert "nothing to fix" in again.stderr


def test_a_directory_is_searched_like_validate(tmp_path: Path) -> None:
    (tmp_path / "site" / "api").mkdir(parents=True)
    (tmp_path / "site" / "web.config").write_text(
        cors('      <add origin="https://A.example" />\n'))
    (tmp_path / "site" / "api" / "Web.config").write_text(cors("      <add origin='*' />\n"))
    (tmp_path / "site" / "packages.config").write_text("<packages />")
    result = run(str(tmp_path / "site"))
    assert result.exit_code == 1
    assert "Checked 2 files: 1 fix to make in 1 file" in result.stderr


def test_a_clean_file_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text(cors('      <add origin="https://app.example" />\n'))
    result = run(str(path))
    assert result.exit_code == 0 and result.stdout == ""


def test_the_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text(cors('      <add origin="https://App.example" />\n'))
    path.chmod(0o640)
    assert run("--write", str(path)).exit_code == 0
    assert path.stat().st_mode & 0o7777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web.config"]  # no temporary left


# -- the documentation's example, the patch, the speed -------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_documented_example_is_what_fix_prints(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    section = DOCS.read_text(encoding="utf-8").split("## `iiscors fix`", 1)[1]
    config = section.split("```xml\n", 1)[1].split("```", 1)[0]
    console = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, printed = console.split("\n", 1)
    assert command == "$ iiscors fix sites/"
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "web.config").write_text(config)
    monkeypatch.chdir(tmp_path)
    result = run("sites/")
    assert result.exit_code == 1
    assert result.stdout + result.stderr == printed


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_dry_run_is_a_patch_git_applies(tmp_path: Path, newline: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    text = cors('      <add origin="https://App.example/" />\n'
                '      <add origin="https://b.example">\n        <allowMethods>\n'
                '          <add method="OPTIONS" />\n'
                "        </allowMethods>\n      </add>\n").replace("\n", newline)
    for name in ("patched.config", "written.config"):
        (tmp_path / name).write_bytes(text.encode())
    monkeypatch.chdir(tmp_path)
    patch = run("patched.config").stdout_bytes  # (.stdout would turn CRLF into LF)
    assert (b"\r\n" in patch) == (newline == "\r\n")
    applied = subprocess.run(["git", "apply", "-"], input=patch, cwd=tmp_path,
                             capture_output=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert run("--write", "written.config").exit_code == 0
    assert (tmp_path / "patched.config").read_bytes() == (tmp_path / "written.config").read_bytes()
    assert (tmp_path / "patched.config").read_bytes() != text.encode()


def test_fix_on_the_corpus_takes_under_a_second() -> None:
    # docs/performance.md: the whole corpus (../shared/corpus/webconfigs and sample_configs),
    # in process; measured around 0.07 s, so the bound leaves room for a loaded machine.
    root = Path(__file__).resolve().parents[2]
    corpus = root.parent / "shared" / "corpus" / "webconfigs"
    run(str(root / "sample_configs"))  # imports done once, as a command run would have them
    started = time.perf_counter()
    result = run(str(corpus), str(root / "sample_configs"))
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 2 and "fixes to make" in result.stderr  # broken files refused


def test_the_catalogue_flags_exactly_the_codes_fix_repairs() -> None:
    flagged = {code for code, info in CATALOGUE.items() if info.fixable}
    assert flagged == set(FIXES)
    page = docgen.render()
    for code, info in CATALOGUE.items():
        entry = page.split(f"\n### {code}\n", 1)[1].split("\n### ", 1)[0]
        assert ("Fixable: yes, `iiscors fix` " in entry) == info.fixable, code
        assert ("Fixable: no." in entry) != info.fixable, code


def test_fix_is_a_command_of_the_group() -> None:
    assert "fix" in CliRunner().invoke(main, ["--help"]).stdout
    assert "--write" in run("--help").stdout


@pytest.mark.parametrize(("effect", "said"), [
    (Effect(), "no change in behaviour"),
    (Effect(matches="https://a.example"), "now matches Origin https://a.example as browsers"),
    (Effect(unmatched="https://A.example"), "no longer matches https://A.example, which no"),
    (Effect(dropped=("Access-Control-Allow-Methods", "OPTIONS")),
     "answers no longer list OPTIONS in Access-Control-Allow-Methods"),
    (Effect(dropped=("Access-Control-Allow-Credentials", "true")),
     "answers no longer send Access-Control-Allow-Credentials: true"),
    (Effect(loadable=True), "can now be loaded"),
])
def test_every_effect_is_announced_in_words(effect: Effect, said: str) -> None:
    assert said in effect.describe()
