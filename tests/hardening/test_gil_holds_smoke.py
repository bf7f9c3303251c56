"""A short run of tools/gil_holds.py (issue 17: how long the reload thread's work runs while
another thread waits for the GIL): that it measures what it says, not how fast anything is.
No timing is asserted; the figures are the tool's own (docs/performance.md, "Hot reload under
load")."""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import gil_holds  # noqa: E402


def test_a_short_run_rebuilds_and_renders_both_phases(tmp_path: Path) -> None:
    quiet, busy = gil_holds.measure(300, 0.2, 2, 0.001, tmp_path, lambda line: None)
    assert quiet.name == "nothing else" and busy.name == "during reload work"
    assert quiet.seconds > 0 and busy.seconds > 0
    # a threshold of a microsecond records gaps, and the reload thread ran in some of them
    assert busy.found and any(held > 0 for _, held, _ in busy.found)
    assert any(line != "idle" for _, _, line in busy.found)  # named by an iiscors line
    rows = gil_holds.render(300, (quiet, busy), 0.001)
    assert [row.split(" | ")[1] for row in rows] == ["nothing else", "during reload work"]


def test_only_the_reload_threads_own_running_is_held_against_it() -> None:
    gaps = gil_holds.Gaps("during reload work", 1.0, [
        (400.0, 0.4, "config/loader.py:10"),  # the machine's pause: the thread barely ran
        (30.0, 12.0, "idle"),  # the thread was waiting for its next check
        (9.0, 8.5, "config/fastcors.py:148"),  # one long call of the rebuild
    ])
    assert gaps.attributed(gil_holds.TARGET_MS) == [(8.5, "config/fastcors.py:148")]
    assert gaps.longest() == 400.0 and gaps.longest_held() == 12.0
    assert gaps.over(5.0) == 3 and gaps.held_over(5.0) == 2
