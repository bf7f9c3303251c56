"""A short run of tools/gil_holds.py (issue 17: how long the reload thread's work runs while
another thread waits for the GIL): that it measures what it says, not how fast anything is.
No timing is asserted; the figures are the tool's own (docs/performance.md, "Hot reload under
load")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import gil_holds  # noqa: E402


def test_a_short_run_rebuilds_and_renders_both_phases(tmp_path: Path) -> None:
    # (2,000 rules: rebuilds long enough that the probe meets the reload thread at work)
    quiet, floor, busy = gil_holds.measure(2000, 0.2, 2, 0.001, tmp_path, lambda line: None)
    assert quiet.name == "nothing else" and busy.name == "during reload work"
    assert floor.name == "a Python thread busy"
    assert quiet.seconds > 0 and floor.seconds >= 0.2 and busy.seconds > 0
    assert floor.found and {gap.line for gap in floor.found} == {"plain Python"}
    assert any(gap.ran > 0 for gap in floor.found)  # the busy thread's clock, not the reload's
    # a threshold of a microsecond records gaps, and the reload thread ran in some of them
    assert busy.found and any(gap.ran > 0 for gap in busy.found)
    assert any(gap.line != "idle" for gap in busy.found)  # named by an iiscors line
    rows = gil_holds.render(2000, (quiet, floor, busy), 0.001)
    assert [row.split(" | ")[1] for row in rows] == ["nothing else", "a Python thread busy",
                                                     "during reload work"]


def test_only_the_reload_threads_own_holding_of_the_gil_is_held_against_it() -> None:
    gaps = gil_holds.Gaps("during reload work", 1.0, [
        gil_holds.Gap(400.0, 0.4, "config/loader.py:10"),  # the VM's pause: it barely ran
        gil_holds.Gap(30.0, 12.0, "idle"),  # the thread was waiting for its next check
        gil_holds.Gap(9.0, 8.5, "config/fastcors.py:148"),  # one long call of the rebuild
        # libxml2's parse without the GIL, while the probe waited 10 ms for a CPU: 2 ms held
        gil_holds.Gap(12.0, 11.0, "config/loader.py:242", 10.0),
        gil_holds.Gap(7.0, 6.5, "config/rules.py:591", 1.0),  # 6.0 ms held
    ])
    assert gaps.attributed(gil_holds.TARGET_MS) == [(8.5, "config/fastcors.py:148"),
                                                   (6.0, "config/rules.py:591")]
    assert gaps.longest() == 400.0 and gaps.longest_held() == 8.5
    assert gaps.over(5.0) == 5 and gaps.held_over(5.0) == 2


def test_the_probe_reads_its_own_time_in_the_run_queue() -> None:
    """Linux's schedstat: a clock that only goes forward (0 throughout elsewhere)."""
    with gil_holds.own_queue_clock() as queued:
        first = queued()
        sum(range(200_000))
        assert queued() >= first >= 0
    if Path("/proc/thread-self/schedstat").exists():
        with pytest.raises(OSError):  # its file is closed on leaving
            queued()
