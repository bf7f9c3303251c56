"""Smoke test of tools/bench.py: it runs, and every candidate's CORS answer is verified.

Timings are deliberately not asserted: CI machines are noisy, and the targets are judged by
``python tools/bench.py --check`` on a quiet machine (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "tools" / "bench.py"
HTTP_BENCH = BENCH.with_name("http_bench.py")
FIRST_SIGHT = {"allowed GET (first sight)", "allowed preflight (first sight)"}


@pytest.mark.timeout(300)
def test_bench_quick_json_verifies_every_candidate() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--json",
            "-",
            "--sizes",
            "1,20",
            "--wildcards",
            "10",
            "--no-load",
            "--rounds",
            "2",
            "--sample-time",
            "0.001",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    cells = result["cells"]
    problems = [
        f"{c['scenario']}/{c['request']}/{c['candidate']}: {c['problems']}"
        for c in cells
        if not c["verified"]
    ]
    assert not problems, problems
    assert result["all_verified"]
    # Every scenario ran every request kind against iiscors, and every verified cell was timed.
    scenarios = {c["scenario"] for c in cells}
    assert scenarios == {"exact-1", "exact-20", "wildcard-10", "mixed-sample"}
    for scenario in scenarios:
        for candidate in ("raw+iiscors", "werkzeug+iiscors"):
            kinds = {
                c["request"]
                for c in cells
                if c["scenario"] == scenario and c["candidate"] == candidate
            }
            assert len(kinds - FIRST_SIGHT) == 5, (scenario, candidate, kinds)
    # The first-sight cells (a new origin on every call) need more distinct allowed origins
    # than a scope keeps answers for: the wildcard and mixed configurations have them.
    for scenario in ("wildcard-10", "mixed-sample"):
        kinds = {c["request"] for c in cells
                 if c["scenario"] == scenario and c["candidate"] == "raw+iiscors"}
        assert kinds >= FIRST_SIGHT, (scenario, kinds)
    assert all(c["samples_us"] and c["median_us"] > 0 for c in cells)
    # The flatness experiment: every configuration against exact-1 in the same rounds.
    flats = {(f["scenario"], f["request"]) for f in result["flatness"]}
    assert flats == {(s, r) for s in scenarios for r in ("allowed GET", "allowed preflight")}
    assert result["startup"]["exit_code"] == 0, result["startup"]["output"]


@pytest.mark.timeout(120)
def test_http_bench_quick_serves_both_servers_without_errors() -> None:
    """tools/http_bench.py starts two real gunicorn servers on 127.0.0.1, checks their CORS
    answers, loads them in turns and reports the ratio (timings not asserted)."""
    proc = subprocess.run(
        [sys.executable, str(HTTP_BENCH), "--quick", "--rounds", "2", "--duration", "1",
         "--origins", "100", "--json", "-"],
        capture_output=True, text=True, timeout=110, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)["summary"]
    for mode in ("bare", "iiscors"):
        assert summary[mode]["errors"] == 0
        assert summary[mode]["requests"] > 0
    assert len(summary["round_ratios"]) == 2
    assert summary["throughput_ratio"] > 0 and summary["round_ratio_median"] > 0
