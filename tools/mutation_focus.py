"""A pytest plugin for mutation runs: only the tests about the mutated modules, deterministic.

``[tool.mutmut]`` in pyproject.toml loads it (``-p tools.mutation_focus``) whenever mutmut runs
pytest; nothing else does.  It does two things:

- it narrows the collection to the test files about the core that tools/mutation.py mutates
  (origins, the decision core, the request plan, the header merge, scope, rules, the two
  adapters, the reporters), so that mutmut's one traced run of the suite, which maps each
  function to the tests that call it, stays short.  A file is in when it lives in
  ``tests/policy/`` or its name holds one of :data:`TOPICS` as whole words, wherever it lives, so
  the choice survives test files moving between room folders;
- it runs the quickest tests first, by the durations mutmut measured in its traced run
  (``mutmut-stats.json``): pytest stops at a mutant's first failing test (``-x``), so a mutant
  that a quick test kills never waits for the exhaustive tables;
- it makes Hypothesis deterministic (a fixed seed, no example database), so a mutant gets the
  same verdict on every run and a surviving mutant is not killed later by chance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

#: Test files whose name holds one of these (as whole ``_``-separated words) are about the
#: mutated modules.
TOPICS = (
    "behaviour", "answers", "origins", "scope", "plan", "merge", "fast_path",  # policy
    "middleware", "asgi", "adapters", "custom_headers", "auth_order",          # adapters
    "nested",             # adapters: a second layer steps aside (the only tests reaching it)
    "rules",                                                                   # config
    "fast_cors",          # config/fastcors.py: the one-pass reader against the long way
    # scope.py: contract E6 (scoped errors, the last good sections a reload keeps) and E3
    # (application boundaries), which the request tables above never reach
    "scoped", "applications",
    # rules.py reads <rewrite> for contract C2's recipe (a sub-directory's too: only these
    # tests put one below another level, where the lock checks must leave it alone)
    "recipe",
    "reporters",                                                               # cli
    "mutants",                                        # tests written from mutation runs
)
#: Folders whose every test file is about the mutated modules.
FOLDERS = frozenset({"policy"})
#: Suites that are never part of a mutation run: a real browser, a wheel build, fuzzing and load,
#: hosting (serving code, not the core).
NEVER = frozenset({"browser", "packaging", "hardening", "serving"})

#: Tests that start a real server in a new process but are not marked ``slow``: mutmut's
#: trampoline cannot run in that process (it fails to start), and the process would not see the
#: mutant anyway.  Deselected, as the slow tests are; what they add over the in-process tests of
#: the same file is the server, not the core.
SERVER_PROCESS_TESTS = (
    "tests/frameworks/test_asgi_frameworks.py::test_a_raising_endpoint_gives_a_500_with_cors_",
    "tests/frameworks/test_serve_nested.py::",  # iiscors serve --app, in its own process
    # Not a server, but over the 90 s test timeout under mutmut's tracing on a busy 2-core
    # machine, which fails the traced run; diff's exactness is not one of the mutated modules
    "tests/policy/test_access_exact.py::test_the_diff_is_exact",
)

#: mutmut's measurements, in its work directory (the current directory when it runs pytest)
STATS = Path("mutmut-stats.json")

PROFILE = "mutation"
settings.register_profile(PROFILE, derandomize=True, database=None, deadline=None,
                          print_blob=False)
settings.load_profile(PROFILE)


def in_focus(path: Path) -> bool:
    """Whether the test file at ``path`` is about the mutated modules."""
    if NEVER.intersection(path.parts):
        return False
    words = f"_{path.stem}_"
    return path.parent.name in FOLDERS or any(f"_{topic}_" in words for topic in TOPICS)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip the test files out of focus (None leaves the decision to pytest)."""
    if collection_path.is_dir():
        return True if collection_path.name in NEVER else None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return None if in_focus(collection_path) else True
    return None


def measured_durations(stats: Path = STATS) -> dict[str, float]:
    """Test id -> seconds, from mutmut's traced run; empty before that run has finished."""
    try:
        durations = json.loads(stats.read_text(encoding="utf-8"))["duration_by_test"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): float(v) for k, v in durations.items()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without :data:`SERVER_PROCESS_TESTS`; quickest first, where a test not measured yet (a
    new one) counts as quick.  The sort is stable, so tests of equal cost keep their written
    order."""
    server = [item for item in items if item.nodeid.startswith(SERVER_PROCESS_TESTS)]
    if server:
        config.hook.pytest_deselected(items=server)
        items[:] = [item for item in items if item not in server]
    durations = measured_durations()
    home = home_words(os.environ.get("MUTANT_UNDER_TEST", ""))
    if durations or home:
        # The mutated module's own test files first (the one-pass reader's differential test
        # kills most of fastcors.py's mutants, but is slower than the 800 quick tests that
        # reach the reader and would otherwise run before it), then quickest first.
        items.sort(key=lambda item: (not _is_home(item, home),
                                     durations.get(item.nodeid, 0.0)))


#: A module's own test files, where their names do not hold the module's name as written
HOME_ALIASES = {"fastcors": ("fast_cors",), "wsgi": ("middleware",)}


def home_words(mutant: str) -> tuple[str, ...]:
    """The words naming the test files of the module ``mutant`` (mutmut's name, such as
    ``iiscors.config.fastcors.x_read_plain_cors__mutmut_3``) is in; () for none."""
    dotted = mutant.partition(".x")[0]
    if not dotted.startswith("iiscors."):
        return ()
    module = dotted.rpartition(".")[2]
    return (module, *HOME_ALIASES.get(module, ()))


def _is_home(item: pytest.Item, words: tuple[str, ...]) -> bool:
    stem = f"_{item.path.stem}_"
    return any(f"_{word}_" in stem for word in words)
