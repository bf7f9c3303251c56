"""Each shared constant of the package is written once (issue 11), read from the source.

- the HTTP token grammar (RFC 9110 tchar): ``iiscors.policy.headers.TOKEN``;
- the byte order marks a web.config may start with: ``iiscors.config.loader.BYTE_ORDER_MARKS``;
- how a place is written (``file:line:column``): ``iiscors.policy.model.format_location``.

Everyone else imports them.  ``PENDING`` lists the copies that remain in modules another helper
owns; the coordinator empties it at merge time (each entry names the one-line change).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "iiscors"

#: module -> the constants it still writes itself, pending its owner's one-line import change
PENDING: dict[str, set[str]] = {
    # _TOKEN = re.compile(...) -> from iiscors.policy.headers import TOKEN as _TOKEN
    "iiscors/serving/playground.py": {"token"},
    # the inline BOM tuple -> for bom, name in BYTE_ORDER_MARKS (from iiscors.config.loader)
    "iiscors/cli/discover.py": {"bom"},
}
HOMES = {"token": "iiscors/policy/headers.py", "bom": "iiscors/config/loader.py",
         "location": "iiscors/policy/model.py"}

#: an f-string piece that writes ``:<line>``, the start of a location
_LINE_AFTER_COLON = re.compile(r":\{[\w.]*\bline\}")


def constants_written(source: str) -> set[str]:
    """Which of the shared constants a module's source writes itself."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compile" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and "&'*+" in node.args[0].value):
            found.add("token")  # a character class of tchar
        elif isinstance(node, ast.Attribute) and node.attr.startswith("BOM_"):
            found.add("bom")
        elif isinstance(node, ast.JoinedStr) and _LINE_AFTER_COLON.search(ast.unparse(node)):
            found.add("location")
    return found


def test_the_reader_finds_each_kind() -> None:
    source = ('import re, codecs\nT = re.compile(r"[!#$%&\'*+.^`|~\\w]+")\n'
              'B = (codecs.BOM_UTF8, "utf-8")\ndef w(d): return f"{d.file}:{d.line}"\n')
    assert constants_written(source) == {"token", "bom", "location"}
    assert constants_written('x = "letters, digits and !#$%&\'*+-.^_`|~"\n') == set()


def test_each_constant_is_written_once() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE.parent).as_posix()
        for kind in constants_written(path.read_text(encoding="utf-8")):
            if module == HOMES[kind] or kind in PENDING.get(module, set()):
                continue
            raise AssertionError(f"{module} writes the {kind} constant again: import it from "
                                 f"{HOMES[kind]}")


def test_the_homes_and_pending_copies_are_real() -> None:
    # the reader still sees each home, and a pending copy that is gone must leave the list
    for kind, home in HOMES.items():
        assert kind in constants_written((PACKAGE.parent / home).read_text(encoding="utf-8"))
    for module, kinds in PENDING.items():
        assert kinds <= constants_written((PACKAGE.parent / module).read_text(encoding="utf-8"))
