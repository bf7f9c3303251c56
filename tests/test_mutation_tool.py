"""tools/mutation.py's bookkeeping (docs/mutation.md): which survivors count as explained, and
which mutants a rerun of the survivors runs again.  No mutmut run here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parent.parent / "tools" / "mutation.py"


def load_tool(path: Path = TOOL, name: str = "mutation_tool") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mutation = load_tool()
focus = load_tool(TOOL.with_name("mutation_focus.py"), "mutation_focus_plugin")
WSGI = mutation.Module("wsgi", "iiscors/wsgi.py", "iiscors.wsgi")
A, B, C = (f"iiscors.wsgi.x_text_path__mutmut_{n}" for n in (1, 2, 3))


def test_only_the_survivors_section_explains_a_mutant(tmp_path: Path) -> None:
    doc = tmp_path / "mutation.md"
    doc.write_text(f"# Mutation testing\n\nSee `{A}` above.\n\n## Survivors explained\n\n"
                   f"- `{B}` (equivalent: codec names ignore case) and `{C}`.\n")
    assert mutation.explained(doc) == {B, C}
    assert mutation.explained(tmp_path / "missing.md") == frozenset()


def test_a_rerun_of_the_survivors_skips_the_explained_ones() -> None:
    found = {A: "survived", B: "survived", C: "killed",
             "iiscors.wsgi.x_text_path__mutmut_4": "no tests",
             "iiscors.asgi.x_f__mutmut_1": "survived"}
    assert mutation.pending(WSGI, found, "survivors", frozenset({B})) == [
        A, "iiscors.wsgi.x_text_path__mutmut_4"]
    assert mutation.pending(WSGI, found, "new") == []
    assert mutation.pending(WSGI, found, "all") == ["iiscors.wsgi.*"]


def test_a_mutants_own_module_tests_are_named_by_the_module_and_its_aliases() -> None:
    """tools/mutation_focus.py runs the mutated module's own test files first."""
    assert focus.home_words("iiscors.config.fastcors.x__rules_each__mutmut_25") == (
        "fastcors", "fast_cors")
    assert focus.home_words("iiscors.asgi.xǁCorsMiddlewareǁ__call____mutmut_2") == ("asgi",)
    assert focus.home_words("iiscors.wsgi.x_text_path__mutmut_1") == ("wsgi", "middleware")
    assert focus.home_words("") == ()
    assert focus.home_words("other.module.x_f__mutmut_1") == ()
