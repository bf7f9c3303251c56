"""``python tools/loadtest.py --serve`` (issue 12): ``iiscors serve --root DIR`` and ``iiscors
serve CONFIG --proxy URL`` launched for real on 127.0.0.1 and loaded, errors counted, the serving
process's RSS compared after the warm-up and at the end.

The short run here (a few seconds, a few connections) checks that the tool works end to end; the
acceptance run is ``python tools/loadtest.py --serve`` (60 s at 64 connections for each).  The
checks the tool applies are tested on their own below, so that a tool that could not fail would
show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
LOADTEST = TOOLS / "loadtest.py"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from loadtesting.client import Stats  # noqa: E402
from loadtesting.mix import Planned, Response, check_planned  # noqa: E402
from loadtesting.serve_mix import SITE_FILES, proxy_plan, root_plan  # noqa: E402
from loadtesting.serve_run import ServeOptions, growth_pct, result_of  # noqa: E402

ROOT_KINDS = {"file-allowed", "preflight-allowed", "file-unlisted", "file-no-origin",
              "large-file-allowed", "missing-allowed", "preflight-unlisted",
              "image-malformed-origin"}
PROXY_KINDS = {"get-allowed", "preflight-allowed", "get-unlisted", "get-no-origin",
               "post-allowed", "preflight-unlisted", "backend-404-allowed",
               "get-malformed-origin"}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for RSS")
def test_serve_root_and_proxy_short_run(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(LOADTEST), "--serve", "--duration", "3", "--warmup", "1",
         "--connections", "4", "--json", str(out)],
        capture_output=True, text=True, timeout=110, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["ok"]
    by_target = {r["target"]: r for r in result["results"]}
    assert set(by_target) == {"root", "proxy"}
    for target, kinds in (("root", ROOT_KINDS), ("proxy", PROXY_KINDS)):
        run = by_target[target]
        assert run["errors"] == 0, run["error_samples"]
        assert run["requests"] > 50, run
        assert set(run["by_kind"]) == kinds
        assert run["rss_start_kib"] > 0 and run["rss_end_kib"] > 0
        assert run["rss_growth_pct"] < 5.0
        assert run["command"][1:4] == ["-m", "iiscors", "serve"]
        assert run["command"][-4:] == ["--host", "127.0.0.1", "--port", run["command"][-1]]
    assert "--root" in by_target["root"]["command"]
    assert "--proxy" in by_target["proxy"]["command"]


@pytest.mark.timeout(60)
def test_a_server_that_does_not_start_is_a_clear_error() -> None:
    """`iiscors serve` refusing its arguments: exit 2 and what it said, not a traceback."""
    proc = subprocess.run(
        [sys.executable, str(LOADTEST), "--serve", "root", "--duration", "1",
         "--serve-args", "--max-bytes 10"],
        capture_output=True, text=True, timeout=50, check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "loadtest: `" in proc.stderr and "exited with 1" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr.split("exited with 1")[0]


def _response(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> Response:
    return Response(status, headers, body, True)


def test_every_wrong_answer_is_an_error() -> None:
    origin = "https://u1.contoso.com"
    planned = Planned("file-allowed", b"", (200,), origin, b"body")
    good = [("access-control-allow-origin", origin), ("vary", "Origin")]
    assert check_planned(planned, _response(200, good, b"body")) is None
    assert check_planned(planned, _response(500, good, b"body")) is not None
    assert check_planned(planned, _response(200, [], b"body")) is not None
    assert check_planned(planned, _response(200, good, b"bod")) is not None
    refused = Planned("file-unlisted", b"", (403,), None)
    assert check_planned(refused, _response(403, [])) is None
    leaked = [("access-control-allow-origin", "https://u1.evil.example")]
    assert check_planned(refused, _response(403, leaked)) is not None


def test_the_mixes_send_a_new_origin_every_time_and_expect_the_files() -> None:
    for plan in (root_plan, proxy_plan):
        heads = [plan(n).head for n in range(64)]
        origins = [line for head in heads for line in head.split(b"\r\n")
                   if line.startswith(b"Origin: ") and b"blocked" not in line]
        assert len(origins) == len(set(origins)) > 40
    assert root_plan(0).expect_body == SITE_FILES["index.html"]
    assert root_plan(4).expect_body == SITE_FILES["data/report.txt"]
    post = proxy_plan(4)
    assert post.request_body and post.expect_body == post.request_body
    assert f"Content-Length: {len(post.request_body)}".encode() in post.head


def test_errors_or_rss_growth_fail_the_run() -> None:
    options = ServeOptions(duration=1, connections=1, warmup=0, max_growth_pct=5.0)
    stats = Stats(latencies=[0.001] * 10)
    assert result_of("root", ["x"], options, stats, (100, 1000, 1049)).ok
    assert not result_of("root", ["x"], options, stats, (100, 1000, 1050)).ok
    assert growth_pct(1000, 1050) == pytest.approx(5.0)
    stats.error("file-allowed: status 500, expected (200,)")
    assert not result_of("root", ["x"], options, stats, (100, 1000, 1000)).ok
    assert not result_of("root", ["x"], options, Stats(), (100, 1000, 1000)).ok  # no request
