"""What ``iiscors validate`` reads from a tree it is given (issue 12, item 12, and issue 13's
FIFO class on the command line).

- A search (a directory or a glob) never follows a symbolic link that leads outside the
  directory searched: such a ``*.config`` link is reported as W104 and never opened, so nothing
  outside the tree reaches the output.  Links inside the tree are followed.  A path named on the
  command line is read as given: naming it is the user's choice.
- FIFOs, sockets and devices never block: in a tree they are skipped; named on the command line,
  or swapped in after the search looked, they are E100 (exit 2).  Every test runs under a
  timeout, so a blocking open fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iiscors.cli import discover
from iiscors.cli.main import main

pytestmark = [pytest.mark.timeout(30),
              pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file types")]

SECRET = "SECRET-FROM-OUTSIDE"
OUTSIDE = (f'<configuration><system.webServer><cors enabled="{SECRET}" />'
           "</system.webServer></configuration>")
GOOD = ('<configuration><system.webServer><cors enabled="true"><add origin="https://a.example" />'
        "</cors></system.webServer></configuration>")


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def codes(result: Result) -> list[tuple[str, str]]:
    document = json.loads(result.stdout)
    return [(Path(d["file"]).name, d["code"]) for f in document["files"]
            for d in f["diagnostics"]]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``site/`` holds a good web.config; ``secret/`` (outside it) a file with a secret value."""
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "web.config").write_text(OUTSIDE, encoding="utf-8")
    (tmp_path / "secret" / "app.config").write_text(OUTSIDE, encoding="utf-8")
    site = tmp_path / "site"
    (site / "api").mkdir(parents=True)
    (site / "web.config").write_text(GOOD, encoding="utf-8")
    return site


# -- symbolic links ------------------------------------------------------------------------

def test_a_link_out_of_the_tree_is_reported_not_followed(tree: Path) -> None:
    (tree / "api" / "web.config").symlink_to(tree.parent / "secret" / "web.config")
    (tree / "api" / "other.config").symlink_to("../../secret/app.config")
    for name in ("text", "json", "github", "sarif", "junit"):
        result = validate("-f", name, str(tree))
        assert SECRET not in result.output, name
        assert result.exit_code == 0, result.output  # a warning
    assert sorted(codes(validate("-f", "json", str(tree)))) == [
        ("other.config", "W104"), ("web.config", "W104")]
    text = validate(str(tree)).stdout
    assert f"{tree / 'api' / 'web.config'}: warning W104 " in text
    assert validate("--strict", str(tree)).exit_code == 1
    assert validate("--ignore", "W104", str(tree)).stdout == "Checked 3 files: no problems.\n"


def test_a_link_through_a_linked_directory_is_not_entered(tree: Path) -> None:
    (tree / "linked").symlink_to(tree.parent / "secret", target_is_directory=True)
    result = validate(str(tree))
    assert SECRET not in result.output
    assert result.stdout == "Checked 1 file: no problems.\n"


def test_a_glob_does_not_follow_links_out_of_its_base(tree: Path) -> None:
    (tree / "api" / "web.config").symlink_to(tree.parent / "secret" / "web.config")
    (tree / "linked").symlink_to(tree.parent / "secret", target_is_directory=True)
    result = validate("-f", "json", str(tree / "**" / "*.config"))
    assert SECRET not in result.output
    assert ("web.config", "W104") in codes(result)
    assert result.exit_code == 0, result.output


def test_links_inside_the_tree_are_followed(tree: Path) -> None:
    (tree / "api" / "web.config").symlink_to("../web.config")
    (tree / "shared").symlink_to("api", target_is_directory=True)
    # --each-file: as a site, api/ would add the root's origin again (E302, contract E1)
    result = validate("--each-file", "-f", "json", str(tree))
    assert result.exit_code == 0, result.output
    files = [f["file"] for f in json.loads(result.stdout)["files"]]
    assert files == [str(tree / "web.config"), str(tree / "api" / "web.config")]
    # A glob passes through the inside link to a directory (as glob.glob does), and keeps what
    # it finds there: it is inside.
    globbed = validate("-f", "json", str(tree / "**" / "*.config"))
    assert str(tree / "shared" / "web.config") in [f["file"] for f in
                                                   json.loads(globbed.stdout)["files"]]


def test_a_path_named_on_the_command_line_is_read_as_given(tree: Path) -> None:
    # Naming a link (or a linked directory) is the user's own choice: it is followed.
    link = tree / "api" / "web.config"
    link.symlink_to(tree.parent / "secret" / "web.config")
    assert SECRET in validate(str(link)).stdout
    named = tree.parent / "named"
    named.symlink_to(tree.parent / "secret", target_is_directory=True)
    assert SECRET in validate(str(named)).stdout


def test_a_tree_reached_through_a_link_is_searched_as_itself(tree: Path) -> None:
    # The search root is where the directory really is: its own links are inside it.
    (tree / "api" / "web.config").symlink_to("../web.config")
    alias = tree.parent / "alias"
    alias.symlink_to(tree, target_is_directory=True)
    result = validate("--each-file", "-f", "json", str(alias))  # see the test above
    assert [code for _, code in codes(result)] == []
    assert json.loads(result.stdout)["summary"]["files"] == 2


# -- FIFOs, sockets, devices -----------------------------------------------------------------

def test_a_fifo_in_the_tree_is_skipped(tree: Path) -> None:
    os.mkfifo(tree / "api" / "web.config")
    os.mkfifo(tree / "api" / "x.config")
    (tree / "api" / "linked.config").symlink_to("x.config")
    result = validate(str(tree))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Checked 1 file: no problems.\n"


def test_a_fifo_named_on_the_command_line_is_an_io_error(tmp_path: Path) -> None:
    fifo = tmp_path / "web.config"
    os.mkfifo(fifo)
    link = tmp_path / "link.config"
    link.symlink_to(fifo)
    for args in ([str(fifo)], [str(link)], ["--skip-unrelated", str(fifo)]):
        result = validate("-f", "json", *args)
        assert result.exit_code == 2, result.output
        (diagnostic,) = json.loads(result.stdout)["files"][0]["diagnostics"]
        assert diagnostic["code"] == "E100"
        assert "not a regular file (a FIFO)" in diagnostic["message"]


def test_a_fifo_matched_by_a_glob_is_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.config")
    (tmp_path / "b.config").write_text(GOOD, encoding="utf-8")
    result = validate(str(tmp_path / "*.config"))
    assert result.stdout == "Checked 1 file: no problems.\n"


def test_a_fifo_swapped_in_after_the_search_looked(tree: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The race the search cannot close by looking first: the check said "regular file", then
    # the file became a FIFO.  The peek and the read open without blocking and check again.
    os.mkfifo(tree / "api" / "web.config")
    os.mkfifo(tree / "api" / "app.config")
    monkeypatch.setattr(os.path, "isfile", lambda path: True)
    result = validate("-f", "json", str(tree))
    assert result.exit_code == 2, result.output
    assert codes(result) == [("web.config", "E100")]
    assert not discover.has_configuration_root(str(tree / "api" / "app.config"))


def test_a_socket_and_a_device_never_block(tmp_path: Path) -> None:
    path = tmp_path / "s.config"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert validate(str(tmp_path)).exit_code == 2  # nothing to check: E100
        result = validate("-f", "json", str(path), os.devnull)
    assert result.exit_code == 2
    messages = [d["message"] for f in json.loads(result.stdout)["files"]
                for d in f["diagnostics"]]
    assert messages == ["Cannot read the file: not a regular file (a socket)",
                        "Cannot read the file: not a regular file (a character device)"]


def test_explain_never_blocks_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "web.config"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["explain", str(fifo), "--origin", "https://a.example"])
    assert result.exit_code == 2
    assert "not a regular file (a FIFO)" in result.stderr
