"""Review findings on tools/reload_bench.py (the Editor and the main thread's wait for the
client's word).  Nothing is timed beyond a generous bound on a wait that must end."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import reload_bench  # noqa: E402


class _EndedClient:
    """A client whose thread has ended (an exception in a request, or every answer of the new
    version mixed): no version is ever counted in ``by_version`` again."""

    def __init__(self, ended: bool = True) -> None:
        self.new_version = threading.Event()
        self.finished = threading.Event()
        if ended:
            self.finished.set()


class _Editor:
    made_late = 0

    def write(self, tag: str) -> None:
        pass


def test_edit_until_ends_when_the_client_never_counts_the_new_version() -> None:
    """Before the change, the main thread waited for the middleware's policy to change; now it
    waits for the client's word with no bound: a client thread that died (or a version only
    ever answered mixed, which --check is meant to report) hangs the benchmark for ever
    instead of failing it."""
    phase = reload_bench.Phase("during rebuilds")
    outcome: list[object] = []

    def edit() -> None:
        try:
            reload_bench.edit_until(_EndedClient(), _Editor(), phase, 1, 0.0)  # type: ignore[arg-type]
            outcome.append("returned")
        except Exception as error:  # (recorded: the test says whether it returned)
            outcome.append(error)

    editing = threading.Thread(target=edit, daemon=True)
    editing.start()
    editing.join(10.0)
    hung = editing.is_alive()
    phase.by_version["v1"] = 1  # (let the thread end if it hung)
    editing.join(5.0)
    assert not hung, "edit_until still waiting 10 s after the client stopped counting"
    assert outcome == ["returned"] and phase.unserved == "v1"
    quiet = reload_bench.Phase("without edits", waits_ns=[1000])
    assert any("version v1 was never served" in problem
               for problem in reload_bench.judge(200, (quiet, phase)))


def test_edit_until_ends_when_a_version_is_not_served_in_time() -> None:
    """The client goes on, but never counts the new version (every answer of it mixed)."""
    phase = reload_bench.Phase("during rebuilds")
    reload_bench.edit_until(_EndedClient(ended=False), _Editor(), phase, 1, 0.0,  # type: ignore[arg-type]
                            version_timeout=0.2)
    assert phase.unserved == "v1" and phase.rebuilds == 0


def test_the_editor_s_pipes_are_closed(tmp_path: Path) -> None:
    from loadtesting.reload_run import version_config
    config = tmp_path / "web.config"
    reload_bench.write(config, version_config(20, "v0"))
    editor = reload_bench.Editor(config, 20, 2)
    editor.write("v1")
    editor.close()
    assert editor.process.stdout is not None
    closed = editor.process.stdout.closed
    editor.process.stdout.close()
    assert closed, "Editor.close() leaves the editor's stdout pipe open (a descriptor a run)"
