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
            "1,2100,2200",
            "--wildcards",
            "20",
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
    assert scenarios == {"exact-1", "exact-2100", "exact-2200", "wildcard-20", "mixed-sample"}
    for scenario in scenarios:
        for candidate in ("raw+iiscors", "werkzeug+iiscors"):
            kinds = {
                c["request"]
                for c in cells
                if c["scenario"] == scenario and c["candidate"] == candidate
            }
            assert len(kinds - FIRST_SIGHT) == 5, (scenario, candidate, kinds)
    # The first-sight cells (a new origin on every call) need more distinct allowed origins
    # than the answer tables keep (2,049): every configuration here but exact-1 has them.
    for scenario in scenarios - {"exact-1"}:
        kinds = {c["request"] for c in cells
                 if c["scenario"] == scenario and c["candidate"] == "raw+iiscors"}
        assert kinds >= FIRST_SIGHT, (scenario, kinds)
    assert all(c["samples_us"] and c["median_us"] > 0 for c in cells)
    # The flatness experiments: every configuration against exact-1 in the same rounds, and
    # the first-sight path of the larger configurations against the smaller ones.
    flats = {(f["scenario"], f["request"], f["reference"]) for f in result["flatness"]}
    warm = {(s, r, "exact-1") for s in scenarios for r in ("allowed GET", "allowed preflight")}
    cold = {(s, f"{r} (first sight)", ref) for s, ref in (
        ("exact-2100", "exact-2100"), ("exact-2200", "exact-2100"),
        ("wildcard-10", "wildcard-10"), ("wildcard-20", "wildcard-10"))
        for r in ("allowed GET", "allowed preflight")}
    assert flats == warm | cold
    cold_targets = [t for t in result["targets"] if "first sight" in t["target"]]
    assert len(cold_targets) == 4, cold_targets
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
