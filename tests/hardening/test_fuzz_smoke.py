"""Short, bounded runs of the atheris fuzz targets (issue 7).

Each target runs in a subprocess with a fixed libFuzzer seed and a bounded number of inputs, so
the run is reproducible and takes a few seconds.  Long runs: see the docstrings of
``tools/fuzz_loader.py`` and ``tools/fuzz_request.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.mark.parametrize(
    ("script", "runs"),
    [("fuzz_loader.py", 2000), ("fuzz_request.py", 20000)],
    ids=["loader", "request"],
)
def test_fuzz_target_bounded_run(script: str, runs: int, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(TOOLS / script),
            "--runs",
            str(runs),
            "--seed",
            "1",
            "-timeout=5",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert f"Done {runs} " in proc.stderr or "Done" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
