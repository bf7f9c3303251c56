"""tools/mutation.py's bookkeeping (docs/mutation.md): which survivors count as explained, and
which mutants a rerun of the survivors runs again.  No mutmut run here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parent.parent / "tools" / "mutation.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mutation = load_tool()
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
