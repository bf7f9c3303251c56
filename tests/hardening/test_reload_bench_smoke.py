"""A short run of tools/reload_bench.py (issue 17's in-process reload latency benchmark): that it
measures what it says, not how fast anything is.  No timing is asserted here; the figures and
the 5 ms verdict are the benchmark's own (docs/performance.md, "Hot reload under load")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import reload_bench  # noqa: E402


def test_a_short_run_counts_each_version_and_never_a_mixed_answer(tmp_path: Path) -> None:
    quiet, busy = reload_bench.measure(200, 0.3, 2, tmp_path, lambda line: None)
    assert quiet.waits_ns and busy.waits_ns
    assert quiet.rebuilds == 0 and busy.rebuilds >= 2
    assert set(quiet.by_version) == {"v0"}
    assert {"v0", "v1"} <= set(busy.by_version)  # the rebuilds were served
    assert sum(busy.by_version.values()) == len(busy.waits_ns)  # each request checked
    assert quiet.mixed == busy.mixed == 0
    rows = reload_bench.render(200, (quiet, busy))
    assert [row.split(" | ")[1] for row in rows] == ["without edits", "during rebuilds"]


def test_a_mixed_answer_is_counted_and_fails_the_check() -> None:
    phase = reload_bench.Phase("during rebuilds")
    reload_bench.Client.record(phase, [("X-Version", "v1"),
                                       ("Access-Control-Expose-Headers", "X-v2")])
    reload_bench.Client.record(phase, [("X-Version", "v1"),
                                       ("Access-Control-Expose-Headers", "X-v1")])
    assert phase.mixed == 1 and phase.by_version == {"v1": 1}
    quiet = reload_bench.Phase("without edits", waits_ns=[1000])
    phase.waits_ns, phase.rebuilds, phase.by_version["v0"] = [2000], 1, 1
    assert reload_bench.judge(200, (quiet, phase)) == ["200 rules: 1 mixed answers"]
    phase.waits_ns = [7_000_000]  # 7 ms
    assert "waited 7.0 ms more" in reload_bench.judge(200, (quiet, phase))[0]


def test_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert reload_bench.main(["--rules", "200", "--seconds", "0.2", "--rebuilds", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 200 | without edits |" in out and "| 200 | during rebuilds |" in out
    assert "served by version, 200 rules, during rebuilds: {'v0':" in out
    with pytest.raises(SystemExit):
        reload_bench.main(["--rules", "0"])


def test_the_cost_of_a_check_of_a_site_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert reload_bench.main(["--site-dirs", "50"]) == 0
    out = capsys.readouterr().out
    # 50 directories, their 1 parent, the root, and 1 + 5 web.config files
    assert "a check of a site tree of 50 directories (58 watched paths): " in out


def test_attribute_names_what_overlapped_the_worst_waits(tmp_path: Path) -> None:
    _, busy = reload_bench.measure(200, 0.3, 2, tmp_path, lambda line: None, attribute=True)
    assert len(busy.starts_ns) == len(busy.waits_ns)
    kinds = {what for _, _, what in busy.events}
    assert {"rebuild (source.build: the loader)", "compile", "release step"} <= kinds
    lines = reload_bench.attribution(busy)
    assert len(lines) == reload_bench.WORST_NAMED
    assert all(line.startswith("  during rebuilds: ") and "reload thread then at" in line
               for line in lines)
    # the instrumentation is gone afterwards
    assert reload_bench.reload_module.release_steps.__module__ == "iiscors.reload"
