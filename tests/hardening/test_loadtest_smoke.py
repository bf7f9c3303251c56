"""A shortened run of ``tools/loadtest.py`` (issue 7): gunicorn on 127.0.0.1 behind iiscors,
mixed CORS requests with unique origins; zero errors and worker RSS growth under 5 MB.

The full run (60 s, 64 connections) is ``python tools/loadtest.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gunicorn", reason="gunicorn is not installed")

LOADTEST = Path(__file__).resolve().parents[2] / "tools" / "loadtest.py"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for RSS")
def test_loadtest_short_run(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(LOADTEST),
            "--duration",
            "4",
            "--warmup",
            "1",
            "--connections",
            "16",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] > 500, result
    assert result["max_rss_growth_kib"] < 5 * 1024, result
    assert set(result["by_kind"]) == {
        "actual-allowed",
        "preflight-allowed",
        "actual-unlisted",
        "preflight-unlisted",
        "no-origin",
        "denied-exact",
        "malformed",
    }
