"""``iiscors fix`` refuses what it must not touch, says why, and touches nothing.

Read-only files, files that do not parse or have errors it cannot repair, files changed on disk
between read and write, symbolic links, hard links, FIFOs, files over the size limit, encodings
it could not write back identically, standard input; odd file names are printed safely.  The
hostile payloads of the hardening suite go through ``fix --write`` too: no crash, no hang, and
no write outside the named file.
"""

from __future__ import annotations

import codecs
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner, Result

from iiscors.cli import fix as fix_command
from iiscors.cli.fixes import planner, writer
from iiscors.cli.fixes.context import Analysis
from iiscors.cli.fixes.model import Change, Fix, Skipped
from iiscors.cli.fixes.planner import FilePlan
from iiscors.cli.main import main
from iiscors.config.edits import Edit

FIXABLE = (b'<configuration>\n  <system.webServer>\n    <cors enabled="true">\n'
           b'      <add origin="https://App.example" />\n    </cors>\n  </system.webServer>\n'
           b"</configuration>\n")
HOSTILE_TIME_LIMIT_S = 2.0


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["fix", *args])


def assert_refused(result: Result, path: Path, before: bytes, why: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "refused, file left unchanged" in result.stderr and why in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if path.exists() or path.is_symlink():
        assert path.read_bytes() == before


@pytest.fixture
def fixable(tmp_path: Path) -> Path:
    path = tmp_path / "web.config"
    path.write_bytes(FIXABLE)
    return path


def test_a_read_only_file_is_refused_on_write(fixable: Path) -> None:
    fixable.chmod(0o444)
    result = run("--write", str(fixable))
    assert_refused(result, fixable, FIXABLE, "it is read-only")
    # A dry run still shows what would change: it writes nothing.
    assert run(str(fixable)).exit_code == 1


def test_a_read_only_file_with_nothing_to_fix_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(FIXABLE.replace(b"App", b"app"))
    path.chmod(0o444)
    assert run("--write", str(path)).exit_code == 0


@pytest.mark.parametrize(("data", "why"), [
    (b"<configuration><system.webServer>", "E102"),
    (FIXABLE.replace(b"enabled=", b"enabeld="), "E201"),
    (codecs.BOM_UTF32_LE + "<configuration/>".encode("utf-32-le"), "E104"),
], ids=["malformed", "unknown-attribute", "utf-32"])
def test_a_file_with_errors_fix_cannot_repair_is_refused(tmp_path: Path, data: bytes,
                                                          why: str) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(data)
    for args in ((str(path),), ("--write", str(path))):
        result = run(*args)
        assert_refused(result, path, data, why)
        assert "errors fix cannot repair" in result.stderr and result.stdout == ""


def test_bytes_that_would_not_be_written_back_identically_are_refused(tmp_path: Path) -> None:
    # An undecodable byte in a comment: lxml accepts it in no encoding, the loader refuses it.
    path = tmp_path / "web.config"
    data = FIXABLE.replace(b"<configuration>", b"<configuration><!-- \xff -->")
    path.write_bytes(data)
    assert_refused(run("--write", str(path)), path, data, "")


def test_a_file_changed_between_read_and_write_is_refused(
        fixable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = fix_command.plan_file
    changed = FIXABLE.replace(b"</configuration>", b"<!-- edited meanwhile --></configuration>")

    def plan_then_edit(data: bytes, name: str, max_bytes: int) -> FilePlan:
        plan = planned(data, name, max_bytes)
        Path(name).write_bytes(changed)  # someone saves the file while fix works
        return plan

    monkeypatch.setattr(fix_command, "plan_file", plan_then_edit)
    result = run("--write", str(fixable))
    assert_refused(result, fixable, changed, "it changed on disk since it was read")
    assert sorted(p.name for p in fixable.parent.iterdir()) == ["web.config"]


def test_a_failed_replace_leaves_the_file_and_no_temporary(
        fixable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writer.os, "replace", refuse)
    result = run("--write", str(fixable))
    assert_refused(result, fixable, FIXABLE, "cannot write it: Permission denied")
    assert sorted(p.name for p in fixable.parent.iterdir()) == ["web.config"]


def test_a_symbolic_link_is_refused_and_stays_a_link(fixable: Path) -> None:
    link = fixable.parent / "link.config"
    link.symlink_to(fixable.name)
    for args in ((str(link),), ("--write", str(link))):
        assert_refused(run(*args), link, FIXABLE, "symbolic link")
    assert link.is_symlink() and fixable.read_bytes() == FIXABLE
    # its target, named, is fixed
    assert run("--write", str(fixable)).exit_code == 0
    assert link.is_symlink() and b"https://app.example" in link.read_bytes()


def test_a_hard_linked_file_is_refused_on_write(fixable: Path) -> None:
    os.link(fixable, fixable.parent / "other.config")
    assert_refused(run("--write", str(fixable)), fixable, FIXABLE, "2 hard links")


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "web.config"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run("--write", str(fifo))
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    assert time.monotonic() - started < HOSTILE_TIME_LIMIT_S


def test_a_file_over_the_limit_is_refused(fixable: Path) -> None:
    assert_refused(run("--write", "--max-bytes", "50", str(fixable)), fixable, FIXABLE,
                   "larger than the limit of 50 bytes")


def test_standard_input_and_missing_paths_are_refused(tmp_path: Path) -> None:
    assert "standard input cannot be fixed" in run("-").stderr
    assert run("-").exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(str(empty))
    assert result.exit_code == 2 and "no configuration file found" in result.stderr


def test_a_refusal_does_not_stop_the_other_files(tmp_path: Path, fixable: Path) -> None:
    broken = tmp_path / "broken.config"
    broken.write_bytes(b"<configuration>")
    result = run("--write", str(broken), str(fixable))
    assert result.exit_code == 2
    assert b"https://app.example" in fixable.read_bytes()
    assert "made 1 fix in 1 file; 1 file refused" in result.stderr


@pytest.mark.parametrize("name", ["we\nb.config", "a\x1b[31mred.config", 'q"uote\\.config',
                                  "sp ace 'é'.config"])
def test_odd_file_names_are_printed_safely(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(FIXABLE)
    result = run(str(path))
    assert result.exit_code == 1
    for line in (result.stdout + result.stderr).splitlines():
        assert "\x1b" not in line  # no escape sequence reaches the terminal
    assert len([line for line in result.stdout.splitlines() if line.startswith("---")]) == 1
    assert run("--write", str(path)).exit_code == 0
    assert b"https://app.example" in path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# -- the hardening suite's hostile payloads --------------------------------------------------

def _payloads() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "hardening" / "_payloads.py"
    spec = importlib.util.spec_from_file_location("fix_hostile_payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PAYLOADS = _payloads()


@pytest.mark.parametrize("name", sorted(PAYLOADS.PAYLOADS))
def test_hostile_payloads(tmp_path: Path, name: str) -> None:
    payload = PAYLOADS.PAYLOADS[name]
    site = tmp_path / "site"
    site.mkdir()
    # Traps that exist nowhere: fix never resolves anything, so nothing may be opened anyway.
    traps = PAYLOADS.Traps(fifo=str(tmp_path / "no-such-fifo"), port=9)
    path = site / "web.config"
    path.write_bytes(payload.build(traps))
    if "sparse_size" in payload.extra:
        os.truncate(path, int(payload.extra["sparse_size"]))
    before = path.read_bytes() if path.stat().st_size < 10**6 else None
    started = time.monotonic()
    result = run("--write", "--max-bytes", str(payload.max_bytes), str(path))
    assert time.monotonic() - started < HOSTILE_TIME_LIMIT_S, name
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), result.stderr
    if not payload.accepted:
        assert result.exit_code == 2 and "refused" in result.stderr
        if before is not None:
            assert path.read_bytes() == before
    assert sorted(p.name for p in site.iterdir()) == ["web.config"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


# -- the planner's own safety nets ----------------------------------------------------------------

def _bad_plan(edit: Edit) -> Callable[[Analysis, frozenset[str]], tuple[list[Change],
                                                                          list[Skipped]]]:
    def plan(analysis: Analysis, fixable: frozenset[str]) -> tuple[list[Change], list[Skipped]]:
        fix = Fix(("W204",), 0, "a repair gone wrong")
        return [Change((edit,), (fix,))], []
    return plan


@pytest.mark.parametrize(("edit", "why"), [
    (Edit(FIXABLE.index(b"</cors>"), FIXABLE.index(b"</cors>") + 7), "invalid"),
    (Edit(FIXABLE.index(b"https"), FIXABLE.index(b"https") + 5, "HTTPS"), "leave or add W204"),
], ids=["breaks-the-xml", "adds-a-warning"])
def test_a_repair_that_goes_wrong_is_never_written(
        fixable: Path, monkeypatch: pytest.MonkeyPatch, edit: Edit, why: str) -> None:
    monkeypatch.setattr(planner, "plan_warnings", _bad_plan(edit))
    assert_refused(run("--write", str(fixable)), fixable, FIXABLE, why)


def test_overlapping_repairs_wait_for_the_next_run(
        fixable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = FIXABLE.index(b"App")
    first = Change((Edit(start, start + 3, "app"),), (Fix(("W204",), start, "first"),))
    second = Change((Edit(start + 1, start + 2, "P"),), (Fix(("W204",), start + 1, "second"),))
    monkeypatch.setattr(planner, "plan_warnings", lambda analysis, fixable: ([second, first], []))
    result = run("--write", str(fixable))
    assert result.exit_code == 0
    assert "fixed W204: first" in result.stderr
    assert "not fixed W204: it overlaps another repair; run fix again" in result.stderr
    assert fixable.read_bytes() == FIXABLE.replace(b"App", b"app")
