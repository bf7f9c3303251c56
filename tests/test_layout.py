"""The package's rooms and their arrows (README "Development"; ../shared/design/layout.md).

Read from the source with :mod:`ast`, so that a later change cannot quietly make an arrow point up:

- ``iiscors.policy`` is pure: it imports nothing of werkzeug, lxml or click, and nothing of any
  other room of the package;
- ``iiscors.config`` imports only itself and ``iiscors.policy`` (and lxml), never werkzeug, click,
  the adapters, the command line or serving;
- the adapters (``iiscors.wsgi``, ``iiscors.asgi``, ``iiscors.reload``, ``iiscors.layering``,
  ``iiscors.options``) and the framework entry points (``iiscors.django``, ``iiscors.flask``)
  never import the command line or serving; the one exception, written out below, is
  ``iiscors.flask``'s ``flask iiscors`` commands, which load the command line inside the
  function that runs them;
- ``iiscors.cli`` never imports serving statically (its ``serve`` and ``playground`` commands are
  loaded by name, lazily), and serving never imports the command line;
- no import cycle between modules.

The public names are pinned too: moving modules must not break a user's import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iiscors"
ADAPTERS = ("iiscors.wsgi", "iiscors.asgi", "iiscors.reload", "iiscors.layering",
            "iiscors.options", "iiscors.django", "iiscors.django.apps", "iiscors.django.checks",
            "iiscors.django.conf", "iiscors.django.middleware", "iiscors.flask")
#: The only imports of the command line an adapter may make: iiscors.flask's commands, inside
#: the function that runs them (so that importing iiscors.flask never loads the command line).
LAZY_CLI = {("iiscors.flask", "_run"): {"iiscors.cli.main"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, function-level imports included (absolute names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (write it absolute)"
            assert node.module is not None
            found.add(node.module)
            # ``from iiscors.policy import headers`` imports the module iiscors.policy.headers
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
    return found


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def internal(imported: set[str]) -> set[str]:
    return {m for m in imported if m == "iiscors" or m.startswith("iiscors.")}


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def test_the_graph_is_read() -> None:
    # the test itself works: it sees the rooms and the imports between them
    assert "iiscors.policy.core" in GRAPH and "iiscors.config.load" in GRAPH
    assert "iiscors.policy.core" in GRAPH["iiscors.config.load"]
    assert "lxml" in GRAPH["iiscors.config.loader"]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if in_room(m, "iiscors.policy")))
def test_policy_is_pure(module: str) -> None:
    imported = GRAPH[module]
    for third_party in ("lxml", "werkzeug", "click"):
        assert not any(in_room(m, third_party) for m in imported), (module, third_party)
    outside = {m for m in internal(imported) if not in_room(m, "iiscors.policy")}
    assert not outside, f"{module} imports {outside}: the policy room imports no other room"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if in_room(m, "iiscors.config")))
def test_config_points_down_only(module: str) -> None:
    imported = GRAPH[module]
    for third_party in ("werkzeug", "click"):
        assert not any(in_room(m, third_party) for m in imported), (module, third_party)
    outside = {m for m in internal(imported)
               if not (in_room(m, "iiscors.config") or in_room(m, "iiscors.policy"))}
    assert not outside, f"{module} imports {outside}"


def module_path(module: str) -> Path:
    path = PACKAGE.parent / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def tool_imports(module: str) -> list[tuple[str | None, str]]:
    """Every import of the command line or serving in ``module``: (the function it is in, or
    None at module level; the module imported)."""
    found: list[tuple[str | None, str]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.extend((function, n) for n in names
                     if in_room(n, "iiscors.cli") or in_room(n, "iiscors.serving"))
        inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else function
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(module_path(module).read_text(encoding="utf-8")), None)
    return found


def test_the_adapter_list_is_complete() -> None:
    top = {m for m in GRAPH if m.count(".") == 1 and not in_room(m, "iiscors.cli")
           and not in_room(m, "iiscors.serving") and not in_room(m, "iiscors.config")
           and not in_room(m, "iiscors.policy") and m != "iiscors.__main__"}
    framework = {m for m in GRAPH if in_room(m, "iiscors.django")}
    assert top | framework == set(ADAPTERS)


@pytest.mark.parametrize("module", ADAPTERS)
def test_adapters_never_import_the_tools(module: str) -> None:
    assert "iiscors" not in GRAPH[module], f"{module} imports the package's top"
    allowed = {(function, name) for (owner, function), names in LAZY_CLI.items()
               if owner == module for name in names}
    assert set(tool_imports(module)) == allowed, f"{module} imports {tool_imports(module)}"


def test_importing_the_framework_modules_loads_no_tool() -> None:
    code = ("import sys, iiscors.flask, iiscors.options, iiscors.layering; "
            "print(sorted(m for m in sys.modules if m.startswith(('iiscors.cli', "
            "'iiscors.serving'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_and_serving_do_not_import_each_other() -> None:
    for module, imported in GRAPH.items():
        if in_room(module, "iiscors.cli"):
            assert not any(in_room(m, "iiscors.serving") for m in imported), module
        if in_room(module, "iiscors.serving"):
            assert not any(in_room(m, "iiscors.cli") for m in imported), module


def test_no_import_cycles() -> None:
    # a module's own package __init__ is not an edge: Python runs it first anyway
    edges = {m: {i for i in internal(imported) if i in GRAPH and not m.startswith(i + ".")}
             for m, imported in GRAPH.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])


PUBLIC = {"Config", "ConfigError", "CorsMiddleware", "CorsRequest", "DEFAULT_MAX_BYTES", "Decision",
          "Diagnostic", "Outcome", "RequestKind", "Severity", "check_config", "load_config"}


def test_public_names_do_not_move() -> None:
    import iiscors
    from iiscors import (  # noqa: F401  (the import is the test)
        ConfigError,
        CorsMiddleware,
        CorsRequest,
        Decision,
        Diagnostic,
        Severity,
        check_config,
        load_config,
    )
    from iiscors.asgi import CorsMiddleware as AsgiMiddleware
    from iiscors.wsgi import CorsMiddleware as WsgiMiddleware

    assert set(iiscors.__all__) == PUBLIC
    assert CorsMiddleware is WsgiMiddleware and AsgiMiddleware is not WsgiMiddleware
    # nothing else is exported by accident: no submodule or helper leaks into the namespace
    exported = {n for n in vars(iiscors) if not n.startswith("_")}
    rooms = {"asgi", "cli", "config", "django", "flask", "layering", "options", "policy",
             "reload", "serving", "wsgi", "annotations"}  # submodules, once imported
    assert exported - rooms == PUBLIC


@pytest.mark.parametrize("argv", [[sys.executable, "-m", "iiscors", "--help"],
                                  [str(Path(sys.executable).parent / "iiscors"), "--help"]],
                         ids=["python -m iiscors", "console script"])
def test_entry_points_run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for command in ("validate", "explain", "serve", "playground"):
        assert command in result.stdout
